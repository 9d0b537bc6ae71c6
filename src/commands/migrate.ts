/**
 * `igloo plan [--json]` and `igloo migrate [--allow-destructive]`, run in a project or a
 * build directory, against the ClickHouse server in configuration.
 *
 * Migrate builds views too. An incremental view's backfill counts each existing row once
 * only if no table writer inserts meanwhile: the running workers' writers of its table are
 * held through the deploy channel while it runs (runtime/deploy).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { loadProjectOrThrow } from "../../conventions/project.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import { applyMigration, formatPlan, planMigration, refuseUnsafePlan, type MigrationPlan } from "../../runtime/plan/migrations.ts";
import { ViewManager } from "../../runtime/views/viewManager.ts";
import { DeployChannel } from "../../runtime/deploy/channel.ts";
import { DeploySteps } from "../../runtime/deploy/rollout.ts";
import { withStore } from "../engines.ts";
import { MANIFEST_FILE, readManifest } from "../manifest.ts";

function deployable(dir: string): { models: readonly ModelIR[]; views: readonly ViewIR[] } {
  return existsSync(join(dir, MANIFEST_FILE)) ? readManifest(dir) : loadProjectOrThrow(dir);
}

export async function runPlan(dir: string, options: { apply: boolean; allowDestructive: boolean }): Promise<MigrationPlan & { text: string }> {
  const { models, views } = deployable(dir);
  return await withStore(dir, async (store) => {
    const manager = new ViewManager(store);
    const plan = await planMigration(store, models, views, await manager.attach());
    const text = formatPlan(plan);
    if (!options.apply) return { ...plan, text };
    refuseUnsafePlan(plan, text, { allowDestructive: options.allowDestructive, refusing: "Refusing to migrate a database that changed outside Igloo.", nothing: "Nothing was applied." });
    await applyMigration(store, plan, models);
    // Each incremental view's backfill runs while the writers of its table are held in
    // every running worker (they follow the deploy channel), as in `igloo deploy`.
    const channel = new DeployChannel(store);
    const steps = new DeploySteps(channel, (await channel.state()).seq, { waitMs: 60_000, say: (line) => console.log(line) });
    const report = await manager.apply(views, models, { pauseWriter: (table) => steps.hold([table]) });
    if (report.errors.length > 0) throw report.errors[0]!;
    return { ...plan, text };
  });
}
