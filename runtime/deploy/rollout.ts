/**
 * A deploy, as `igloo deploy` and `igloo rollback` run it against the live engines: plan,
 * refuse what drifted or would lose data, migrate online, then move the running processes
 * to the new version through the channel (channel.ts) in an order that keeps every
 * acknowledged record whole:
 *
 *   1. tables and columns the version adds are created: a field is never accepted before
 *      its column exists (and table options are changed: retention, codecs, indexes,
 *      projections, settings; shorter retention only with consent);
 *   2. a column whose type changes (only with consent) is altered while the writers of its
 *      table are held, and they resume under the new version;
 *   3. views are built; an incremental view's backfill runs while its source table's
 *      writers, in every worker, are held (see ViewHooks.pauseWriter): each row is counted
 *      by the backfill or by the materialized view, never both or neither;
 *   4. workers switch (and with them `all` processes): their writers now know the new
 *      fields, so a record the new validator accepts is stored whole;
 *   5. ingest processes switch: only now are the new fields accepted, and removed ones
 *      refused;
 *   6. columns the version removed are dropped (only with consent), after every process
 *      stopped taking them.
 * A process that cannot switch, or does not within `waitMs`, stops the deploy: the target
 * goes back to the previous version, which the schema still serves (steps 1-3 only add).
 */
import { IglooError } from "../../conventions/errors.ts";
import { formatPlan, planMigration, recordMigration, refuseUnsafePlan, type MigrationPlan } from "../plan/migrations.ts";
import { prepareTypeChanges } from "../plan/convertible.ts";
import type { Change } from "../plan/plan.ts";
import type { Store } from "../store/store.ts";
import { ViewManager } from "../views/viewManager.ts";
import { DeployChannel, holdsAt, type ChannelState, type ProcessReport, type ProcessRole, type Release, type Target } from "./channel.ts";

/** A process silent this long (it beats every 3 s, and at once on a change) is taken for gone. */
export const LIVE_MS = 10_000;
/** A hold lasts this long unless its deploy renews it, which it does every HOLD_RENEW_MS: one that died holds the writers no longer. */
const HOLD_MS = 120_000;
const HOLD_RENEW_MS = 30_000;

export interface RolloutOptions {
  /** Only plan: nothing is written. */
  readonly check: boolean;
  readonly allowDestructive: boolean;
  /** Rollback: columns the release lacks are kept, not dropped (rows it writes leave them to their DEFAULT). */
  readonly keepColumns: boolean;
  /** How long each step may wait for the processes. */
  readonly waitMs: number;
  readonly say: (line: string) => void;
}

export interface RolloutReport {
  readonly plan: MigrationPlan;
  readonly text: string;
  /** The version now deployed (or that would be, with `check`). */
  readonly version: number;
  /** Nothing to do: the release is what runs. */
  readonly unchanged: boolean;
  /** Processes that switched, by role. */
  readonly switched: { readonly worker: number; readonly ingest: number };
  readonly ms: number;
}

/**
 * The plan for a release, from one look at the live schema: with `keepColumns`, the
 * columns it lacks stay (and are not destructive); they are returned as `kept`.
 */
type DropColumn = Extract<Change, { kind: "drop_column" }>;

async function planRelease(store: Store, release: Release, keepColumns: boolean): Promise<{ plan: MigrationPlan; kept: readonly DropColumn[] }> {
  const plan = await planMigration(store, release.models, release.views, await new ViewManager(store).attach());
  if (!keepColumns) return { plan, kept: [] };
  const changes = plan.changes.filter((c) => c.kind !== "drop_column");
  return { plan: { ...plan, changes, destructive: changes.some((c) => c.destructive) }, kept: plan.changes.filter((c): c is DropColumn => c.kind === "drop_column") };
}

export async function rollout(store: Store, release: Release, options: RolloutOptions): Promise<RolloutReport> {
  const began = performance.now();
  const channel = new DeployChannel(store);
  let state = await channel.state();
  const current = state.target;
  const version = release.version > 0 ? release.version : Math.max(0, ...state.releases.keys()) + 1;
  const next: Release = { ...release, version };
  const { plan, kept } = await planRelease(store, next, options.keepColumns);
  const text = [formatPlan(plan), ...kept.map((c) => `  = keep column ${c.table}.${c.column} (not in version ${version}; rows it writes leave it to its DEFAULT)`)].join("\n");
  const running = current === undefined ? undefined : state.releases.get(current.worker);
  const unchanged = current !== undefined && current.ingest === current.worker && running?.hash === next.hash && plan.changes.length === 0 && plan.views.length === 0;
  const report = (switched = { worker: 0, ingest: 0 }): RolloutReport => ({ plan, text, version: unchanged ? current!.worker : version, unchanged, switched, ms: Math.round(performance.now() - began) });
  if (options.check || unchanged) return report();

  refuseUnsafePlan(plan, text, { allowDestructive: options.allowDestructive, refusing: "Refusing to deploy over a database that changed outside Igloo.", nothing: "Nothing was deployed." });
  refuseBeside(state);

  const steps = new DeploySteps(channel, state.seq, options);
  const byKind = (kind: Change["kind"]) => plan.changes.filter((c) => c.kind === kind);
  try {
    await steps.append({ kind: "release", release: next });
    const options = (stage: "before_columns" | "after_columns") => plan.changes.filter((c) => c.kind === "table_option" && c.stage === stage);
    // 1. What the version adds; table options that must go before column changes (an index a type change needs gone).
    for (const change of [...byKind("create_table"), ...byKind("add_column"), ...options("before_columns")]) await store.exec(change.sql);
    // 2. Type changes, under a hold that lasts until the workers run the new version.
    const modified = await prepareTypeChanges(store, byKind("modify_column"));
    const typeHold = modified.length > 0 ? await steps.hold([...new Set(modified.map((c) => c.table))]) : undefined;
    try {
      for (const change of modified) await store.exec(change.sql);
      // Table options that may name what the version added or changed (TTL, codecs, indexes, projections, settings).
      for (const change of options("after_columns")) await store.exec(change.sql);
      // 3. Views, each backfill under a hold of its source table.
      const views = await new ViewManager(store).apply(next.views, next.models, { pauseWriter: (table) => steps.hold([table]) });
      if (views.errors.length > 0) throw views.errors[0]!;
      // 4. Workers.
      const worker = await steps.target({ ingest: current?.ingest ?? version, worker: version }, ["worker", "all"], version);
      await typeHold?.();
      // 5. Ingest.
      const ingest = await steps.target({ ingest: version, worker: version }, ["ingest"], version);
      // 6. What the version removed.
      for (const change of byKind("drop_column")) await store.exec(change.sql);
      await recordMigration(store, plan, next.models);
      return report({ worker, ingest });
    } finally {
      await typeHold?.();
    }
  } catch (error) {
    if (current !== undefined && steps.moved) {
      await channel.append({ kind: "target", target: current }, steps.seq).catch(() => undefined);
      options.say(`deploy failed; the processes were told to go back to version ${current.worker}.`);
    }
    throw error;
  }
}

