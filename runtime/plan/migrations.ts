/**
 * Production schema changes: a plan against the live database, refused when the database
 * drifted (changed outside Igloo since the last migration), applied only with consent for
 * anything that drops or rewrites data, and recorded in `igloo_migrations`.
 *
 * Drift is found by comparing the live columns of Igloo's tables with the snapshot the
 * last migration recorded. Views are part of the plan: created, rebuilt (and backfilled)
 * or dropped as their SQL says.
 */
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import { compileValidator } from "../../conventions/datamodels/validator.ts";
import { IglooError } from "../../conventions/errors.ts";
import { DEAD_LETTER_MODEL } from "../deadLetters/deadLetters.ts";
import { storableModel } from "../store/clickhouseSql.ts";
import { prepareTypeChanges } from "./convertible.ts";
import { RECORD_IDS_MODEL } from "../ingest/recordIds.ts";
import type { ColumnInfo, Store } from "../store/store.ts";
import { liveColumns, planModels, type Change } from "./plan.ts";
import { readTableOptions, refuseUnsupportedOptions } from "./tableOptions.ts";

export const MIGRATIONS_TABLE = "igloo_migrations";

export type ViewChange = { readonly kind: "create_view" | "rebuild_view" | "drop_view"; readonly view: string; readonly summary: string };

export interface Drift {
  readonly table: string;
  readonly detail: string;
}

export interface MigrationPlan {
  readonly changes: readonly Change[];
  readonly views: readonly ViewChange[];
  readonly drift: readonly Drift[];
  readonly destructive: boolean;
}

type Snapshot = Record<string, { name: string; type: string }[]>;

function snapshotOf(live: ReadonlyMap<string, readonly ColumnInfo[]>): Snapshot {
  return Object.fromEntries([...live].map(([table, columns]) => [table, columns.map((c) => ({ name: c.name, type: c.type }))]));
}

async function ensureTable(store: Store): Promise<void> {
  await store.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id UInt64, applied_at String, plan String, snapshot String) ENGINE = MergeTree ORDER BY id`);
}

async function lastSnapshot(store: Store): Promise<Snapshot | undefined> {
  await ensureTable(store);
  const { rows } = await store.query<{ snapshot: string }>(`SELECT snapshot FROM ${MIGRATIONS_TABLE} ORDER BY id DESC LIMIT 1`);
  return rows[0] ? (JSON.parse(rows[0].snapshot) as Snapshot) : undefined;
}

function findDrift(recorded: Snapshot | undefined, live: Snapshot): Drift[] {
  if (!recorded) return [];
  const drift: Drift[] = [];
  for (const [table, columns] of Object.entries(recorded)) {
    const now = live[table];
    if (!now) {
      drift.push({ table, detail: "the table was dropped" });
      continue;
    }
    const was = new Map(columns.map((c) => [c.name, c.type]));
    const is = new Map(now.map((c) => [c.name, c.type]));
    for (const [name, type] of was) {
      if (!is.has(name)) drift.push({ table, detail: `column ${name} was dropped` });
      else if (is.get(name) !== type) drift.push({ table, detail: `column ${name} changed from ${type} to ${is.get(name)}` });
    }
    for (const name of is.keys()) if (!was.has(name)) drift.push({ table, detail: `column ${name} was added` });
  }
  return drift;
}

export async function planMigration(store: Store, models: readonly ModelIR[], views: readonly ViewIR[], liveViews: ReadonlyMap<string, string>): Promise<MigrationPlan> {
  // What `igloo start` would refuse on this server (a default its older column types
  // cannot hold) is refused before any table is made.
  for (const model of models) {
    try {
      compileValidator(storableModel(model, store.capabilities));
    } catch (error) {
      throw new IglooError("E_MODEL_ON_SERVER", `${model.source.file}: model \`${model.name}\`: ${error instanceof Error ? error.message : String(error)}.`, {
        hint: "This ClickHouse server has no DateTime64/Date32: its DateTime holds 1970 to 2106 in whole seconds, its Date 1970 to 2149. Change the default, or use a newer server.",
      });
    }
  }
  refuseUnsupportedOptions(models, store.capabilities);
  const all = [DEAD_LETTER_MODEL, RECORD_IDS_MODEL, ...models.filter((m) => !m.streamOnly)];
  const recorded = await lastSnapshot(store);
  // Tables the last migration recorded are looked at too: a rollback's models may not
  // name a table a later version made, which is still there, not dropped.
  const tables = [...new Set([...all.map((m) => m.table), ...Object.keys(recorded ?? {})])];
  const live = await liveColumns(store, tables);
  // On several replicas, each is compared with the record: one that changed alone is drift too.
  const replicas = store.replicaStores?.() ?? [];
  const drift: Drift[] = [];
  if (replicas.length > 1) {
    for (const { replica, store: one } of replicas) {
      for (const d of findDrift(recorded, snapshotOf(await liveColumns(one, tables)))) drift.push({ table: d.table, detail: `${d.detail} (on replica ${replica})` });
    }
  } else drift.push(...findDrift(recorded, snapshotOf(live)));
  const { changes } = planModels(all, live, store.capabilities, await readTableOptions(store, all));
  const viewChanges: ViewChange[] = [];
  for (const view of views) {
    const current = liveViews.get(view.name);
    if (current === undefined) viewChanges.push({ kind: "create_view", view: view.name, summary: `create view ${view.name} (backfilled from existing rows)` });
    else if (current !== view.sql) viewChanges.push({ kind: "rebuild_view", view: view.name, summary: `rebuild view ${view.name} (its SQL changed; rebuilt and backfilled)` });
  }
  for (const name of liveViews.keys()) {
    if (!views.some((v) => v.name === name)) viewChanges.push({ kind: "drop_view", view: name, summary: `drop view ${name}` });
  }
  return { changes, views: viewChanges, drift, destructive: changes.some((c) => c.destructive) };
}

