/**
 * Table options on the embedded engine (chDB, ClickHouse 26.x): every option reaches the
 * table and does what it says, plans add, change and remove each one (and nothing is
 * planned again once applied, checked also by a seeded generator of option sets), a TTL
 * that may delete rows sooner is destructive, and what the engine refuses is reported at
 * the model's file and line before anything changes. Also through `igloo dev`'s path
 * (Pipeline.apply) and `igloo migrate`'s (planMigration, applyMigration).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ModelIR } from "../conventions/datamodels/ir.ts";
import { parseModels } from "../conventions/prisma/parse.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { Pipeline } from "../runtime/pipeline/pipeline.ts";
import { applyMigration, planMigration } from "../runtime/plan/migrations.ts";
import { liveColumns, planModels, type Change } from "../runtime/plan/plan.ts";
import { readTableOptions } from "../runtime/plan/tableOptions.ts";
import { createTableSql } from "../runtime/store/clickhouseSql.ts";
import { createStatements } from "../runtime/store/introspection.ts";
import type { Store } from "../runtime/store/store.ts";
import { parseTableOptions, type TableOptionsText } from "../runtime/store/tableDefinition.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

const FILE = "datamodels/Opt.prisma";
let counter = 0;
const unique = (name: string) => `opt_${name}_${process.pid}_${Date.now().toString(36)}_${counter++}`;

/** Model `Opt` on table `table`: `body` is its fields and attributes. */
function model(table: string, body: string): ModelIR {
  const { models, errors } = parseModels([{ path: FILE, text: `model Opt {\n${body}\n  @@map("${table}")\n}\n` }]);
  expect(errors.map((e) => e.message)).toEqual([]);
  return models.models[0]!;
}

async function plan(store: Store, m: ModelIR): Promise<readonly Change[]> {
  return planModels([m], await liveColumns(store, [m.table]), store.capabilities, await readTableOptions(store, [m])).changes;
}

/** Plans and applies; returns what was applied, after checking nothing is left to plan. */
async function migrate(store: Store, m: ModelIR): Promise<readonly Change[]> {
  const changes = await plan(store, m);
  for (const change of changes) await store.exec(change.sql);
  expect((await plan(store, m)).map((c) => c.summary)).toEqual([]);
  return changes;
}

async function options(store: Store, table: string): Promise<TableOptionsText> {
  const statement = (await createStatements(store, [table])).get(table);
  expect(statement).toBeDefined();
  return parseTableOptions(statement!);
}

/** Comparable form: maps as sorted entries. */
function plain(o: TableOptionsText) {
  const sorted = <V>(m: ReadonlyMap<string, V>) => [...m].sort(([a], [b]) => a.localeCompare(b));
  return { ttl: o.ttl, settings: sorted(o.settings), indexes: sorted(o.indexes), projections: sorted(o.projections), columns: sorted(o.columns) };
}

const summaries = (changes: readonly Change[]) => changes.map((c) => `${c.destructive ? "!" : "+"} ${c.kind === "table_option" ? c.option : c.kind} ${c.kind === "table_option" ? c.name : ""}`.trim());

const FIELDS = `  id String @id
  ts DateTime
  userId String
  n Int
  note String
  score Float`;

