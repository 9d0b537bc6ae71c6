/**
 * `@map`: a field stored under another column name keeps its values, also across the
 * rename the README recommends it for (the field renamed, `@map` keeping the old column).
 * Records travel with field names, so functions read them as the model says; the table
 * writer puts each value in its column. Before this was fixed every value of a mapped
 * field was acknowledged and stored as NULL (the engine skips fields it does not know).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { parseModels } from "../conventions/prisma/parse.ts";
import { inlineExecutor } from "../runtime/functions/executor.ts";
import { FunctionRunner } from "../runtime/functions/functionRunner.ts";
import { ingest } from "../runtime/ingest/ingest.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { Pipeline } from "../runtime/pipeline/pipeline.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const table = `mapped_${process.pid}`;
const copies = `mapped_copy_${process.pid}`;
const model = (fields: string) => {
  const { models, errors } = parseModels([
    { path: "datamodels/m.prisma", text: `model Mapped {\n  id String @id\n${fields}\n  @@map("${table}")\n}` },
    { path: "datamodels/c.prisma", text: `model Copy {\n  id String @id\n  total Int? @map("total_col")\n  @@map("${copies}")\n}` },
  ]);
  expect(errors).toEqual([]);
  return models.models;
};

test("values of @map fields land in their columns, before and after a rename that keeps the column", async () => {
  const dir = tempDir("map");
  dirs.push(dir);
  const stream = await EmbeddedLog.open({ dir: join(dir, "stream") });
  const store = await sharedChdbStore();
  const pipeline = new Pipeline({ stream, store, logger: consoleLogger({ quiet: true }) });
  try {
    await pipeline.apply(model(`  b Int? @map("bcol")\n  note String @map("note_text")`));
    const first = await ingest(stream, pipeline.target("Mapped")!, [{ id: "r1", b: 5, note: "first" }]);
    expect(first).toMatchObject({ accepted: 1, rejected: 0 });

    // The documented rename: the field is now `count`, its column stays `bcol`.
    await pipeline.apply(model(`  count Int? @map("bcol")\n  note String @map("note_text")`));
    const second = await ingest(stream, pipeline.target("Mapped")!, [{ id: "r2", count: 7, note: "second" }]);
    expect(second).toMatchObject({ accepted: 1, rejected: 0 });

    expect(await pipeline.drain(10_000)).toBe(true);
    const { rows } = await store.query(`SELECT id, bcol, note_text FROM ${table} ORDER BY id`);
    expect(rows).toEqual([
      { id: "r1", bcol: 5, note_text: "first" },
      { id: "r2", bcol: 7, note_text: "second" },
    ]);
    expect((await store.describeTable(table))!.map((c) => c.name)).toEqual(["id", "bcol", "note_text"]);

    // A function reads records by the model's field names, whichever name they were
    // ingested under, and its results land in their columns too.
    const runner = new FunctionRunner(stream, {
      name: `copy_${process.pid}`,
      file: "functions/copy.ts",
      from: "Mapped",
      to: "Copy",
      targets: (name) => pipeline.target(name),
      executor: inlineExecutor((row) => ({ id: (row as Record<string, unknown>).id, total: (row as Record<string, unknown>).count }), { now: () => new Date(), log: console }),
    });
    await runner.start();
    try {
      const deadline = Date.now() + 10_000;
      let copied: Record<string, unknown>[] = [];
      while (copied.length < 2 && Date.now() < deadline) {
        await Bun.sleep(50);
        copied = (await store.query(`SELECT id, total_col FROM ${copies} ORDER BY id`)).rows;
      }
      expect(copied).toEqual([
        { id: "r1", total_col: 5 },
        { id: "r2", total_col: 7 },
      ]);
    } finally {
      await runner.stop();
    }
  } finally {
    await pipeline.close();
    await stream.close();
  }
});
