/**
 * The running pipeline for one project: a topic, a table and a table writer per model,
 * plus the dead-letter store. `apply` moves it to a new set of models (at start and on
 * every hot reload), touching only what changed; ingest keeps reading `target()` and
 * never sees a half-applied state. Appends held while a table is altered are in
 * pipeline/appendGates.ts; the writers' check of what a topic holds in pipeline/rowCheck.ts.
 */
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { IglooError } from "../../conventions/errors.ts";
import { compileValidator } from "../../conventions/datamodels/validator.ts";
import { DEAD_LETTER_MODEL, DEAD_LETTER_TOPIC } from "../deadLetters/deadLetters.ts";
import { forgetOldIds, RECORD_IDS_MODEL } from "../ingest/recordIds.ts";
import { rowShape, type IngestTarget } from "../ingest/ingest.ts";
import { RepeatReporter, type Logger } from "../observability/logger.ts";
import type { IglooMetrics } from "../observability/metrics.ts";
import { AppendGates } from "./appendGates.ts";
import { rowCheck } from "./rowCheck.ts";
import { prepareTypeChanges } from "../plan/convertible.ts";
import { liveColumns, planModels, type Change } from "../plan/plan.ts";
import { readTableOptions, refuseUnsupportedOptions } from "../plan/tableOptions.ts";
import { quoteIdent, storableModel } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { Stream } from "../stream/stream.ts";
import { waitForWriters } from "../writer/progress.ts";
import { EarlierShapes } from "../writer/earlierShapes.ts";
import { TableWriter, writerGroup, type TableWriterOptions } from "../writer/tableWriter.ts";

export { SchemaChangeWaitError } from "./appendGates.ts";

export interface PipelineOptions {
  readonly stream: Stream;
  readonly store: Store;
  readonly logger: Logger;
  /** Apply changes that drop or rewrite data without holding them. */
  readonly allowDestructive?: boolean;
  /**
   * `false` in production: the schema is `igloo migrate`'s job, and a process that finds
   * the live tables different from its models refuses to run rather than alter them.
   */
  readonly migrate?: boolean;
  /** Run the table writers here (dev, and production workers); ingest-only processes do not. */
  readonly writers?: boolean;
  readonly writer?: Pick<TableWriterOptions, "maxBatchRecords" | "maxWaitMs">;
  /** What `@default(now())` fills in at ingest, in epoch milliseconds; default the real time (tests set their own). */
  readonly clock?: () => number;
  readonly metrics?: Pick<IglooMetrics, "writerBatchRows" | "writerBatchSeconds" | "writerRows">;
  /** Igloo's own models (telemetry's `igloo_events`), run with the project's on every apply. */
  readonly builtinModels?: readonly ModelIR[];
}

export interface ApplyReport {
  readonly applied: readonly Change[];
  /**
   * Changes waiting for an explicit go-ahead: the destructive ones, and with them every
   * other change of the same table. Until then the table's model keeps its last applied
   * version, for ingest too: a held change never changes what is accepted.
   */
  readonly held: readonly Change[];
}

export interface ApplyOptions {
  readonly allowDestructive?: boolean;
  /**
   * Runs after the tables in `altered` changed columns and before their writers resume:
   * views that read them are rebuilt here, so no row reaches a view built for the old
   * column types (their inserts would fail, or be counted twice once the view is rebuilt).
   */
  readonly whileAltered?: (altered: readonly string[]) => Promise<void>;
}

interface Running {
  readonly model: ModelIR;
  readonly target: IngestTarget;
  readonly writer: TableWriter;
  /** Serialised model, to tell whether a reload changed it. */
  readonly signature: string;
}

export class Pipeline {
  readonly #options: PipelineOptions;
  #running = new Map<string, Running>();
  /** The models last asked for, held changes included: what `applyHeld` applies. */
  #requested: readonly ModelIR[] = [];
  /** Models with no applied version yet whose table waits for a held change. */
  #waiting = new Map<string, ModelIR>();
  #forgetting: ReturnType<typeof setInterval> | undefined;
  #applying: Promise<unknown> = Promise.resolve();
  /**
   * Closed for models whose table is being altered: new appends to their topics wait (see
   * `use`) until the records already in the log were written under the old column types.
   */
  readonly #gates = new AppendGates();
  /** Pauses per table: a writer runs again when the last pause ends. */
  readonly #pauses = new Map<string, number>();
  #deadLetterWriter: TableWriter | undefined;
  /** A writer retrying against a full disk says so once, then how often, every 10 s. */
  readonly #writerErrors: RepeatReporter;