describe("every option reaches the table", () => {
  test("CREATE TABLE carries TTLs, codecs, indexes, projections and settings, and the engine acts on them", async () => {
    const store = await sharedChdbStore();
    const table = unique("all");
    const m = model(
      table,
      `  id String @id
  ts DateTime
  userId String @codec("ZSTD(3)")
  n Int @codec("Delta, LZ4")
  note String @ttl("ts + INTERVAL 1 DAY")
  @@ttl("ts + INTERVAL 30 DAY")
  @@skipIndex(name: "idx_user", expr: "userId", type: "bloom_filter(0.01)", granularity: 4)
  @@projection(name: "by_user", select: "SELECT userId, count() GROUP BY userId")
  @@settings(index_granularity: 4096, ttl_only_drop_parts: false, merge_with_ttl_timeout: 3600)`,
    );
    expect(summaries(await migrate(store, m))).toEqual(["+ create_table"]);

    const q = async <R>(sql: string) => (await store.query<R>(sql)).rows;
    const [tableRow] = await q<{ engine_full: string }>(`SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '${table}'`);
    expect(tableRow!.engine_full).toContain("TTL ts + toIntervalDay(30)");
    expect(tableRow!.engine_full).toContain("SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 4096, ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600");
    expect(await q(`SELECT name, type_full, expr, granularity FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = '${table}'`)).toEqual([
      { name: "idx_user", type_full: "bloom_filter(0.01)", expr: "userId", granularity: "4" },
    ]);
    expect(await q(`SELECT name, query FROM system.projections WHERE database = currentDatabase() AND table = '${table}'`)).toEqual([
      { name: "by_user", query: "SELECT userId, count() GROUP BY userId" },
    ]);
    expect(await q(`SELECT name, compression_codec FROM system.columns WHERE database = currentDatabase() AND table = '${table}' ORDER BY position`)).toEqual([
      { name: "id", compression_codec: "" },
      { name: "ts", compression_codec: "" },
      { name: "userId", compression_codec: "CODEC(ZSTD(3))" },
      { name: "n", compression_codec: "CODEC(Delta(4), LZ4)" },
      { name: "note", compression_codec: "" },
    ]);
    const [shown] = await q<{ statement: string }>(`SHOW CREATE TABLE ${table}`);
    expect(shown!.statement).toContain("`note` String TTL ts + toIntervalDay(1)");

    // The TTLs work: a row past the table TTL is deleted, a value past the column TTL reset.
    await store.exec(
      `INSERT INTO ${table} VALUES ('old', now() - INTERVAL 40 DAY, 'u1', 1, 'gone'), ('mid', now() - INTERVAL 5 DAY, 'u2', 2, 'reset'), ('new', now(), 'u3', 3, 'kept')`,
    );
    await store.exec(`OPTIMIZE TABLE ${table} FINAL`);
    expect(await q(`SELECT id, note FROM ${table} ORDER BY id`)).toEqual([
      { id: "mid", note: "" },
      { id: "new", note: "kept" },
    ]);
  });
});

