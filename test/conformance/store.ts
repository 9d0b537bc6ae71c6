/**
 * The Store conformance suite: written once against the seam, run against every
 * implementation (chDB here; the ClickHouse server adapter runs it too). Each test owns
 * its table (a unique name), so implementations can share one engine.
 */
import { describe, expect, test } from "bun:test";
import { readAll, type Store } from "../../runtime/store/store.ts";

let counter = 0;
const unique = (name: string) => `conf_${name}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
const bytes = (lines: readonly object[]) => new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join("\n"));

export function storeConformance(name: string, open: () => Promise<{ store: Store; cleanup(): Promise<void> }>): void {
  describe(`Store conformance: ${name}`, () => {
    const withStore = (body: (store: Store) => Promise<void>) => async () => {
      const { store, cleanup } = await open();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    };

    test(
      "reports capabilities from the engine",
      withStore(async (store) => {
        expect(store.capabilities.version).toMatch(/^\d+\.\d+/);
        expect(typeof store.capabilities.supportsQueryParams).toBe("boolean");
      }),
    );

    test(
      "creates, describes, lists and drops tables",
      withStore(async (store) => {
        const table = unique("ddl");
        await store.exec(`CREATE TABLE ${table} (a UInt32, b String DEFAULT 'x') ENGINE = MergeTree ORDER BY a`);
        expect(await store.listTables()).toContain(table);
        const columns = await store.describeTable(table);
        expect(columns?.map((c) => [c.name, c.type])).toEqual([
          ["a", "UInt32"],
          ["b", "String"],
        ]);
        expect(columns?.[1]?.defaultExpression).toBe("'x'");
        await store.exec(`DROP TABLE ${table}`);
        expect(await store.describeTable(table)).toBeUndefined();
      }),
    );

    test(
      "inserts JSONEachRow and reads it back exactly",
      withStore(async (store) => {
        const table = unique("rows");
        await store.exec(`CREATE TABLE ${table} (id UInt64, name String, amount Decimal(18, 4)) ENGINE = MergeTree ORDER BY id`);
        // Decimals as JSON numbers: ClickHouse before 19 refuses quoted decimals in JSON input.
        await store.insertJsonEachRow(table, bytes([{ id: "18446744073709551615", name: "max", amount: 1.5 }, { id: 1, name: "one", amount: 0.0001 }]));
        const { rows, columns } = await store.query(`SELECT id, name, amount FROM ${table} ORDER BY id`);
        expect(rows).toEqual([
          { id: "1", name: "one", amount: "0.0001" },
          { id: "18446744073709551615", name: "max", amount: "1.5000" },
        ]);
        expect(columns.map((c) => c.type)).toEqual(["UInt64", "String", "Decimal(18, 4)"]);
      }),
    );

    test(
      "a retried insert with the same dedup token is dropped, where the engine says it can",
      withStore(async (store) => {
        const dedup = store.capabilities.supportsInsertDeduplicationToken;
        const table = unique("dedup");
        await store.exec(`CREATE TABLE ${table} (id UInt32) ENGINE = MergeTree ORDER BY id${dedup ? " SETTINGS non_replicated_deduplication_window = 100" : ""}`);
        const body = bytes([{ id: 1 }, { id: 2 }]);
        await store.insertJsonEachRow(table, body, { dedupToken: "t1" });
        await store.insertJsonEachRow(table, body, { dedupToken: "t1" });
        await store.insertJsonEachRow(table, body, { dedupToken: "t2" });
        const { rows } = await store.query<{ c: string }>(`SELECT count() AS c FROM ${table}`);
        // The capability report must be true either way: the writer relies on it.
        expect(rows[0]?.c).toBe(dedup ? "4" : "6");
      }),
    );

    test(
      "binds query parameters instead of splicing them",
      withStore(async (store) => {
        const hostile = "x'); DROP TABLE t; --";
        if (!store.capabilities.supportsQueryParams) {
          // An engine that cannot bind must refuse, never splice the value into the SQL.
          await expect(readAll(store, "SELECT {v:String} AS v", { v: hostile })).rejects.toThrow(/param/i);
          return;
        }
        const { rows } = await readAll<{ v: string }>(store, "SELECT {v:String} AS v", { v: hostile });
        expect(rows[0]?.v).toBe(hostile);
      }),
    );

    test(
      "the read-only path refuses writes, DDL and settings escapes",
      withStore(async (store) => {
        const table = unique("ro");
        await store.exec(`CREATE TABLE ${table} (id UInt32) ENGINE = MergeTree ORDER BY id`);
        for (const sql of [
          `INSERT INTO ${table} VALUES (1)`,
          `DROP TABLE ${table}`,
          `SELECT 1; DROP TABLE ${table}`,
          "SET readonly = 0",
          "SET max_execution_time = 0",
          // A SETTINGS clause must not lift the limits either.
          "SELECT 1 SETTINGS max_result_rows = 0",
          `CREATE TABLE ${table}_2 (a UInt8) ENGINE = Memory`,
          `CREATE TEMPORARY TABLE ${table} (id UInt32) ENGINE = Memory`,
          "SELECT * FROM url('http://127.0.0.1:9/', 'CSV', 'a String')",
          "SELECT * FROM remote('127.0.0.1:9', system.one)",
        ]) {
          await expect(readAll(store, sql)).rejects.toThrow();
        }
        expect(await store.describeTable(table)).toBeDefined();
        expect(await store.listTables()).not.toContain(`${table}_2`);
        const { rows } = await readAll<{ c: string }>(store, `SELECT count() AS c FROM ${table}`);
        expect(rows[0]?.c).toBe("0");
      }),
    );

    test(
      "reads stream in batches, and closing one early cancels it in the engine",
      withStore(async (store) => {
        const table = unique("stream");
        await store.exec(`CREATE TABLE ${table} (id UInt32, s String) ENGINE = MergeTree ORDER BY id`);
        const lines = Array.from({ length: 20_000 }, (_, id) => ({ id, s: `row ${id} "quoted", [bracketed] {braced}\n` }));
        // Four inserts, four parts: the engine answers in several blocks.
        for (let part = 0; part < 4; part++) await store.insertJsonEachRow(table, bytes(lines.slice(part * 5000, (part + 1) * 5000)));
        const read = await store.read(`SELECT id, s FROM ${table} ORDER BY id`, undefined);
        expect(read.columns).toEqual([{ name: "id", type: "UInt32" }, { name: "s", type: "String" }]);
        let batches = 0;
        let rows = 0;
        for await (const batch of read.batches) {
          batches++;
          for (const row of batch) expect(JSON.parse(row)).toEqual(lines[rows++]!);
        }
        expect(rows).toBe(20_000);
        expect(batches).toBeGreaterThan(1);

        // An endless read: aborting its signal must stop it in the engine, not only here.
        const marker = unique("endless");
        const abort = new AbortController();
        // 20,000 rows joined with themselves three times, 8e12 rows, one JOIN per SELECT for
        // old servers. The engine answers only when the count is done: the read is still opening.
        const endless = store.read(
          `SELECT count() FROM (SELECT s FROM ${table} CROSS JOIN (SELECT id AS b FROM ${table}) AS jb) AS ja CROSS JOIN (SELECT id AS c FROM ${table}) AS jc WHERE s != '${marker}'`,
          undefined,
          { signal: abort.signal },
        );
        const draining = (async () => {
          for await (const _ of (await endless).batches);
        })();
        // Rows read so far by the marked query; an engine may list a cancelled query for a
        // while (chDB does, until the session's next query), but it reads no more rows.
        const progress = async () =>
          Number((await store.query<{ r: string }>(`SELECT sum(read_rows) AS r FROM system.processes WHERE query LIKE '%${marker}%' AND query NOT LIKE '%system.processes%'`)).rows[0]?.r ?? 0);
        const started = Date.now();
        while ((await progress()) === 0 && Date.now() - started < 5_000) await Bun.sleep(20);
        expect(await progress()).toBeGreaterThan(0);
        abort.abort();
        await expect(draining).rejects.toThrow();
        // Stopped: it reads no more rows (it may also be gone from the list by now).
        const at = await progress();
        await Bun.sleep(500);
        expect(await progress()).toBeLessThanOrEqual(at);
      }),
    );

    test(
      "a failed statement leaves nothing behind: the next one answers its own question",
      withStore(async (store) => {
        // chDB 3.4 returned a failed statement's (empty) output to the session's next one.
        for (let i = 0; i < 12; i++) {
          await expect(readAll(store, "SELECT throwIf(1)")).rejects.toThrow(/throwIf|Value passed/);
          expect((await readAll(store, `SELECT ${i} AS i`)).rows).toEqual([{ i }]);
          await expect(store.exec("SELECT throwIf(1)")).rejects.toThrow(/throwIf|Value passed/);
          expect((await store.query(`SELECT ${i} AS i`)).rows).toEqual([{ i }]);
        }
      }),
    );

    test(
      "engine errors carry the engine's code",
      withStore(async (store) => {
        const error = await store.query("SELECT * FROM conf_table_that_does_not_exist").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        expect((error as { engineCode?: string }).engineCode).toBe("60");
      }),
    );
  });
}
