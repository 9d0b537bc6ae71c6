/**
 * The table writer: drains one topic into one table, in batches (size or time, whichever
 * comes first), committing the group's offset only after the insert succeeded.
 *
 * Exactly once, from at-least-once parts: before inserting, the writer saves its intent
 * (the batch's offset range) with the stream; the insert carries a deduplication token
 * derived from that range. If the process dies between insert and commit, the stream
 * replays exactly the same range, the retried insert carries the same token, and the
 * engine drops it as a duplicate (the idea of ClickHouse Kafka Connect's exactly-once
 * mode, with the stream's commit metadata standing in for its KeeperMap state).
 */
import { IglooError } from "../../conventions/errors.ts";
import { appendDeadLetters, DEAD_LETTER_TOPIC } from "../deadLetters/deadLetters.ts";
import { failpoint } from "../failpoints.ts";
import { classifyEngineError, type EngineErrorKind } from "../store/engineErrors.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { Validate } from "../ingest/ingest.ts";
import { joinValues } from "../stream/joinValues.ts";
import type { RecordBatch, Stream, StreamRecord, Subscription } from "../stream/stream.ts";
import type { EarlierShapes } from "./earlierShapes.ts";
import { idRows, RECORD_ID_FIELD, RECORD_IDS_TABLE, recordIds, storedIds } from "../ingest/recordIds.ts";

export interface TableWriterOptions {
  readonly topic: string;
  readonly table: string;
  /** Shown as `source` on dead letters for rows the table refuses. */
  readonly source: string;
  readonly group?: string;
  /**
   * The table's identity columns. On an engine without insert deduplication tokens, a
   * replayed batch is inserted only for the ids the table does not hold yet, so the
   * writer stays exactly-once there too; without ids it is at-least-once on such engines.
   */
  readonly idColumns?: readonly string[];
  /**
   * Set when records may come from outside Igloo (a Kafka topic any client can write):
   * each record is checked against its model, and an invalid one goes to the dead
   * letters instead of failing or corrupting the insert.
   */
  readonly validate?: Validate;
  /**
   * With `validate`: records the model refuses are converted, when they can be, from the
   * table's columns before a migration (earlierShapes.ts), instead of dead-lettered.
   */
  readonly earlier?: EarlierShapes;
  /**
   * Drop records whose ingest id (from a request with an idempotency-key) this table
   * stored before, and remember the ids of those it stores: model tables, not dead letters.
   */
  readonly recordIds?: boolean;
  readonly maxBatchRecords?: number;
  readonly maxWaitMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each committed batch; feeds metrics and read-your-writes. */
  readonly onBatch?: (info: { topic: string; partition: number; nextOffset: number; rows: number; ms: number }) => void;
}

/**
 * One consumer group per topic: Kafka clients (kafkajs among them) assign a group's
 * partitions as if every member read every topic, so members that read different topics
 * under one group id starve each other.
 */