describe("plans add, change and remove each option; nothing is planned again once applied", () => {
  test("a scripted sequence, with what is destructive", async () => {
    const store = await sharedChdbStore();
    const table = unique("seq");
    const at = (body: string) => model(table, `${FIELDS}\n${body}`);
    expect(summaries(await migrate(store, at("  @@settings(index_granularity: 4096)")))).toEqual(["+ create_table"]);
    await store.exec(`INSERT INTO ${table} VALUES ('a', now(), 'u', 1, 'x', 0.5)`);

    // Add one of each: a TTL where there was none deletes rows, so it is destructive.
    const added = await migrate(
      store,
      model(
        table,
        `  id String @id
  ts DateTime
  userId String @codec("ZSTD(3)")
  n Int
  note String @ttl("ts + INTERVAL 7 DAY")
  score Float
  @@ttl("ts + INTERVAL 30 DAY")
  @@skipIndex(name: "idx_user", expr: "userId", type: "bloom_filter(0.01)", granularity: 4)
  @@projection(name: "by_user", select: "SELECT userId, count() GROUP BY userId")
  @@settings(index_granularity: 4096, merge_with_ttl_timeout: 3600)`,
      ),
    );
    expect(summaries(added)).toEqual([
      "! ttl " + table,
      "+ codec userId",
      "! column_ttl note",
      "+ setting merge_with_ttl_timeout",
      "+ skip_index idx_user",
      "+ skip_index idx_user",
      "+ projection by_user",
      "+ projection by_user",
    ]);
    expect(added.map((c) => c.sql)).toContain(`ALTER TABLE \`${table}\` MATERIALIZE INDEX \`idx_user\``);
    expect(added[0]!.summary).toBe(`set the TTL of ${table} to ts + toIntervalDay(30) (was none; rows past it are deleted)`);

    // Change each: a longer TTL is safe, a shorter one destructive; an index and a
    // projection are dropped and added again.
    const changed = await migrate(
      store,
      model(
        table,
        `  id String @id
  ts DateTime
  userId String @codec("LZ4HC(9)")
  n Int
  note String @ttl("ts + INTERVAL 1 DAY")
  score Float
  @@ttl("ts + INTERVAL 2 MONTH")
  @@skipIndex(name: "idx_user", expr: "lower(userId)", type: "bloom_filter(0.01)", granularity: 4)
  @@projection(name: "by_user", select: "SELECT userId, max(score) GROUP BY userId")
  @@settings(index_granularity: 4096, merge_with_ttl_timeout: 7200)`,
      ),
    );
    expect(summaries(changed)).toEqual([
      "+ skip_index idx_user",
      "+ projection by_user",
      "+ ttl " + table,
      "+ codec userId",
      "! column_ttl note",
      "+ setting merge_with_ttl_timeout",
      "+ skip_index idx_user",
      "+ skip_index idx_user",
      "+ projection by_user",
      "+ projection by_user",
    ]);
    expect(changed.find((c) => c.kind === "table_option" && c.option === "column_ttl")!.summary).toBe(
      `set the TTL of column ${table}.note to ts + toIntervalDay(1) (was ts + toIntervalDay(7); values past it are reset to the column's default, which may be sooner than before)`,
    );
    const shorter = await plan(store, model(table, `${FIELDS}\n  @@ttl("ts + INTERVAL 59 DAY")\n  @@settings(index_granularity: 4096)`));
    expect(shorter.find((c) => c.kind === "table_option" && c.option === "ttl")).toMatchObject({ destructive: true });
    const other = await plan(store, model(table, `${FIELDS}\n  @@ttl("toDateTime(ts) + INTERVAL 1 YEAR")\n  @@settings(index_granularity: 4096)`));
    expect(other.find((c) => c.kind === "table_option" && c.option === "ttl")).toMatchObject({ destructive: true });

    // Remove each: nothing of it is left, and nothing of that is destructive.
    const removed = await migrate(store, at("  @@settings(index_granularity: 4096)"));
    expect(removed.map((c) => c.kind === "table_option" && c.stage)).toEqual(["before_columns", "before_columns", "after_columns", "after_columns", "after_columns", "after_columns"]);
    expect(summaries(removed)).toEqual(["+ skip_index idx_user", "+ projection by_user", "+ ttl " + table, "+ codec userId", "+ column_ttl note", "+ setting merge_with_ttl_timeout"]);
    expect(removed.map((c) => c.sql)).toEqual([
      `ALTER TABLE \`${table}\` DROP INDEX \`idx_user\``,
      `ALTER TABLE \`${table}\` DROP PROJECTION \`by_user\``,
      `ALTER TABLE \`${table}\` REMOVE TTL`,
      `ALTER TABLE \`${table}\` MODIFY COLUMN \`userId\` REMOVE CODEC`,
      `ALTER TABLE \`${table}\` MODIFY COLUMN \`note\` REMOVE TTL`,
      `ALTER TABLE \`${table}\` RESET SETTING merge_with_ttl_timeout`,
    ]);
    const fresh = unique("fresh");
    await store.exec(createTableSql({ ...at("  @@settings(index_granularity: 4096)"), table: fresh }, store.capabilities));
    expect(plain(await options(store, table))).toEqual(plain(await options(store, fresh)));
    expect((await store.query<{ c: string }>(`SELECT count() AS c FROM ${table}`)).rows).toEqual([{ c: "1" }]);
  });

  test("options come with the columns they name: an index on a new column after ADD COLUMN, dropped before DROP COLUMN", async () => {
    const store = await sharedChdbStore();
    const table = unique("cols");
    await migrate(store, model(table, FIELDS));
    const withTag = model(table, `${FIELDS}\n  tag String @codec("ZSTD(1)")\n  @@skipIndex(name: "idx_tag", expr: "tag", type: "set(100)")\n  @@projection(name: "by_tag", select: "SELECT tag, count() GROUP BY tag")`);
    expect(summaries(await migrate(store, withTag))).toEqual(["+ add_column", "+ skip_index idx_tag", "+ skip_index idx_tag", "+ projection by_tag", "+ projection by_tag"]);
    expect((await store.query(`SELECT compression_codec FROM system.columns WHERE database = currentDatabase() AND table = '${table}' AND name = 'tag'`)).rows).toEqual([{ compression_codec: "CODEC(ZSTD(1))" }]);
    expect(summaries(await migrate(store, model(table, FIELDS)))).toEqual(["+ skip_index idx_tag", "+ projection by_tag", "! drop_column"]);
    // A column's type change keeps its codec and TTL.
    await migrate(store, model(table, FIELDS.replace("n Int", 'n Int @codec("T64, LZ4")').replace("note String", 'note String @ttl("ts + INTERVAL 3 DAY")')));
    expect(summaries(await migrate(store, model(table, FIELDS.replace("n Int", 'n BigInt @codec("T64, LZ4")').replace("note String", 'note String @ttl("ts + INTERVAL 3 DAY")'))))).toEqual(["! modify_column"]);
  });
});

