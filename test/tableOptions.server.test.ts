/**
 * Table options on Debian's ClickHouse 18.16 server, which has none but table settings:
 * the probes say so, a model using one is refused at its attribute's file:line:column
 * before anything is created (by `igloo migrate`'s plan and by `igloo dev`'s apply), and
 * settings, which it has, are created, compared and, where it cannot change them, refused.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ModelIR } from "../conventions/datamodels/ir.ts";
import { parseModels } from "../conventions/prisma/parse.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { Pipeline } from "../runtime/pipeline/pipeline.ts";
import { applyMigration, planMigration } from "../runtime/plan/migrations.ts";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { sharedClickHouse } from "./helpers/clickhouseServer.ts";

const FILE = "datamodels/Opt.prisma";
let counter = 0;
const unique = (name: string) => `opt18_${name}_${process.pid}_${Date.now().toString(36)}_${counter++}`;

/**
 * A database of this test's own on the shared server: migrations and the pipeline create
 * Igloo's own tables (igloo_dead_letters, igloo_migrations...), which in the shared
 * database `igloo` would be another test's (e2e.production plans an empty one).
 */
const DATABASE = `opt18_${process.pid}`;
let opened: Promise<ClickHouseStore> | undefined;
function sharedStore(): Promise<ClickHouseStore> {
  opened ??= sharedClickHouse().then(async (s) => {
    const admin = await ClickHouseStore.connect({ url: s.url, user: s.user, password: s.password, database: s.database });
    await admin.exec(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
    await admin.close();
    return await ClickHouseStore.connect({ url: s.url, user: s.user, password: s.password, database: DATABASE });
  });
  return opened;
}
const dirs: string[] = [];
afterAll(async () => {
  const store = await opened;
  await store?.exec(`DROP DATABASE IF EXISTS ${DATABASE}`).catch(() => undefined);
  await store?.close();
  dirs.forEach(removeDir);
});

function model(table: string, body: string): ModelIR {
  const { models, errors } = parseModels([{ path: FILE, text: `model Opt {\n  id String @id\n  ts DateTime\n${body}\n  @@map("${table}")\n}\n` }]);
  expect(errors.map((e) => e.message)).toEqual([]);
  return models.models[0]!;
}

async function refusal(work: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return work.then(
    () => ({ message: "(no error)" }),
    (error: unknown) => error as { code?: string; message: string },
  );
}

const leftovers = async (store: ClickHouseStore) => (await store.listTables()).filter((t) => t.startsWith("igloo_trial_") || t.startsWith("igloo_probe_"));

describe("ClickHouse 18.16: table options", () => {
  test("the probes find no TTL, codecs, data-skipping indexes or projections, and leave no table behind", async () => {
    const store = await sharedStore();
    expect(store.capabilities).toMatchObject({ supportsTableTtl: false, supportsColumnTtl: false, supportsCodecs: false, supportsSkipIndexes: false, supportsProjections: false });
    // As the engine itself says when asked to make such a table.
    const table = unique("probe");
    await expect(store.exec(`CREATE TABLE ${table} (id UInt64, ts DateTime) ENGINE = MergeTree() ORDER BY id TTL ts + INTERVAL 1 DAY`)).rejects.toThrow(/Syntax error/);
    expect(await leftovers(store)).toEqual([]);
  });

  test("igloo migrate's plan refuses a model with @@ttl at the attribute, and nothing is created", async () => {
    const store = await sharedStore();
    const table = unique("ttl");
    const before = await store.listTables();
    const error = await refusal(planMigration(store, [model(table, '  @@ttl("ts + INTERVAL 30 DAY")')], [], new Map()));
    expect(error.code).toBe("E_MODEL_ON_SERVER");
    expect(error.message).toBe(
      `${FILE}:4:3: model \`Opt\`: @@ttl needs a ClickHouse server with TTL (19.6 or later); this one (${store.capabilities.version}) has none. Remove the option from the model, or use a newer ClickHouse server.`,
    );
    expect(store.capabilities.version).toStartWith("18.16");
    expect(await store.listTables()).toEqual(before);
  });

  test("igloo dev's apply refuses every option the server lacks, one line each, before anything is created", async () => {
    const store = await sharedStore();
    const dir = tempDir("table-options-18");
    dirs.push(dir);
    const stream = await EmbeddedLog.open({ dir: join(dir, "stream") });
    const pipeline = new Pipeline({ stream, store, logger: consoleLogger({ quiet: true }) });
    const table = unique("dev");
    const before = await store.listTables();
    try {
      const m = model(
        table,
        `  note String @codec("ZSTD(3)") @ttl("ts + INTERVAL 1 DAY")
  @@skipIndex(name: "idx_note", expr: "note", type: "minmax")
  @@projection(name: "p", select: "SELECT note, count() GROUP BY note")`,
      );
      const error = await refusal(pipeline.apply([m]));
      expect(error.code).toBe("E_MODEL_ON_SERVER");
      const version = store.capabilities.version;
      expect(error.message.split("\n")).toEqual([
        `${FILE}:4:33: model \`Opt\`: @ttl on field \`note\` needs a ClickHouse server with column TTL (19.6 or later); this one (${version}) has none`,
        `${FILE}:4:15: model \`Opt\`: @codec on field \`note\` needs a ClickHouse server with column codecs (19.1 or later); this one (${version}) has none`,
        `${FILE}:5:3: model \`Opt\`: @@skipIndex needs a ClickHouse server with data-skipping indexes (20.1 or later, or 19.x with allow_experimental_data_skipping_indices = 1); this one (${version}) has none`,
        `${FILE}:6:3: model \`Opt\`: @@projection needs a ClickHouse server with projections (21.6 or later); this one (${version}) has none. Remove the option from the model, or use a newer ClickHouse server.`,
      ]);
      expect(await store.listTables()).toEqual(before);
    } finally {
      await pipeline.close();
      await stream.close();
    }
  });

  test("settings it has: created, compared (nothing planned again), and a change it cannot make refused at @@settings", async () => {
    const store = await sharedStore();
    const table = unique("settings");
    const models = [model(table, "  n Int\n  @@settings(index_granularity: 4096)")];
    const first = await planMigration(store, models, [], new Map());
    expect(first.changes.filter((c) => c.table === table).map((c) => c.kind)).toEqual(["create_table"]);
    await applyMigration(store, first, models);
    const { rows } = await store.query<{ engine_full: string }>(`SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '${table}'`);
    expect(rows[0]!.engine_full).toContain("SETTINGS index_granularity = 4096");
    expect((await planMigration(store, models, [], new Map())).changes.filter((c) => c.table === table)).toEqual([]);

    const error = await refusal(planMigration(store, [model(table, "  n Int\n  @@settings(index_granularity: 2048)")], [], new Map()));
    expect(error.code).toBe("E_MODEL_ON_SERVER");
    expect(error.message).toStartWith(`${FILE}:5:3: model \`Opt\`: cannot change setting \`index_granularity\` of the existing table \`${table}\` from 4096 to 2048: Syntax error`);
    expect(error.message).toEndWith("This engine cannot change it on an existing table: keep index_granularity: 4096 in @@settings, or give the model a new table (@@map).");

    // A table without options is left alone (no trial table), as before options existed.
    const plainTable = unique("plain");
    const plainModels = [model(plainTable, "  n Int")];
    await applyMigration(store, await planMigration(store, plainModels, [], new Map()), plainModels);
    expect((await planMigration(store, plainModels, [], new Map())).changes.filter((c) => c.table === plainTable)).toEqual([]);
    expect(await leftovers(store)).toEqual([]);
  });
});
