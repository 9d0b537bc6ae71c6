/**
 * How the processes of a production deployment learn what to run: a log in the
 * deployment's own ClickHouse database, never a service of its own (the design's first
 * open question, "in production, how do we deploy everything?").
 *
 *   igloo_deploy     an append-only log of entries, in order of `seq`:
 *                      release  a version: the models, views, compiled functions, dashboards
 *                      target   which version ingest processes run, and which workers run
 *                      hold     pause the table writers of some tables (an online backfill),
 *                               until a time the deploy keeps moving on while it runs: a
 *                               deploy killed mid-backfill holds the writers no longer
 *                      release_hold  end of a hold
 *   igloo_processes  one row per process and heartbeat (ReplacingMergeTree: merges keep
 *                    each process's latest): role, version, holds acknowledged, backlog.
 *
 * Every process polls the log once a second, and beats its heart when what it runs or
 * holds changed, else every 3 s; `igloo deploy` writes entries and waits for the
 * heartbeats to say they were acted on. Polling a
 * few rows a second per process costs the server nothing, and a process that starts later
 * reads the same log, so it can never miss a version or a hold.
 */
import { hostname } from "node:os";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import type { FunctionIR } from "../../conventions/functions/load.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import type { Store } from "../store/store.ts";

export const DEPLOY_TABLE = "igloo_deploy";
export const PROCESSES_TABLE = "igloo_processes";

/** Everything a process needs to run one version of a project, with no files. */
export interface Release {
  readonly version: number;
  /** sha256 of what the release runs: deploying the same project again changes nothing. */
  readonly hash: string;
  readonly igloo: string;
  readonly createdAt: string;
  /** Who deployed it (user@host), for `igloo status`. */
  readonly by: string;
  readonly models: readonly ModelIR[];
  readonly views: readonly ViewIR[];
  /** Each function with its compiled module. */
  readonly functions: readonly FunctionIR[];
  /** Dashboard pages by name. */
  readonly dashboards: Readonly<Record<string, string>>;
}

export type ProcessRole = "ingest" | "worker" | "all";

/** Which version each role runs. A deploy moves workers first, then ingest (deploy.ts). */
export interface Target {
  readonly ingest: number;
  readonly worker: number;
}

export type Entry =
  | { readonly seq: number; readonly kind: "release"; readonly release: Release }
  | { readonly seq: number; readonly kind: "target"; readonly target: Target }
  | { readonly seq: number; readonly kind: "hold"; readonly hold: string; readonly tables: readonly string[]; readonly until: number }
  | { readonly seq: number; readonly kind: "release_hold"; readonly hold: string };

type Body<E> = E extends { readonly seq: number } ? Omit<E, "seq"> : never;

/** A process's heartbeat. */
export interface ProcessReport {
  readonly id: string;
  readonly role: ProcessRole;
  readonly host: string;
  readonly pid: number;
  /** The version it runs (0: a build directory's, before any deploy). */
  readonly version: number;
  /** Holds whose tables' writers it has paused (workers), by id. */
  readonly holds: readonly string[];
  /** Records in the log its tables do not hold yet (workers; -1 when unknown). */
  readonly backlog: number;
  /** Why it could not switch to the version it was told to run, if it could not. */
  readonly error: string;
  readonly startedAt: string;
  readonly seenAt: number;
}

/** The role's version in a target: an `all` process runs what workers run (see deploy.ts). */
export function versionFor(target: Target, role: ProcessRole): number {
  return role === "ingest" ? target.ingest : target.worker;
}

export interface Hold {
  readonly tables: readonly string[];
  /** Epoch milliseconds after which the hold is over, renewed by the deploy that holds it. */
  readonly until: number;
}

/** The holds in force at `now`. */
export function holdsAt(state: ChannelState, now: number): Map<string, Hold> {
  return new Map([...state.holds].filter(([, hold]) => hold.until > now));
}

/** What the log says now: versions, the current target, the holds (some may have run out: holdsAt). */
export interface ChannelState {
  readonly releases: ReadonlyMap<number, Release>;
  readonly target: Target | undefined;
  /** Targets in order, oldest first: rollback goes back along it. */
  readonly history: readonly Target[];
  readonly holds: ReadonlyMap<string, Hold>;
  readonly seq: number;
}

export function emptyState(): ChannelState {
  return { releases: new Map(), target: undefined, history: [], holds: new Map(), seq: 0 };
}

