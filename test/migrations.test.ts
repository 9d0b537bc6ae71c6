/** Production plans on a real engine (the shared chDB): tables and views in the plan, recorded migrations, drift. */
import { describe, expect, test } from "bun:test";
import { parseModels } from "../conventions/prisma/parse.ts";
import { parseViews } from "../conventions/views/parse.ts";
import { applyMigration, formatPlan, MIGRATIONS_TABLE, planMigration } from "../runtime/plan/migrations.ts";
import { ViewManager } from "../runtime/views/viewManager.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

const suffix = `${process.pid}`;
const model = `Mig_${suffix}`;
const { models } = parseModels([{ path: "datamodels/m.prisma", text: `model ${model} {\n  id String @id\n  n Int\n}` }]);
const { views } = parseViews([{ path: `views/mig_view_${suffix}.sql`, text: `SELECT n, count() AS c FROM ${model} GROUP BY n` }]);

describe("migrations", () => {
  test("plan lists tables and views; migrate applies and records; then nothing is left; drift is caught", async () => {
    const store = await sharedChdbStore();
    await store.exec(`DROP TABLE IF EXISTS ${MIGRATIONS_TABLE}`);
    const manager = new ViewManager(store, { stateTable: `igloo_views_mig_${suffix}` });
    const first = await planMigration(store, models.models, views, await manager.attach());
    expect(first.changes.map((c) => c.summary)).toContain(`create table ${model}`);
    expect(first.views.map((v) => v.kind)).toEqual(["create_view"]);
    expect(first.drift).toEqual([]);

    await applyMigration(store, first, models.models);
    const report = await manager.apply(views, models.models, { pauseWriter: async () => async () => {} });
    expect(report.errors).toEqual([]);
    const { rows } = await store.query<{ c: string }>(`SELECT count() AS c FROM ${MIGRATIONS_TABLE}`);
    expect(rows[0]!.c).toBe("1");

    const second = await planMigration(store, models.models, views, await manager.attach());
    expect(second.changes.filter((c) => c.table === model)).toEqual([]);
    expect(second.views).toEqual([]);

    await store.exec(`ALTER TABLE ${model} ADD COLUMN sneaky String`);
    const drifted = await planMigration(store, models.models, views, await manager.attach());
    expect(drifted.drift).toEqual([{ table: model, detail: "column sneaky was added" }]);
    expect(formatPlan(drifted)).toContain("DRIFT");
    expect(drifted.destructive).toBe(true);
  });
});