/** The entries a deploy writes, each after the last, and the waits for the processes to act on them. */
export class DeploySteps {
  readonly #channel: DeployChannel;
  readonly #options: Pick<RolloutOptions, "waitMs" | "say">;
  seq: number;
  /** Whether a target was written (a failure then moves the processes back). */
  moved = false;

  constructor(channel: DeployChannel, seq: number, options: Pick<RolloutOptions, "waitMs" | "say">) {
    this.#channel = channel;
    this.seq = seq;
    this.#options = options;
  }

  async append(entry: Parameters<DeployChannel["append"]>[0]): Promise<void> {
    this.seq = await this.#channel.append(entry, this.seq);
  }

  /** Moves `roles` to `version` and waits until each live process of them runs it; returns how many did. */
  async target(target: Target, roles: readonly ProcessRole[], version: number): Promise<number> {
    this.moved = true;
    await this.append({ kind: "target", target });
    const count = await this.#wait(`switch to version ${version}`, roles, (p) => p.version === version, (p) => (p.error.startsWith(`version ${version}:`) ? p.error : undefined));
    this.#options.say(`${count} ${roles[0]} process${count === 1 ? "" : "es"} run${count === 1 ? "s" : ""} version ${version}`);
    return count;
  }

  /**
   * Pauses the writers of `tables` in every worker and resolves once each live worker says
   * it did (its insert in hand finished); the returned function ends the hold.
   */
  async hold(tables: readonly string[]): Promise<() => Promise<void>> {
    const hold = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const entry = () => ({ kind: "hold", hold, tables, until: Date.now() + HOLD_MS }) as const;
    await this.append(entry());
    // Renewed while the deploy runs: a backfill may take longer than HOLD_MS.
    let renewing = Promise.resolve();
    const renew = setInterval(() => {
      renewing = this.append(entry()).catch((error: unknown) => this.#options.say(`could not renew hold ${hold}: ${error instanceof Error ? error.message : String(error)}`));
    }, HOLD_RENEW_MS);
    let ended = false;
    const end = async () => {
      if (ended) return;
      ended = true;
      clearInterval(renew);
      await renewing;
      await this.append({ kind: "release_hold", hold });
    };
    try {
      const count = await this.#wait(`pause the writers of ${tables.join(", ")}`, ["worker", "all"], (p) => p.holds.includes(hold), () => undefined);
      this.#options.say(`writers of ${tables.join(", ")} paused in ${count} worker${count === 1 ? "" : "s"}`);
    } catch (error) {
      await end();
      throw error;
    }
    return end;
  }

  async #wait(what: string, roles: readonly ProcessRole[], done: (p: ProcessReport) => boolean, failed: (p: ProcessReport) => string | undefined): Promise<number> {
    const deadline = Date.now() + this.#options.waitMs;
    for (;;) {
      const live = (await this.#channel.processes(LIVE_MS)).filter((p) => roles.includes(p.role));
      for (const p of live) {
        const error = failed(p);
        if (error !== undefined) throw new IglooError("E_DEPLOY_SWITCH", `process ${p.id} (${p.role}) could not ${what}: ${error}`, { hint: "Fix the project and deploy again." });
      }
      const waiting = live.filter((p) => !done(p));
      if (waiting.length === 0) return live.length;
      if (Date.now() > deadline) {
        throw new IglooError("E_DEPLOY_TIMEOUT", `${waiting.length} process${waiting.length === 1 ? "" : "es"} did not ${what} within ${Math.round(this.#options.waitMs / 1000)} s: ${waiting.map((p) => `${p.id} (${p.role}, version ${p.version})`).join(", ")}.`, {
          hint: "See their logs (`igloo status` lists them); a process that is gone drops out of the list 10 s after its last heartbeat.",
        });
      }
      await Bun.sleep(200);
    }
  }
}

/** Refuses to run beside another deploy that holds writers (a hold its deploy stopped renewing has run out). */
function refuseBeside(state: ChannelState): void {
  for (const [hold, { tables, until }] of holdsAt(state, Date.now())) {
    throw new IglooError("E_DEPLOY_BUSY", `another deploy holds the writers of ${tables.join(", ")} (hold ${hold}).`, {
      hint: `Wait for it to finish; a hold whose deploy died runs out by itself, at ${new Date(until).toISOString()} at the latest.`,
    });
  }
}