/** mulberry32: a small seeded generator, so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random set of options over FIELDS, and the TTL (in days) it sets, if any. */
function randomOptions(next: () => number): { body: string; ttlDays: number | undefined } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const maybe = (p: number) => next() < p;
  const codecs: Record<string, readonly string[]> = {
    userId: ["ZSTD(1)", "ZSTD(5)", "LZ4", "LZ4HC(9)"],
    n: ["Delta, ZSTD", "T64, LZ4", "DoubleDelta", "ZSTD(2)"],
    score: ["Gorilla, ZSTD", "FPC, LZ4", "ZSTD(3)"],
  };
  const fields = FIELDS.split("\n").map((line) => {
    const name = line.trim().split(" ")[0]!;
    let out = line;
    if (codecs[name] && maybe(0.5)) out += ` @codec("${pick(codecs[name]!)}")`;
    if (name === "note" && maybe(0.4)) out += ` @ttl("ts + INTERVAL ${1 + Math.floor(next() * 30)} DAY")`;
    return out;
  });
  const attributes: string[] = [];
  let ttlDays: number | undefined;
  if (maybe(0.6)) {
    ttlDays = 1 + Math.floor(next() * 90);
    attributes.push(`@@ttl("ts + INTERVAL ${ttlDays} DAY")`);
  }
  const indexes = [
    () => `@@skipIndex(name: "idx_user", expr: "userId", type: "bloom_filter(${pick(["0.01", "0.05", "0.1"])})", granularity: ${pick([1, 2, 4])})`,
    () => `@@skipIndex(name: "idx_n", expr: "${pick(["n", "n * 2"])}", type: "minmax", granularity: ${pick([1, 3])})`,
    () => `@@skipIndex(name: "idx_note", expr: "lower(note)", type: "${pick(["set(100)", "tokenbf_v1(256, 2, 0)"])}")`,
  ];
  for (const index of indexes) if (maybe(0.4)) attributes.push(index());
  const projections = [
    () => `@@projection(name: "p_user", select: "SELECT userId, ${pick(["count()", "sum(n)", "max(score)"])} GROUP BY userId")`,
    () => `@@projection(name: "p_sorted", select: "SELECT * ORDER BY ${pick(["userId", "n", "ts"])}")`,
  ];
  for (const projection of projections) if (maybe(0.35)) attributes.push(projection());
  const settings = ["index_granularity: 2048"];
  if (maybe(0.4)) settings.push(`merge_with_ttl_timeout: ${pick([3600, 7200, 14400])}`);
  if (maybe(0.3)) settings.push(`ttl_only_drop_parts: ${pick(["true", "false"])}`);
  if (maybe(0.3)) settings.push(`min_bytes_for_wide_part: ${pick([0, 1048576])}`);
  attributes.push(`@@settings(${settings.join(", ")})`);
  return { body: [...fields, ...attributes.map((a) => `  ${a}`)].join("\n"), ttlDays };
}

