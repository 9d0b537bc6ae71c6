/**
 * The Store conformance suite against a real ClickHouse server process (Debian's
 * clickhouse-server), plus what only a server adapter has: settings the server does not
 * know, and large request bodies over HTTP.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { storeConformance } from "./conformance/store.ts";
import { serverUrl, sharedClickHouse } from "./helpers/clickhouseServer.ts";
import { readAll } from "../runtime/store/store.ts";
import { createTableSql } from "../runtime/store/clickhouseSql.ts";
import { DEAD_LETTER_MODEL } from "../runtime/deadLetters/deadLetters.ts";

let opened: Promise<ClickHouseStore> | undefined;
function sharedStore(): Promise<ClickHouseStore> {
  opened ??= sharedClickHouse().then((s) =>
    ClickHouseStore.connect({ url: s.url, user: s.user, password: s.password, database: s.database, reader: { url: serverUrl(s, s.reader) } }),
  );
  return opened;
}
afterAll(async () => {
  await (await opened)?.close();
});

storeConformance("ClickHouse server", async () => ({ store: await sharedStore(), cleanup: async () => {} }));

const table = (name: string) => `ch_${name}_${process.pid}_${Date.now().toString(36)}`;

describe("ClickHouse server store", () => {
  test("values keep their precision and timestamps come back as ISO-8601 UTC", async () => {
    const store = await sharedStore();
    const t = table("exact");
    await store.exec(`CREATE TABLE ${t} (id UInt64, d Decimal(38, 10), ds Array(Decimal(9, 3)), n Nullable(Decimal(18, 2)), at DateTime('UTC'), f Float64) ENGINE = MergeTree ORDER BY id`);
    // Decimals written as bare JSON numbers: servers before 19.x do not parse quoted ones.
    const body = [
      '{"id":"18446744073709551615","d":-1234567890123456789012345678.0000000001,"ds":[2.5],"n":null,"at":"2024-02-29T23:59:58Z","f":0.1}',
      '{"id":1,"d":0,"ds":[],"n":1.1,"at":"1970-01-01 00:00:00","f":1e300}',
    ].join("\n");
    await store.insertJsonEachRow(t, new TextEncoder().encode(body));
    const { rows } = await readAll(store, `SELECT id, d, ds, n, at, f FROM ${t} ORDER BY id DESC`);
    expect(rows).toEqual([
      { id: "18446744073709551615", d: "-1234567890123456789012345678.0000000001", ds: ["2.500"], n: null, at: "2024-02-29T23:59:58Z", f: 0.1 },
      { id: "1", d: "0.0000000000", ds: [], n: "1.10", at: "1970-01-01T00:00:00Z", f: 1e300 },
    ]);
    const zoned = await readAll(
      store,
      "SELECT toDateTime('2024-07-01 12:00:00', 'America/New_York') AS summer, toDateTime('2024-01-01 12:00:00', 'America/New_York') AS winter, [toDateTime('2024-01-01 09:00:00', 'Asia/Tokyo')] AS list",
    );
    expect(zoned.rows).toEqual([{ summer: "2024-07-01T16:00:00Z", winter: "2024-01-01T17:00:00Z", list: ["2024-01-01T00:00:00Z"] }]);
  });

  test("a body of tens of megabytes goes through as is", async () => {
    const store = await sharedStore();
    const t = table("big");
    await store.exec(`CREATE TABLE ${t} (id UInt64, payload String) ENGINE = MergeTree ORDER BY id`);
    const payload = "x".repeat(300);
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(`{"id":${i},"payload":"${payload}"}`);
    const body = new TextEncoder().encode(lines.join("\n"));
    expect(body.byteLength).toBeGreaterThan(30_000_000);
    await store.insertJsonEachRow(t, body);
    const { rows } = await store.query<{ c: string; u: string; s: string }>(`SELECT count() AS c, uniqExact(id) AS u, sum(length(payload)) AS s FROM ${t}`);
    expect(rows[0]).toEqual({ c: "100000", u: "100000", s: String(100_000 * 300) });
  });

  test("parameters the server cannot bind are refused, never spliced", async () => {
    const store = await sharedStore();
    if (store.capabilities.supportsQueryParams) {
      const { rows } = await store.query<{ v: string }>("SELECT {v:String} AS v", { v: "it's" });
      expect(rows[0]?.v).toBe("it's");
    } else {
      await expect(readAll(store, "SELECT {v:String} AS v", { v: "x" })).rejects.toThrow(/cannot bind query parameters/);
      await expect(store.exec("SELECT {v:String}", { v: "x" })).rejects.toThrow(/cannot bind query parameters/);
    }
  });

  test("describeTable finds a table among many without binding its name", async () => {
    const store = await sharedStore();
    const t = table("desc");
    await store.exec(`CREATE TABLE ${t} (a String, b Nullable(Float64), c Array(String) DEFAULT ['x']) ENGINE = MergeTree ORDER BY a`);
    await store.exec(`CREATE TABLE ${t}_other (z UInt8) ENGINE = Memory`);
    expect(await store.describeTable(t)).toEqual([
      { name: "a", type: "String", defaultExpression: "", comment: "" },
      { name: "b", type: "Nullable(Float64)", defaultExpression: "", comment: "" },
      { name: "c", type: "Array(String)", defaultExpression: "['x']", comment: "" },
    ]);
    expect(await store.describeTable(`${t}' OR 1 = 1 --`)).toBeUndefined();
  });

  test("LowCardinality is asked of the server: with default settings 18.16 refuses it and the tables Igloo creates use String", async () => {
    const store = await sharedStore();
    const server = await sharedClickHouse();
    // The server of these tests runs with default settings (scripts/clickhouse/clickhouse.sh),
    // where 18.16 refuses LowCardinality columns.
    await expect(store.exec(`CREATE TABLE ${table("lc_refused")} (a LowCardinality(String)) ENGINE = Memory`)).rejects.toThrow(/LowCardinality type is not allowed/);
    expect(store.capabilities.supportsLowCardinality).toBe(false);
    // igloo_dead_letters (source and stage are LowCardinality where the engine allows it).
    const letters = { ...DEAD_LETTER_MODEL, table: table("dead_letters") };
    await store.exec(createTableSql(letters, store.capabilities));
    expect((await store.describeTable(letters.table))?.map((c) => [c.name, c.type])).toEqual([
      ["ts", "DateTime('UTC')"],
      ["source", "String"],
      ["stage", "String"],
      ["record", "String"],
      ["error", "String"],
    ]);
    // A user whose profile allows it (not the server's version) gets LowCardinality columns.
    const allowed = await ClickHouseStore.connect({ url: server.url, user: server.experimental.user, password: server.experimental.password, database: server.database });
    try {
      expect(allowed.capabilities.supportsLowCardinality).toBe(true);
      const t = { ...DEAD_LETTER_MODEL, table: table("dead_letters_lc") };
      await allowed.exec(createTableSql(t, allowed.capabilities));
      expect((await allowed.describeTable(t.table))?.map((c) => c.type).slice(1, 3)).toEqual(["LowCardinality(String)", "LowCardinality(String)"]);
    } finally {
      await allowed.close();
    }
  });
});