/** The state after `entries` (in seq order). */
export function advance(state: ChannelState, entries: readonly Entry[]): ChannelState {
  const releases = new Map(state.releases);
  const holds = new Map(state.holds);
  const history = [...state.history];
  let { target, seq } = state;
  for (const entry of entries) {
    seq = Math.max(seq, entry.seq);
    if (entry.kind === "release") releases.set(entry.release.version, entry.release);
    else if (entry.kind === "target") {
      target = entry.target;
      history.push(entry.target);
    } else if (entry.kind === "hold") holds.set(entry.hold, { tables: entry.tables, until: entry.until });
    else holds.delete(entry.hold);
  }
  return { releases, target, history, holds, seq };
}

export class DeployChannel {
  readonly #store: Store;
  #ready: Promise<void> | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Creates the two tables if missing (every process and `igloo deploy` may be first). */
  ensure(): Promise<void> {
    return (this.#ready ??= (async () => {
      await this.#store.exec(`CREATE TABLE IF NOT EXISTS ${DEPLOY_TABLE} (seq UInt64, at String, kind String, body String) ENGINE = MergeTree ORDER BY seq`);
      await this.#store.exec(
        `CREATE TABLE IF NOT EXISTS ${PROCESSES_TABLE} (id String, role String, host String, pid UInt32, version UInt64, holds String, backlog Int64, error String, started_at String, seen_at UInt64) ` +
          `ENGINE = ReplacingMergeTree(seen_at) ORDER BY id`,
      );
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    }));
  }

  /** Entries after `seq`, in order. */
  async read(after = 0): Promise<Entry[]> {
    await this.ensure();
    // Whole numbers this code produced: written into the text, since old servers bind no parameters.
    // Aliases differ from the columns: the engine reads an alias in WHERE in place of its column.
    const { rows } = await this.#store.query<{ n: string; k: string; b: string }>(
      `SELECT toString(seq) AS n, kind AS k, body AS b FROM ${DEPLOY_TABLE} WHERE seq > ${Math.max(0, Math.floor(after))} ORDER BY seq`,
    );
    return rows.map((row) => ({ seq: Number(row.n), kind: row.k, ...(JSON.parse(row.b) as object) }) as Entry);
  }

  async state(): Promise<ChannelState> {
    return advance(emptyState(), await this.read());
  }

  /**
   * Appends an entry after everything in the log. Sequence numbers are milliseconds times
   * 1000 plus a random part, above the last one seen: two deploys at once still get
   * distinct, ordered entries (deploy.ts refuses to run beside another).
   */
  async append(entry: Body<Entry>, after: number): Promise<number> {
    await this.ensure();
    const seq = Math.max(after + 1, Date.now() * 1000 + Math.floor(Math.random() * 1000));
    const { kind, ...body } = entry as { kind: string } & Record<string, unknown>;
    const row = { seq, at: new Date().toISOString(), kind, body: JSON.stringify(body) };
    await this.#store.insertJsonEachRow(DEPLOY_TABLE, new TextEncoder().encode(JSON.stringify(row)));
    return seq;
  }

  async heartbeat(report: ProcessReport): Promise<void> {
    await this.ensure();
    const row = {
      id: report.id,
      role: report.role,
      host: report.host,
      pid: report.pid,
      version: report.version,
      holds: JSON.stringify(report.holds),
      backlog: report.backlog,
      error: report.error,
      started_at: report.startedAt,
      seen_at: report.seenAt,
    };
    await this.#store.insertJsonEachRow(PROCESSES_TABLE, new TextEncoder().encode(JSON.stringify(row)));
  }

  /** Each process's latest heartbeat, newest first, of those seen within `withinMs`. */
  async processes(withinMs: number): Promise<ProcessReport[]> {
    await this.ensure();
    const since = Date.now() - withinMs;
    const { rows } = await this.#store.query<Record<string, string>>(
      `SELECT id AS p_id, argMax(role, seen_at) AS p_role, argMax(host, seen_at) AS p_host, toString(argMax(pid, seen_at)) AS p_pid, toString(argMax(version, seen_at)) AS p_version, ` +
        `argMax(holds, seen_at) AS p_holds, toString(argMax(backlog, seen_at)) AS p_backlog, argMax(error, seen_at) AS p_error, argMax(started_at, seen_at) AS p_started, toString(max(seen_at)) AS p_seen ` +
        `FROM ${PROCESSES_TABLE} GROUP BY id HAVING max(seen_at) >= ${Math.floor(since)} ORDER BY id`,
    );
    return rows.map((row) => ({
      id: row.p_id!,
      role: row.p_role as ProcessRole,
      host: row.p_host!,
      pid: Number(row.p_pid),
      version: Number(row.p_version),
      holds: JSON.parse(row.p_holds || "[]") as string[],
      backlog: Number(row.p_backlog),
      error: row.p_error ?? "",
      startedAt: row.p_started!,
      seenAt: Number(row.p_seen),
    }));
  }

  /** A process's id: unique per start, readable in `igloo status`. */
  static processId(): string {
    return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 6)}`;
  }
}