describe("generative: random option sets, one after another", () => {
  const seeds = process.env.IGLOO_SEED ? [Number(process.env.IGLOO_SEED)] : [1, 2, 3];
  for (const seed of seeds) {
    test(`seed ${seed}: each plan applies, leaves nothing to plan, and the table matches one made from the model`, async () => {
      const store = await sharedChdbStore();
      const table = unique(`gen${seed}`);
      const next = rng(seed);
      let ttlDays: number | undefined;
      for (let step = 0; step < 8; step++) {
        const generated = randomOptions(next);
        const m = model(table, generated.body);
        const context = `seed ${seed}, step ${step}:\n${generated.body}`;
        let applied: readonly Change[];
        try {
          applied = await migrate(store, m);
        } catch (error) {
          throw new Error(`${context}\n${error instanceof Error ? error.message : String(error)}`);
        }
        if (step > 0) {
          const ttl = applied.find((c) => c.kind === "table_option" && c.option === "ttl");
          const changed = ttlDays !== generated.ttlDays;
          expect({ context, planned: ttl !== undefined }).toEqual({ context, planned: changed });
          // Destructive exactly when rows may go sooner: a TTL added, or made shorter.
          if (ttl) expect({ context, destructive: ttl.destructive }).toEqual({ context, destructive: generated.ttlDays !== undefined && (ttlDays === undefined || generated.ttlDays < ttlDays) });
        }
        ttlDays = generated.ttlDays;
        await store.exec(`INSERT INTO ${table} SELECT toString(number), now(), toString(number % 7), number, 'n', number / 3 FROM numbers(${10 * (step + 1)})`);
        const fresh = unique(`gen${seed}_fresh`);
        await store.exec(createTableSql({ ...m, table: fresh }, store.capabilities));
        expect({ context, options: plain(await options(store, table)) }).toEqual({ context, options: plain(await options(store, fresh)) });
        await store.exec(`DROP TABLE ${fresh}`);
      }
    }, 60_000);
  }
});