  constructor(options: PipelineOptions) {
    this.#options = options;
    this.#writerErrors = new RepeatReporter((message) => options.logger.error(message));
  }

  target(modelName: string): IngestTarget | undefined {
    return this.#running.get(modelName)?.target;
  }

  /**
   * Runs `work` (check records and append them to the model's topic) with the model's
   * current target. While the model's table is being altered it waits, at most
   * `waitMs`, then throws SchemaChangeWaitError; `undefined` for an unknown model.
   */
  async use<T>(modelName: string, work: (target: IngestTarget) => Promise<T>, waitMs = 10_000): Promise<T | undefined> {
    await this.#gates.pass(modelName, waitMs);
    // Looked up past the gate: an apply that held it has put the new target in place.
    const target = this.target(modelName);
    if (!target) return undefined;
    return await this.#gates.track(modelName, () => work(target));
  }

  /**
   * Before the columns of `tables` change: hold new appends to their models' topics, let
   * those in progress finish, and wait until the writers wrote everything in the log, so
   * every acknowledged record is in the table under the types it was checked against, and
   * the ALTER converts it like every other row. Returns the function that opens the gates.
   */
  async #holdAndDrain(tables: readonly string[]): Promise<() => void> {
    const models = [...this.#running.values()].filter((r) => tables.includes(r.model.table) && !r.model.streamOnly);
    const release = await this.#gates.hold(models.map(({ model }) => model.name));
    try {
      if (this.#options.writers !== false) {
        const { stream, logger } = this.#options;
        const goals = await Promise.all(models.map(async ({ target }) => ({ topic: target.topic, ends: await stream.endOffsets(target.topic) })));
        if (!(await waitForWriters(stream, goals, 60_000, 20))) {
          logger.warn(`the writers of ${tables.join(", ")} did not catch up within 60 s; records still in the log are written under the new column types`);
        }
      }
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /** The running models, Igloo's own (`builtinModels`) included. */
  models(): ModelIR[] {
    return [...this.#running.values()].map((r) => r.model);
  }

  /** The running models of the project, without Igloo's own. */
  projectModels(): ModelIR[] {
    const builtin = new Set((this.#options.builtinModels ?? []).map((m) => m.name));
    return this.models().filter((m) => !builtin.has(m.name));
  }

  /** The models last given to `apply` (without Igloo's own), including those whose changes are held. */
  requestedModels(): readonly ModelIR[] {
    return this.#requested;
  }

  /** Whether the model exists but waits for a held change to its table before it takes records. */
  isWaiting(modelName: string): boolean {
    return this.#waiting.has(modelName);
  }

  /**
   * Waits until every record appended so far is in its table, or `timeoutMs` passes.
   * Returns whether everything was written.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const { stream } = this.#options;
    const written = [...this.#running.values()].filter((r) => !r.model.streamOnly);
    const topics = [DEAD_LETTER_TOPIC, ...written.map((r) => r.target.topic)];
    const goals = await Promise.all(topics.map(async (topic) => ({ topic, ends: await stream.endOffsets(topic) })));
    return await waitForWriters(stream, goals, timeoutMs, 25);
  }

  /** Records in the log that their tables do not hold yet, per table (only tables with any). */
  async backlog(): Promise<{ table: string; records: number }[]> {
    const { stream } = this.#options;
    const written = [...this.#running.values()].filter((r) => !r.model.streamOnly);
    const tables = [{ table: DEAD_LETTER_MODEL.table, topic: DEAD_LETTER_TOPIC }, ...written.map((r) => ({ table: r.model.table, topic: r.target.topic }))];
    const counted = await Promise.all(
      tables.map(async ({ table, topic }) => {
        const [ends, committed] = await Promise.all([stream.endOffsets(topic), stream.committed(topic, writerGroup(topic))]);
        let records = 0;
        for (const [partition, end] of ends) records += Math.max(0, end - (committed.get(partition)?.offset ?? 0));
        return { table, records };
      }),
    );
    return counted.filter((c) => c.records > 0);
  }

  /** `validate` is the model's ingest check, given when the writer must check records itself. */
  #writer(model: ModelIR, topic: string, validate?: IngestTarget["validate"]): TableWriter {
    const { stream, store, logger } = this.#options;
    return new TableWriter(stream, store, {
      topic,
      table: model.table,
      source: model.name,
      idColumns: model.id.map((name) => model.fields.find((f) => f.name === name)?.column ?? name),
      ...(stream.external && validate ? { validate, earlier: new EarlierShapes(store, model.table) } : {}),
      recordIds: model !== DEAD_LETTER_MODEL,
      ...this.#options.writer,
      onError: (error) => this.#writerErrors.add(model.table, error instanceof IglooError ? error.message : `table writer for ${model.table}: ${error instanceof Error ? error.message : String(error)}; retrying`),
      onBatch: ({ rows, ms }) => {
        const metrics = this.#options.metrics;
        metrics?.writerBatchRows.observe({ table: model.table }, rows);
        metrics?.writerBatchSeconds.observe({ table: model.table }, ms / 1000);
        metrics?.writerRows.inc({ table: model.table }, rows);
      },
    });
  }

  /**
   * One apply at a time: a reload and a `y` typed meanwhile would otherwise plan against
   * the same live columns and alter the table twice.
   */
  apply(models: readonly ModelIR[], options: ApplyOptions = {}): Promise<ApplyReport> {
    const builtin = (this.#options.builtinModels ?? []).filter((b) => !models.some((m) => m.name === b.name));
    const run = this.#applying.then(() => {
      // What the caller asked for: applying them again (a held change confirmed) adds Igloo's own again.
      this.#requested = models;
      return this.#apply([...models, ...builtin], options);
    });
    this.#applying = run.catch(() => undefined);
    return run;
  }

  async #apply(models: readonly ModelIR[], options: ApplyOptions): Promise<ApplyReport> {
    const { stream, store } = this.#options;
    const allowDestructive = options.allowDestructive ?? this.#options.allowDestructive ?? false;
    const all = [DEAD_LETTER_MODEL, RECORD_IDS_MODEL, ...models.filter((m) => !m.streamOnly)];
    // Table options are checked and compared only where the pipeline migrates (dev): a
    // process that migrates nothing makes no trial tables and leaves options to migrate.
    if (this.#options.migrate !== false) refuseUnsupportedOptions(all, store.capabilities);
    const tableOptions = this.#options.migrate === false ? undefined : await readTableOptions(store, all);
    const planned = planModels(all, await liveColumns(store, all.map((m) => m.table)), store.capabilities, tableOptions);
    // A process that migrates nothing leaves alone the columns its build does not have: a
    // field a newer version added (this one may be a rollback) or one a deploy drops once
    // every process stopped taking it. Rows it writes leave them to their DEFAULT.
    const plan = this.#options.migrate === false ? { changes: planned.changes.filter((c) => c.kind !== "drop_column") } : planned;
    if (this.#options.migrate === false && plan.changes.length > 0) {
      throw new IglooError("E_SCHEMA_DRIFT", `the live tables differ from this build: ${plan.changes.map((c) => c.summary).join("; ")}.`, {
        hint: "Run `igloo plan` to review and `igloo migrate` to apply, then start again.",
      });
    }
    const heldTables = new Set(allowDestructive ? [] : plan.changes.filter((c) => c.destructive).map((c) => c.table));
    // Tables whose columns change: what the log holds for them is written first, under the
    // old types; then their writers wait until the views reading them are rebuilt.
    const altered = [...new Set(plan.changes.filter((c) => c.kind !== "create_table" && c.kind !== "table_option" && !heldTables.has(c.table)).map((c) => c.table))];
    const openGates = altered.length > 0 ? await this.#holdAndDrain(altered) : () => {};
    try {
      return await this.#applyPlan(models, plan.changes, heldTables, altered, options);
    } finally {
      // Appends go on with the new targets.
      openGates();
    }
  }

  async #applyPlan(models: readonly ModelIR[], changes: readonly Change[], heldTables: ReadonlySet<string>, altered: readonly string[], options: ApplyOptions): Promise<ApplyReport> {
    const { stream, store } = this.#options;
    const applied: Change[] = [];
    const held = changes.filter((c) => heldTables.has(c.table));
    // A type change some stored value cannot take is refused before anything changes.
    const ready = await prepareTypeChanges(store, changes.filter((c) => !heldTables.has(c.table)));
    const resumes = await Promise.all(altered.map((table) => this.pauseWriter(table)));
    try {
      for (const change of ready) {
        await store.exec(change.sql);
        applied.push(change);
      }
      if (altered.length > 0) await options.whileAltered?.(altered);
    } finally {
      for (const resume of resumes) await resume();
    }

    const writers = this.#options.writers !== false;
    if (writers && this.#forgetting === undefined) {
      // Ingest ids are kept RECORD_ID_DAYS: checked now and every hour.
      const forget = () => void forgetOldIds(store).catch((error: unknown) => this.#options.logger.warn(`could not drop old ingest ids: ${error instanceof Error ? error.message : String(error)}`));
      forget();
      this.#forgetting = setInterval(forget, 3_600_000);
      this.#forgetting.unref?.();
    }
    if (writers && !this.#deadLetterWriter) {
      await stream.ensureTopic(DEAD_LETTER_TOPIC);
      this.#deadLetterWriter = this.#writer(DEAD_LETTER_MODEL, DEAD_LETTER_TOPIC);
      await this.#deadLetterWriter.start();
    }

    const next = new Map<string, Running>();
    this.#waiting = new Map();
    for (const model of models) {
      const signature = JSON.stringify(model);
      const current = this.#running.get(model.name);
      if (heldTables.has(model.table)) {
        if (current) next.set(model.name, current);
        else this.#waiting.set(model.name, model);
        continue;
      }
      if (current && current.signature === signature) {
        next.set(model.name, current);
        continue;
      }
      const topic = model.name;
      await stream.ensureTopic(topic);
      const storable = storableModel(model, store.capabilities);
      const target: IngestTarget = { model, topic, validate: compileValidator(storable, this.#options.clock ? { clock: this.#options.clock } : {}), ...rowShape(model) };
      // The writer only moves bytes into a table, so a changed model keeps its writer
      // unless the model now maps to another table.
      const keep = current !== undefined && current.model.table === model.table && current.model.streamOnly === model.streamOnly;
      if (current && !keep) await current.writer.stop();
      const check = rowCheck(target, storable);
      // A kept writer checks records against the new model from its next batch on (with
      // Kafka, where the writer checks what it reads): the fields a deploy added reach the table.
      if (keep && stream.external) current.writer.useCheck(check);
      const writer = keep ? current.writer : this.#writer(model, topic, check);
      if (!keep && writers && !model.streamOnly && !this.#pauses.has(model.table)) await writer.start();
      next.set(model.name, { model, target, writer, signature });
    }
    for (const [name, running] of this.#running) {
      if (!next.has(name)) await running.writer.stop();
    }
    this.#running = next;
    return { applied, held };
  }

  async rowCount(table: string): Promise<number> {
    const { rows } = await this.#options.store.query<{ c: string }>(`SELECT count() AS c FROM ${quoteIdent(table)}`);
    return Number(rows[0]?.c ?? 0);
  }

  /**
   * Stops the writer of `table` after the batch in hand and returns a function that starts
   * it again. Ingest keeps going (records wait in the log), so the table holds still while,
   * for example, a view is backfilled from it.
   */
  async pauseWriter(table: string): Promise<() => Promise<void>> {
    if (this.#options.writers === false) return async () => {};
    const running = [...this.#running.values()].find((r) => r.model.table === table);
    // A table with no writer yet is paused too: an apply starts no writer for a paused table.
    const pauses = this.#pauses.get(table) ?? 0;
    this.#pauses.set(table, pauses + 1);
    if (pauses === 0 && running && !running.model.streamOnly) await running.writer.stop();
    let resumed = false;
    return async () => {
      if (resumed) return;
      resumed = true;
      const left = (this.#pauses.get(table) ?? 1) - 1;
      if (left > 0) {
        this.#pauses.set(table, left);
        return;
      }
      this.#pauses.delete(table);
      // A reload may have replaced the writer while it was paused: start the current one.
      const current = [...this.#running.values()].find((r) => r.model.table === table);
      if (current && !current.model.streamOnly) await current.writer.start();
    };
  }

  async close(): Promise<void> {
    for (const running of this.#running.values()) await running.writer.stop();
    this.#running.clear();
    await this.#deadLetterWriter?.stop();
    this.#deadLetterWriter = undefined;
    this.#writerErrors.close();
    clearInterval(this.#forgetting);
    this.#forgetting = undefined;
  }
}
