/**
 * The Store conformance suite: written once against the seam, run against every
 * implementation (chDB here; the ClickHouse server adapter runs it too). Each test owns
 * its table (a unique name), so implementations can share one engine.
 */
import { describe, expect, test } from "bun:test";
import type { Store } from "../../runtime/store/store.ts";

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
          await expect(store.readOnlyQuery("SELECT {v:String} AS v", { v: hostile })).rejects.toThrow(/param/i);
          return;
        }
        const { rows } = await store.readOnlyQuery<{ v: string }>("SELECT {v:String} AS v", { v: hostile });
        expect(rows[0]?.v).toBe(hostile);
      }),
    );

    test(
      "the read-only path refuses writes, DDL and settings escapes",
      withStore(async (store) => {
        const table = unique("ro");
        await store.exec(`CREATE TABLE ${table} (id UInt32) ENGINE = MergeTree ORDER BY id`);
        for (const sql of [`INSERT INTO ${table} VALUES (1)`, `DROP TABLE ${table}`, `SELECT 1; DROP TABLE ${table}`, "SET readonly = 0", `CREATE TABLE ${table}_2 (a UInt8) ENGINE = Memory`]) {
          await expect(store.readOnlyQuery(sql)).rejects.toThrow();
        }
        expect(await store.describeTable(table)).toBeDefined();
        const { rows } = await store.readOnlyQuery<{ c: string }>(`SELECT count() AS c FROM ${table}`);
        expect(rows[0]?.c).toBe("0");
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
