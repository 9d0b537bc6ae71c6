/**
 * `igloo plan [--json]` and `igloo migrate [--allow-destructive]`, run in a project or a
 * build directory, against the ClickHouse server in configuration.
 *
 * Migrate builds views too, and an incremental view's backfill counts each existing row
 * once only if no table writer inserts meanwhile: run it while no worker of this
 * deployment runs (ingest processes may keep running; their records wait in Kafka).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { IglooError } from "../../conventions/errors.ts";
import { loadProjectOrThrow } from "../../conventions/project.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import { applyMigration, formatPlan, planMigration, type MigrationPlan } from "../../runtime/plan/migrations.ts";
import { ViewManager } from "../../runtime/views/viewManager.ts";
import { loadConfig } from "../config.ts";
import { openStore } from "../engines.ts";
import { MANIFEST_FILE, readManifest } from "../manifest.ts";

function deployable(dir: string): { models: readonly ModelIR[]; views: readonly ViewIR[] } {
  return existsSync(join(dir, MANIFEST_FILE)) ? readManifest(dir) : loadProjectOrThrow(dir);
}

export async function runPlan(dir: string, options: { apply: boolean; allowDestructive: boolean }): Promise<MigrationPlan & { text: string }> {
  const { models, views } = deployable(dir);
  const store = await openStore(loadConfig(dir, process.env, ["IGLOO_CLICKHOUSE_URL"]));
  try {
    const manager = new ViewManager(store);
    const plan = await planMigration(store, models, views, await manager.attach());
    const text = formatPlan(plan);
    if (!options.apply) return { ...plan, text };
    if (plan.drift.length > 0) {
      throw new IglooError("E_DRIFT", `${text}\nRefusing to migrate a database that changed outside Igloo.`, {
        hint: "Bring the listed tables back to what the last migration left, or change the project to match them.",
      });
    }
    if (plan.destructive && !options.allowDestructive) {
      throw new IglooError("E_DESTRUCTIVE", `${text}\nNothing was applied.`, { hint: "Re-run with --allow-destructive to apply changes that drop or rewrite data." });
    }
    await applyMigration(store, plan, models);
    const report = await manager.apply(views, models, { pauseWriter: async () => async () => {} });
    if (report.errors.length > 0) throw report.errors[0]!;
    return { ...plan, text };
  } finally {
    await store.close();
  }
}