export function writerGroup(topic: string): string {
  return `igloo-writer-${topic}`;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The writer could not insert a batch for a reason that is not the rows' fault. The batch
 * stays in the log and is retried with the same token until the cause clears.
 */
export class WriterRetryError extends IglooError {
  readonly engineKind: EngineErrorKind;
  constructor(table: string, kind: EngineErrorKind, error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    const what =
      kind === "resource"
        ? "the engine is short of a resource (disk, memory or parts)"
        : kind === "unavailable"
          ? "the engine cannot be reached"
          : "the engine refused the insert for a reason other than its rows (for example a view reading the table)";
    super("E_WRITER_RETRY", `table ${table}: ${what}: ${reason}. The batch stays in the log and is retried; nothing is lost or dead-lettered.`, { cause: error, kind: "unavailable" });
    this.name = "WriterRetryError";
    this.engineKind = kind;
  }
}

export class TableWriter {
  readonly #stream: Stream;
  readonly #store: Store;
  #options: TableWriterOptions;
  #subscription: Promise<Subscription> | undefined;

  constructor(stream: Stream, store: Store, options: TableWriterOptions) {
    this.#stream = stream;
    this.#store = store;
    this.#options = options;
  }

  get group(): string {
    return this.#options.group ?? writerGroup(this.#options.topic);
  }

  /**
   * Checks records with `validate` from the next batch on: the model changed, its table
   * did not (a deploy switched versions), and the new model's fields must reach the table.
   */
  useCheck(validate: Validate): void {
    this.#options = { ...this.#options, validate };
  }

  /** Starts draining; a no-op while it already runs. */
  async start(): Promise<void> {
    if (this.#subscription) return;
    const o = this.#options;
    const subscribing = this.#stream.subscribe({
      topic: o.topic,
      group: this.group,
      maxBatchRecords: o.maxBatchRecords ?? 100_000,
      maxWaitMs: o.maxWaitMs ?? 250,
      handle: (batch) => this.#write(batch),
      onError: (error) => o.onError?.(error),
    });
    this.#subscription = subscribing;
    try {
      await subscribing;
    } catch (error) {
      if (this.#subscription === subscribing) this.#subscription = undefined;
      throw error;
    }
  }

  /** The insert body: the values as they are, or, for outside records, checked and normalised. */
  async #body(records: readonly StreamRecord[]): Promise<Uint8Array> {
    const validate = this.#options.validate;
    if (!validate) return joinValues(records);
    const lines: string[] = [];
    let refused: { text: string; error: string }[] = [];
    for (const record of records) {
      const text = decoder.decode(record.value);
      let checked: ReturnType<Validate>;
      try {
        const input: unknown = JSON.parse(text);
        // The ingest id is Igloo's, not the model's (recordIds.ts).
        if (typeof input === "object" && input !== null && RECORD_ID_FIELD in input) delete (input as Record<string, unknown>)[RECORD_ID_FIELD];
        checked = validate(input);
      } catch (error) {
        checked = { ok: false, error: `not valid JSON (${error instanceof Error ? error.message : String(error)})` };
      }
      if (checked.ok) lines.push(JSON.stringify(checked.record));
      else refused.push({ text, error: checked.error });
    }
    if (refused.length > 0 && this.#options.earlier) {
      let converted;
      try {
        converted = await this.#options.earlier.convert(refused);
      } catch (error) {
        throw new WriterRetryError(this.#options.table, classifyEngineError(error), error);
      }
      lines.push(...converted.rows);
      refused = converted.refused;
    }
    if (this.#options.topic !== DEAD_LETTER_TOPIC) await appendDeadLetters(this.#stream, this.#options.source, "writer", refused.map(({ text, error }) => ({ record: text, error })));
    return encoder.encode(lines.join("\n"));
  }

  async #write(batch: RecordBatch): Promise<void> {
    const started = performance.now();
    const token = batch.replayedIntent ?? `${this.group}:${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.nextOffset}`;
    failpoint("writer.beforeIntent");
    if (batch.replayedIntent === undefined) await batch.saveIntent(token);
    failpoint("writer.afterIntent");
    const { records, newIds } = await this.#unseen(batch.records);
    if (records.length > 0) {
      const body = await this.#body(records);
      try {
        await this.#insert(body, token, batch.replayedIntent !== undefined);
      } catch (error) {
        const kind = classifyEngineError(error);
        if (kind !== "data") throw new WriterRetryError(this.#options.table, kind, error);
        await this.#insertValidRows(batch, body, token);
      }
    }
    failpoint("writer.afterInsert");
    if (newIds.length > 0) {
      const rows = idRows(newIds, new Date().toISOString()).join("\n");
      await this.#store.insertJsonEachRow(RECORD_IDS_TABLE, encoder.encode(rows), { dedupToken: `${token}:ids` });
    }
    this.#options.onBatch?.({
      topic: batch.topic,
      partition: batch.partition,
      nextOffset: batch.nextOffset,
      rows: batch.records.length,
      ms: performance.now() - started,
    });
  }

  /**
   * The records to insert: without those whose ingest id (recordIds.ts) was stored before,
   * by an earlier batch or earlier in this one: a resend that reached the log twice.
   */
  async #unseen(records: readonly StreamRecord[]): Promise<{ records: readonly StreamRecord[]; newIds: string[] }> {
    const ids = this.#options.recordIds ? recordIds(records) : undefined;
    if (!ids) return { records, newIds: [] };
    const stored = await storedIds(this.#store, [...new Set(ids.filter((id) => id !== undefined))]);
    const kept: StreamRecord[] = [];
    const newIds: string[] = [];
    records.forEach((record, i) => {
      const id = ids[i];
      if (id === undefined) return void kept.push(record);
      if (stored.has(id)) return;
      stored.add(id);
      newIds.push(id);
      kept.push(record);
    });
    return { records: kept, newIds };
  }

  async #insert(body: Uint8Array, token: string, replay: boolean): Promise<void> {
    if (replay && !this.#store.capabilities.supportsInsertDeduplicationToken && this.#options.idColumns?.length) {
      await this.#insertMissing(body, token);
    } else {
      await this.#store.insertJsonEachRow(this.#options.table, body, { dedupToken: token, retry: replay });
    }
  }

  /**
   * A replay on an engine that cannot drop a repeated insert: stage the batch in a table
   * of its own, then copy over only the rows whose ids the table lacks. No record value
   * is ever spliced into SQL, and a crash here just replays this again.
   */
  async #insertMissing(body: Uint8Array, token: string): Promise<void> {
    const table = quoteIdent(this.#options.table);
    const ids = this.#options.idColumns!.map(quoteIdent).join(", ");
    await this.#withStaging(token, async (staging) => {
      await this.#store.insertJsonEachRow(staging, body);
      await this.#store.exec(`INSERT INTO ${table} SELECT * FROM ${quoteIdent(staging)} WHERE (${ids}) NOT IN (SELECT ${ids} FROM ${table})`);
    });
  }

  /** A Memory table shaped like the target, for this batch only: nothing reads it, no view is attached to it. */
  async #withStaging<T>(token: string, use: (staging: string) => Promise<T>): Promise<T> {
    const name = `igloo_staging_${Bun.hash(token).toString(16)}`;
    await this.#store.exec(`DROP TABLE IF EXISTS ${quoteIdent(name)}`);
    await this.#store.exec(`CREATE TABLE ${quoteIdent(name)} AS ${quoteIdent(this.#options.table)} ENGINE = Memory`);
    try {
      return await use(name);
    } finally {
      await this.#store.exec(`DROP TABLE IF EXISTS ${quoteIdent(name)}`);
    }
  }

  /**
   * The engine refused the batch for its rows. A refused insert of one block stores
   * nothing, so the rows are sorted out in a staging table that no view reads: halves that
   * the engine takes are kept, halves it refuses are split again, down to single records
   * (about 2·k·log2(n) staging inserts for k bad records in n). The good rows then go to
   * the table in one insert whose token names the refused offsets: a replay finds the same
   * rows refused (the engine's verdict on the same bytes does not change) and repeats the
   * same token, so the insert stays exactly-once. Refused records become dead letters.
   *
   * If the staging table takes the whole batch, the rows were not the problem (a view
   * reading the table refused them, say): that is retried, never dead-lettered.
   */
  async #insertValidRows(batch: RecordBatch, body: Uint8Array, token: string): Promise<void> {
    const rows = splitLines(body);
    const refused: { index: number; error: unknown }[] = [];
    await this.#withStaging(token, async (staging) => {
      const sortOut = async (from: number, to: number, error: unknown): Promise<void> => {
        if (to - from === 1) {
          refused.push({ index: from, error });
          return;
        }
        const middle = (from + to) >>> 1;
        for (const [a, b] of [[from, middle], [middle, to]] as const) {
          try {
            await this.#store.insertJsonEachRow(staging, encoder.encode(rows.slice(a, b).join("\n")));
          } catch (halfError) {
            const kind = classifyEngineError(halfError);
            if (kind !== "data") throw new WriterRetryError(this.#options.table, kind, halfError);
            await sortOut(a, b, halfError);
          }
        }
      };
      try {
        await this.#store.insertJsonEachRow(staging, body);
      } catch (error) {
        const kind = classifyEngineError(error);
        if (kind !== "data") throw new WriterRetryError(this.#options.table, kind, error);
        await sortOut(0, rows.length, error);
        return;
      }
      throw new WriterRetryError(this.#options.table, "other", new Error("the rows fit the table, yet the insert failed: a view reading the table refused them"));
    });
    const bad = new Set(refused.map((r) => r.index));
    const good = rows.filter((_, i) => !bad.has(i));
    if (good.length > 0) {
      const goodToken = `${token}:without:${Bun.hash([...bad].join(",")).toString(16)}`;
      await this.#insert(encoder.encode(good.join("\n")), goodToken, batch.replayedIntent !== undefined);
    }
    if (refused.length === 0 || this.#options.topic === DEAD_LETTER_TOPIC) return;
    await appendDeadLetters(
      this.#stream,
      this.#options.source,
      "writer",
      refused.map(({ index, error }) => ({ record: rows[index]!, error: error instanceof Error ? error.message : String(error) })),
    );
    failpoint("writer.afterDeadLetters");
  }

  async stop(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    await (await subscription?.catch(() => undefined))?.close();
  }
}

/** The rows of a JSONEachRow body: record values never hold a newline (see stream.ts). */
function splitLines(body: Uint8Array): string[] {
  return decoder
    .decode(body)
    .split("\n")
    .filter((line) => line !== "");
}