describe("what the engine refuses is reported at the model's file and line; nothing changes", () => {
  test("an option the engine refuses for the column's type", async () => {
    const store = await sharedChdbStore();
    const table = unique("refused");
    const m = model(table, FIELDS.replace("note String", 'note String @codec("Delta, ZSTD")'));
    const error = await readTableOptions(store, [m]).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe("E_MODEL_ON_SERVER");
    expect(error?.message).toStartWith(`${FILE}:6:15: model \`Opt\`: the engine refuses its table: Codec Delta is not applicable for String`);
    expect(await store.listTables()).not.toContain(table);
    expect((await store.listTables()).filter((t) => t.startsWith("igloo_trial_"))).toEqual([]);
  });

  test("a projection on ReplacingMergeTree, which this engine takes only with a setting saying what merges do to it", async () => {
    const store = await sharedChdbStore();
    const table = unique("replacing");
    const projection = '  @@projection(name: "by_user", select: "SELECT userId, count() GROUP BY userId")';
    const refused = model(table, `${FIELDS}\n  @@engine(ReplacingMergeTree)\n${projection}`);
    const error = await readTableOptions(store, [refused]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toStartWith(`${FILE}:9:3: model \`Opt\`: the engine refuses its table: Projections are not supported for ReplacingMergeTree`);
    const taken = model(table, `${FIELDS}\n  @@engine(ReplacingMergeTree)\n${projection}\n  @@settings(deduplicate_merge_projection_mode: "rebuild")`);
    expect(summaries(await migrate(store, taken))).toEqual(["+ create_table"]);
  });

  test("a setting the engine fixes when the table is made", async () => {
    const store = await sharedChdbStore();
    const table = unique("fixed");
    await migrate(store, model(table, `${FIELDS}\n  @@settings(index_granularity: 4096)`));
    const error = await plan(store, model(table, `${FIELDS}\n  @@ttl("ts + INTERVAL 1 DAY")\n  @@settings(index_granularity: 1024)`)).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe("E_MODEL_ON_SERVER");
    expect(error?.message).toBe(
      `${FILE}:9:3: model \`Opt\`: cannot change setting \`index_granularity\` of the existing table \`${table}\` from 4096 to 1024: Setting 'index_granularity' is readonly for storage 'MergeTree'. This engine cannot change it on an existing table: keep index_granularity: 4096 in @@settings, or give the model a new table (@@map).`,
    );
    expect((await options(store, table)).ttl).toBeUndefined();
  });
});

describe("through igloo dev and igloo migrate", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  test("Pipeline.apply creates the table with its TTL, holds a shorter TTL until allowed, then has nothing left to do", async () => {
    const dir = tempDir("table-options");
    dirs.push(dir);
    const stream = await EmbeddedLog.open({ dir: join(dir, "stream") });
    const store = await sharedChdbStore();
    const pipeline = new Pipeline({ stream, store, logger: consoleLogger({ quiet: true }) });
    const table = unique("dev");
    try {
      const first = await pipeline.apply([model(table, `${FIELDS}\n  @@ttl("ts + INTERVAL 30 DAY")\n  @@skipIndex(name: "idx_user", expr: "userId", type: "minmax")`)]);
      expect(first.applied.filter((c) => c.table === table).map((c) => c.kind)).toEqual(["create_table"]);
      expect((await options(store, table)).ttl).toBe("ts + toIntervalDay(30)");

      const shorter = model(table, `${FIELDS}\n  @@ttl("ts + INTERVAL 7 DAY")\n  @@skipIndex(name: "idx_user", expr: "userId", type: "minmax")`);
      const held = await pipeline.apply([shorter]);
      expect(held.held.map((c) => c.summary)).toEqual([`set the TTL of ${table} to ts + toIntervalDay(7) (was ts + toIntervalDay(30); rows past it are deleted, which may be sooner than before)`]);
      expect((await options(store, table)).ttl).toBe("ts + toIntervalDay(30)");

      const allowed = await pipeline.apply([shorter], { allowDestructive: true });
      expect(allowed.applied.filter((c) => c.table === table).map((c) => c.kind)).toEqual(["table_option"]);
      expect((await options(store, table)).ttl).toBe("ts + toIntervalDay(7)");
      const again = await pipeline.apply([shorter]);
      expect([...again.applied, ...again.held].filter((c) => c.table === table)).toEqual([]);
    } finally {
      await pipeline.close();
      await stream.close();
    }
  });

  test("planMigration and applyMigration carry the options; the next plan is empty", async () => {
    const store = await sharedChdbStore();
    const table = unique("mig");
    const models = [model(table, `${FIELDS}\n  @@ttl("ts + INTERVAL 90 DAY")\n  @@projection(name: "by_user", select: "SELECT userId, count() GROUP BY userId")`)];
    const first = await planMigration(store, models, [], new Map());
    expect(first.changes.filter((c) => c.table === table).map((c) => c.kind)).toEqual(["create_table"]);
    await applyMigration(store, first, models);
    expect((await planMigration(store, models, [], new Map())).changes.filter((c) => c.table === table)).toEqual([]);
    const longer = [model(table, `${FIELDS}\n  @@ttl("ts + INTERVAL 1 YEAR")`)];
    const second = await planMigration(store, longer, [], new Map());
    expect(second.changes.filter((c) => c.table === table).map((c) => [c.kind === "table_option" ? c.option : c.kind, c.destructive])).toEqual([
      ["projection", false],
      ["ttl", false],
    ]);
    expect(second.destructive).toBe(false);
    await applyMigration(store, second, longer);
    expect((await planMigration(store, longer, [], new Map())).changes.filter((c) => c.table === table)).toEqual([]);
  });
});
