/**
 * Keeps the engine's views in step with `views/*.sql`. `apply` is a reconciliation, run
 * at startup and on every change: unchanged views are left alone, changed ones rebuilt
 * (and the views reading them recreated), removed ones dropped. It returns a report and
 * never throws for a user's mistake: a view with an error is reported at its file and
 * its last good version keeps serving; other views are unaffected.
 *
 * Kinds: a view with parameters is not an engine object (its SQL runs per request with
 * bound values); a simple aggregation over a model table becomes an incremental view
 * (incremental.ts); everything else is a plain `CREATE VIEW`.
 */
import { createHash } from "node:crypto";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { ConventionError, IglooError } from "../../conventions/errors.ts";
import { findReferences } from "../../conventions/views/references.ts";
import { tokenize } from "../../conventions/views/tokens.ts";
import { viewError } from "../../conventions/views/viewError.ts";
import type { ViewIR, ViewParam } from "../../conventions/views/ir.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import { buildIncremental, describe, dropIncrementalObjects, loadCatalog, materializedView, planIncremental, targetTable, type EngineCatalog, type ViewColumn } from "./incremental.ts";
import { probeDedupMode, type DedupMode } from "./dedupProbe.ts";
import { orderViews } from "./order.ts";
import { dummyParams } from "./params.ts";
import { referenceProblem, sourceAt, type Resolution } from "./referenceCheck.ts";
import { DEFAULT_STATE_TABLE, ViewState, type ViewKind, type ViewRecord } from "./state.ts";
import { resolveView, type ViewStatement } from "./viewQuery.ts";

export type { ViewStatement } from "./viewQuery.ts";
export type { ViewColumn } from "./incremental.ts";
export type { ViewKind } from "./state.ts";

export interface ViewHooks {
  /**
   * Pauses the table writer of `table` and resolves once its in-flight insert is done;
   * the returned function resumes it. Called only while an incremental view's MV is
   * created and its backfill reads the table, so that every row is counted by exactly one
   * of the two (see buildIncremental). Writes to model tables must all go through the
   * writer for that to hold.
   */
  pauseWriter(table: string): Promise<() => Promise<void>>;
}

export interface ApplyReport {
  readonly errors: ConventionError[];
  /** Views created or rebuilt. */
  readonly created: string[];
  readonly dropped: string[];
  readonly unchanged: string[];
}

interface Entry extends ViewRecord {
  /** Why an aggregation stays a plain view, when it was considered for the rewrite. */
  readonly reason?: string;
}

interface EngineTable {
  readonly engine: string;
  readonly uuid: string;
}

interface Pass {
  readonly records: Map<string, ViewRecord>;
  readonly declared: ReadonlySet<string>;
  readonly models: ReadonlyMap<string, ModelIR>;
  readonly engine: ReadonlyMap<string, EngineTable>;
  readonly catalog: EngineCatalog;
  readonly hooks: ViewHooks;
}

export class ViewManager {
  readonly #store: Store;
  readonly #state: ViewState;
  readonly #entries = new Map<string, Entry>();
  /** Views with a file but no good version yet, and why: answered with that, not "no view named". */
  #broken = new Map<string, string>();
  #applying: Promise<unknown> = Promise.resolve();
  /** Bumped by every apply or attach that changed a view, for readers that cache what views read. */
  #generation = 0;
  #dedupMode: Promise<DedupMode> | undefined;
  #catalog: Promise<EngineCatalog> | undefined;
  /** Igloo's own views (telemetry's), applied with the project's, served, but not listed as the project's. */
  readonly #builtin: readonly ViewIR[];

  /** `stateTable` lets several managers share one engine (tests); a project has one. */
  /**
   * `catalog`: what the engine's functions and deduplication are, when the caller already
   * asked this engine (the pipelines of one test process share one chDB).
   */
  constructor(store: Store, options: { stateTable?: string; catalog?: Promise<EngineCatalog>; builtin?: readonly ViewIR[] } = {}) {
    this.#store = store;
    this.#builtin = options.builtin ?? [];
    this.#state = new ViewState(store, options.stateTable ?? DEFAULT_STATE_TABLE);
    this.#catalog = options.catalog;
  }