export function formatPlan(plan: MigrationPlan): string {
  const lines: string[] = [];
  if (plan.drift.length > 0) {
    lines.push("DRIFT: the database changed outside Igloo since the last migration:");
    for (const d of plan.drift) lines.push(`  ${d.table}: ${d.detail}`);
  }
  if (plan.changes.length === 0 && plan.views.length === 0) lines.push("No changes: the database matches the project.");
  for (const c of plan.changes) lines.push(`  ${c.destructive ? "!" : "+"} ${c.summary}`);
  for (const v of plan.views) lines.push(`  ${v.kind === "drop_view" ? "-" : "+"} ${v.summary}`);
  if (plan.destructive) lines.push("Changes marked ! drop or rewrite data: `igloo migrate --allow-destructive` applies them.");
  return lines.join("\n");
}

/**
 * Refuses a plan over a database that drifted, and one that drops or rewrites data unless
 * allowed: `igloo migrate` and `igloo deploy` say the same, each in its own words.
 */
export function refuseUnsafePlan(plan: MigrationPlan, text: string, options: { allowDestructive: boolean; refusing: string; nothing: string }): void {
  if (plan.drift.length > 0) {
    throw new IglooError("E_DRIFT", `${text}\n${options.refusing}`, {
      hint: "Bring the listed tables back to what the last migration left, or change the project to match them.",
    });
  }
  if (plan.destructive && !options.allowDestructive) {
    throw new IglooError("E_DESTRUCTIVE", `${text}\n${options.nothing}`, { hint: "Re-run with --allow-destructive to apply changes that drop or rewrite data." });
  }
}

/** Applies the table changes and records the resulting schema; views are applied by the caller. */
export async function applyMigration(store: Store, plan: MigrationPlan, models: readonly ModelIR[]): Promise<void> {
  for (const change of await prepareTypeChanges(store, plan.changes)) await store.exec(change.sql);
  await recordMigration(store, plan, models);
}

/** Records the live schema of the models' tables after `plan` was applied: the next drift check compares with it. */
export async function recordMigration(store: Store, plan: MigrationPlan, models: readonly ModelIR[]): Promise<void> {
  await ensureTable(store);
  const all = [DEAD_LETTER_MODEL, RECORD_IDS_MODEL, ...models.filter((m) => !m.streamOnly)];
  const snapshot = snapshotOf(await liveColumns(store, all.map((m) => m.table)));
  const record = JSON.stringify({ changes: plan.changes.map((c) => c.summary), views: plan.views.map((v) => v.summary) });
  const row = { id: Date.now(), applied_at: new Date().toISOString(), plan: record, snapshot: JSON.stringify(snapshot) };
  await store.insertJsonEachRow(MIGRATIONS_TABLE, new TextEncoder().encode(JSON.stringify(row)));
}