  /**
   * The engine's catalogue, asked once per manager (an engine's functions do not change
   * while it runs). The dedup probe in it creates tables, so it runs only when a view is
   * about to become incremental, and again only after a failure.
   */
  catalog(): Promise<EngineCatalog> {
    const dedupMode = (): Promise<DedupMode> =>
      (this.#dedupMode ??= probeDedupMode(this.#store).catch((error: unknown) => {
        this.#dedupMode = undefined;
        throw error;
      }));
    return (this.#catalog ??= loadCatalog(this.#store, dedupMode));
  }

  /**
   * Reconciles the engine with `views`. `failed` names view files that exist but did not
   * parse (ParsedViews.failed): their last good version is kept rather than dropped.
   */
  apply(views: readonly ViewIR[], models: readonly ModelIR[], hooks: ViewHooks, options: { failed?: readonly string[] } = {}): Promise<ApplyReport> {
    // One reconciliation at a time: two would race on the same engine objects.
    const builtin = this.#builtin.filter((b) => !views.some((v) => v.name === b.name));
    const own = (names: string[]) => names.filter((name) => !builtin.some((b) => b.name === name));
    const run = this.#applying
      .then(() => this.#apply([...views, ...builtin], models, hooks, new Set(options.failed ?? [])))
      .then((report) => ({ ...report, created: own(report.created), dropped: own(report.dropped), unchanged: own(report.unchanged) }));
    this.#applying = run.catch(() => {});
    return run;
  }

  /**
   * The statement that answers `GET /views/<name>?<raw>`, or an IglooError saying why there
   * is none: no such view (E_VIEW_NOT_FOUND), a view whose file does not load
   * (E_VIEW_NOT_LOADED, unavailable until it is fixed), a parameter at fault (E_VIEW_PARAM).
   */
  resolve(name: string, raw: Readonly<Record<string, string>>): ViewStatement {
    const entry = this.#entries.get(name);
    if (entry === undefined) {
      const broken = this.#broken.get(name);
      if (broken !== undefined) {
        throw new IglooError("E_VIEW_NOT_LOADED", `view \`${name}\` has not loaded: ${broken}. Fix views/${name}.sql (igloo dev shows where); it is served once it loads.`, {
          kind: "unavailable",
          lasting: true,
        });
      }
      const known = this.names();
      const list = known.length === 0 ? "there are no views yet; add views/<name>.sql" : `known views: ${known.join(", ")}`;
      throw new IglooError("E_VIEW_NOT_FOUND", `no view named \`${name}\`; ${list}`, { kind: "not_found" });
    }
    return resolveView(entry, raw);
  }

  /** Result columns as the engine describes them. */
  columns(name: string): readonly ViewColumn[] | undefined {
    return this.#entries.get(name)?.columns;
  }

  /**
   * Serves the views as last applied (by `igloo migrate`), creating nothing: what a
   * production process does at start, since several of them start at once and only one
   * migration may build (and backfill) a view. Returns the SQL of each view by name.
   */
  async attach(): Promise<Map<string, string>> {
    const records = await this.#state.load();
    for (const record of records.values()) this.#entries.set(record.name, record);
    this.#generation++;
    return new Map([...records.values()].map((r) => [r.name, r.sql]));
  }

  /** Changes whenever a view is created, rebuilt or dropped. */
  generation(): number {
    return this.#generation;
  }

  /**
   * The tables a view reads, through the views it reads (best effort, as references are):
   * what must change for its rows to change. Undefined for an unknown view.
   */
  sources(name: string): string[] | undefined {
    if (!this.#entries.has(name)) return undefined;
    const tables = new Set<string>();
    const seen = new Set<string>();
    const visit = (view: string) => {
      if (seen.has(view)) return;
      seen.add(view);
      const lexed = tokenize(this.#entries.get(view)!.sql);
      // A view the tokenizer cannot read reads anything, as far as we know.
      if (!lexed.ok) return void tables.add("*");
      for (const reference of findReferences(lexed.tokens)) {
        if (this.#entries.has(reference)) visit(reference);
        else tables.add(reference);
      }
    };
    visit(name);
    return [...tables].sort();
  }

  /** Declared `{name:Type}` parameters, in order. */
  params(name: string): readonly ViewParam[] | undefined {
    return this.#entries.get(name)?.params;
  }

  /** The project's views (with `builtin`, Igloo's own too). */
  names(options: { readonly builtin?: boolean } = {}): string[] {
    const names = [...this.#entries.keys()].sort();
    return options.builtin ? names : names.filter((name) => !this.#builtin.some((b) => b.name === name));
  }

  kind(name: string): ViewKind | undefined {
    return this.#entries.get(name)?.kind;
  }

  /** The view's SELECT as written in its file (what an incremental view must equal). */
  sql(name: string): string | undefined {
    return this.#entries.get(name)?.sql;
  }

  /** Why an aggregation view is not incremental, if it was a candidate. */
  fallbackReason(name: string): string | undefined {
    return this.#entries.get(name)?.reason;
  }

  async #apply(views: readonly ViewIR[], models: readonly ModelIR[], hooks: ViewHooks, failed: ReadonlySet<string>): Promise<ApplyReport> {
    const report: ApplyReport = { errors: [], created: [], dropped: [], unchanged: [] };
    const records = await this.#state.load();
    for (const record of records.values()) if (!this.#entries.has(record.name)) this.#entries.set(record.name, record);
    const declared = new Set(views.map((v) => v.name));

    for (const record of [...records.values()]) {
      if (declared.has(record.name) || failed.has(record.name)) continue;
      try {
        await this.#dropObjects(record.kind, record.name);
        await this.#state.remove(record.name);
      } catch (error) {
        const at = { file: record.file, line: 1, column: 1 };
        report.errors.push(viewError(at, `could not drop the removed view \`${record.name}\`: ${engineMessage(error)}`, undefined, error));
        continue;
      }
      records.delete(record.name);
      this.#entries.delete(record.name);
      report.dropped.push(record.name);
    }

    const modelTables = new Map(models.map((m) => [m.table, m]));
    const catalog = await this.catalog();
    const pass: Pass = { records, declared, models: modelTables, engine: await this.#engineTables(), catalog, hooks };
    const candidates = views.filter((v) => {
      if (!modelTables.has(v.name)) return true;
      report.errors.push(viewError(v.source, `view \`${v.name}\` has the name of the table of model \`${modelTables.get(v.name)!.name}\``, "Rename the view file."));
      return false;
    });
    const { order, cycles } = orderViews(candidates);
    for (const cycle of cycles) {
      const path = [...cycle, cycle[0]!].map((v) => v.file).join(" -> ");
      for (const v of cycle) {
        report.errors.push(viewError(v.source, `view \`${v.name}\` is part of a cycle: ${path}`, "A view cannot read itself, directly or through other views."));
      }
    }
    const broken = new Map<string, string>();
    for (const name of failed) broken.set(name, "its file does not parse");
    for (const cycle of cycles) for (const v of cycle) broken.set(v.name, "it is part of a cycle of views");
    for (const view of order) {
      try {
        const outcome = await this.#applyOne(view, pass);
        report[outcome].push(view.name);
      } catch (error) {
        const problem = error instanceof ConventionError ? error : viewError(view.source, `could not create view \`${view.name}\`: ${engineMessage(error)}`, undefined, error);
        report.errors.push(problem);
        broken.set(view.name, problem.detail);
      }
    }
    this.#broken = broken;
    if (report.created.length > 0 || report.dropped.length > 0) this.#generation++;
    return report;
  }

  async #applyOne(view: ViewIR, pass: Pass): Promise<"created" | "unchanged"> {
    const problem = referenceProblem(view, (name) => this.#resolve(name, pass));
    if (problem !== undefined) throw viewError(sourceAt(view, problem.offset), problem.detail, problem.hint);
    const previous = pass.records.get(view.name);
    const existing = pass.engine.get(view.name);
    if (previous === undefined && existing !== undefined && existing.engine !== "View") {
      throw viewError(view.source, `a ${existing.engine} table named \`${view.name}\` already exists and Igloo does not manage it`, "Rename the view file or drop that table.");
    }

    let columns: ViewColumn[];
    try {
      columns = await describe(this.#store, view.sql, dummyParams(view.params));
    } catch (error) {
      throw viewError(view.source, `the engine rejects this query: ${engineMessage(error)}`, undefined, error);
    }

    let kind: ViewKind = view.params.length > 0 ? "parameterized" : "plain";
    let reason: string | undefined;
    const plan = kind === "parameterized" ? undefined : await planIncremental(this.#store, view, columns, pass.models, pass.catalog).catch(
      (error: unknown) => ({ reason: `planning the incremental view failed: ${engineMessage(error)}` }),
    );
    if (plan !== undefined && "reason" in plan) reason = plan.reason;
    const incremental = plan !== undefined && !("reason" in plan) ? plan : undefined;
    if (incremental !== undefined) kind = "incremental";

    // Views read by this one are part of its definition: when one is rebuilt, so is this.
    const deps = view.references.map((r) => `${r}=${pass.records.get(r)?.hash ?? pass.engine.get(r)?.uuid ?? ""}`);
    const definition = { kind, sql: view.sql, params: view.params, columns, deps, plan: incremental ?? null, source: incremental ? pass.engine.get(incremental.table)?.uuid : null };
    const hash = createHash("sha256").update(JSON.stringify(definition)).digest("hex");
    const record: ViewRecord = { name: view.name, kind, hash, file: view.file, sql: view.sql, params: view.params, columns };

    if (previous !== undefined && previous.hash === hash && this.#objectsExist(previous, pass.engine)) {
      this.#entries.set(view.name, { ...previous, ...(reason === undefined ? {} : { reason }) });
      return "unchanged";
    }

    if (kind === "parameterized") {
      if (previous !== undefined) await this.#dropObjects(previous.kind, view.name);
    } else {
      // The plain view first: correct at once, and it stays if the rewrite fails.
      try {
        await this.#store.exec(`CREATE OR REPLACE VIEW ${quoteIdent(view.name)} AS\n${view.sql}\n`);
      } catch (error) {
        throw viewError(view.source, `the engine cannot create this view: ${engineMessage(error)}`, undefined, error);
      }
      if (previous?.kind === "incremental") await dropIncrementalObjects(this.#store, view.name);
      if (incremental !== undefined) {
        try {
          await buildIncremental(this.#store, view, incremental, columns, pass.hooks.pauseWriter);
        } catch (error) {
          // It stays plain until its definition changes; retrying on every save would
          // pause the writer each time for the same failure.
          kind = "plain";
          reason = `building the incremental view failed: ${engineMessage(error)}`;
        }
      }
    }
    const saved: ViewRecord = { ...record, kind };
    await this.#state.save(saved);
    pass.records.set(view.name, saved);
    this.#entries.set(view.name, { ...saved, ...(reason === undefined ? {} : { reason }) });
    return "created";
  }

  /** What a name read by a view is, for reference checks. */
  #resolve(name: string, pass: Pass): Resolution {
    if (pass.models.has(name)) return "table";
    const entry = this.#entries.get(name);
    if (entry !== undefined) return entry.kind === "parameterized" ? "parameterized" : "view";
    if (pass.declared.has(name)) return "broken";
    return pass.engine.has(name) ? "table" : "unknown";
  }

  #objectsExist(record: ViewRecord, engine: ReadonlyMap<string, EngineTable>): boolean {
    if (record.kind === "parameterized") return true;
    if (!engine.has(record.name)) return false;
    return record.kind === "plain" || (engine.has(targetTable(record.name)) && engine.has(materializedView(record.name)));
  }

  async #dropObjects(kind: ViewKind, name: string): Promise<void> {
    if (kind === "parameterized") return;
    await this.#store.exec(`DROP VIEW IF EXISTS ${quoteIdent(name)} SYNC`);
    if (kind === "incremental") await dropIncrementalObjects(this.#store, name);
  }

  async #engineTables(): Promise<Map<string, EngineTable>> {
    let rows: { name: string; engine: string; uuid: string }[];
    try {
      ({ rows } = await this.#store.query<{ name: string; engine: string; uuid: string }>(
        "SELECT name, engine, toString(uuid) AS uuid FROM system.tables WHERE database = currentDatabase()",
      ));
    } catch {
      // Servers before table UUIDs: a table is then known by its name alone.
      ({ rows } = await this.#store.query<{ name: string; engine: string; uuid: string }>("SELECT name, engine, '' AS uuid FROM system.tables WHERE database = currentDatabase()"));
    }
    return new Map(rows.map((r) => [r.name, { engine: r.engine, uuid: r.uuid }]));
  }
}

/** The engine's own words, without the store's "query failed:" preamble. */
function engineMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^(query|statement) failed: /, "").trim();
}
