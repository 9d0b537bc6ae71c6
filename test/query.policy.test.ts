/**
 * What a client's statement may do (runtime/query), against the real embedded engine:
 * every known escape from "read the project's data" (files, network, processes, other
 * databases, session state, INTO OUTFILE, lifted limits), put in every place a statement
 * can hide it, is refused with a 400 naming what was refused, and has no effect: no file
 * is written, no connection is made, no temporary table shadows a model's table. The
 * same places with a harmless payload run, so a refusal is the policy's and not a syntax
 * error's. Then the limits: time, result size, memory, the queue, a client that leaves.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS, type QueryLimits } from "../runtime/limits.ts";
import { tokenPolicyProblem } from "../runtime/query/readPolicy.ts";
import { QueryError, UserReads } from "../runtime/query/userReads.ts";
import type { RowStream } from "../runtime/store/store.ts";
import { removeDir } from "../scripts/lib/igloo.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";
import { random } from "./helpers/random.ts";

const store = await sharedChdbStore();
const table = `Policy_${process.pid}`;
await store.exec(`CREATE TABLE ${table} (id UInt32, name String) ENGINE = MergeTree ORDER BY id`);
await store.insertJsonEachRow(table, new TextEncoder().encode('{"id":1,"name":"real"}\n{"id":2,"name":"rows"}'));

/** Where a file written by an escape would land; it must stay empty. */
const sink = mkdtempSync(join(tmpdir(), "igloo-policy-sink-"));
/** Where a connection made by an escape would arrive; it must see none. */
let connections = 0;
const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void connections++, data() {} } });
const target = `127.0.0.1:${listener.port}`;
afterAll(() => {
  listener.stop(true);
  removeDir(sink);
});

const reads = (limits: Partial<QueryLimits> = {}) => new UserReads(store, { ...DEFAULT_LIMITS.query, ...limits });
const policy = reads();

async function drain(stream: RowStream): Promise<unknown[]> {
  const rows: unknown[] = [];
  for await (const batch of stream.batches) for (const row of batch) rows.push(JSON.parse(row));
  return rows;
}

async function outcome(userReads: UserReads, sql: string): Promise<{ rows: unknown[] } | QueryError> {
  try {
    return { rows: await drain(await userReads.statement({ sql })) };
  } catch (error) {
    if (error instanceof QueryError) return error;
    throw error;
  }
}

/** Sources that reach outside the project's tables, as a table. */
const FORBIDDEN_SOURCES = [
  "file('/etc/passwd', 'LineAsString')",
  `url('http://${target}/x', 'LineAsString')`,
  `s3('http://${target}/bucket/key', 'LineAsString')`,
  `remote('${target}', system.one)`,
  `remoteSecure('${target}', system.one)`,
  `mysql('${target}', 'db', 'tbl', 'user', 'password')`,
  `postgresql('${target}', 'db', 'tbl', 'user', 'password')`,
  `hdfs('hdfs://${target}/x', 'LineAsString')`,
  "executable('id', 'LineAsString')",
  "merge('system', '^one$')",
  "cluster('default', system.one)",
  "sqlite('/etc/passwd', 'tbl')",
  "input('a String')",
  "loop(system.one)",
  "dictionary('anything')",
  "system.one",
  "system.tables",
  "system.server_settings",
  "information_schema.tables",
  "INFORMATION_SCHEMA.TABLES",
  "`system`.`tables`",
];

/** Expressions that read files, tables by name or the server's configuration. */
const FORBIDDEN_EXPRESSIONS = [
  "file('/etc/passwd')",
  "getServerSetting('path')",
  "getMergeTreeSetting('index_granularity')",
  "dictGet('d', 'x', toUInt64(1))",
  "joinGet('system.one', 'dummy', 0)",
  "hasColumnInTable('system', 'one', 'dummy')",
  "1 IN system.one",
  "filesystemAvailable()",
];

/** Places a source can hide; `$` is the source. */
const SOURCE_PLACES = [
  "SELECT * FROM $",
  "SELECT * FROM (SELECT * FROM $)",
  "WITH hidden AS (SELECT * FROM $) SELECT * FROM hidden",
  `SELECT id FROM ${table} UNION ALL SELECT 1 FROM $`,
  `SELECT * FROM ${table} AS a CROSS JOIN $ AS b`,
  `SELECT id FROM ${table} WHERE id IN (SELECT 1 FROM $)`,
  "SELECT (SELECT count() FROM $)",
  "SELECT * FROM view(SELECT * FROM $)",
  "EXPLAIN SELECT * FROM $",
  "EXPLAIN PIPELINE SELECT * FROM $",
  "DESCRIBE TABLE $",
  "DESCRIBE (SELECT * FROM $)",
  `SELECT id FROM ${table} WHERE EXISTS (SELECT 1 FROM $)`,
  `SELECT id FROM ${table} INTERSECT SELECT 1 FROM $`,
];

/** Places an expression can hide; `$` is the expression. */
const EXPRESSION_PLACES = [
  "SELECT $",
  `SELECT id FROM ${table} WHERE toString($) != ''`,
  "SELECT arrayMap(x -> toString($), [1])",
  `SELECT id FROM ${table} ORDER BY toString($)`,
  `SELECT count() FROM ${table} GROUP BY id HAVING toString($) != ''`,
  "SELECT * FROM view(SELECT $)",
  "WITH toString($) AS v SELECT v",
  "EXPLAIN SELECT $",
];

/** The engine's parser sees through case, comments and line breaks; so must the check. */
function disguise(sql: string, rand: () => number): string {
  let out = sql;
  // Names outside quotes only: upper case (function names are case-insensitive) or backquoted.
  if (rand() < 0.3) out = out.replace(/(?<![`'\w.])(file|url|remote|system|getServerSetting)(?![`'\w])/g, (name) => (rand() < 0.5 && name !== "system" ? name.toUpperCase() : `\`${name}\``));
  if (rand() < 0.3) out = out.replace(/\(/, "/* a comment ( */ (");
  if (rand() < 0.3) out = out.replace(/ /g, () => (rand() < 0.2 ? "\n\t" : " "));
  if (rand() < 0.2) out = `-- a leading comment\n${out}`;
  return out;
}

describe("statements a client sends", () => {
  test("allowed: reads of the project's tables and views, row-making table functions, SHOW, DESCRIBE, EXPLAIN", async () => {
    for (const sql of [
      `SELECT name FROM ${table} ORDER BY id`,
      `SELECT name FROM default.${table} ORDER BY id`,
      `WITH n AS (SELECT name FROM ${table}) SELECT count() AS c FROM n`,
      "SELECT sum(number) AS s FROM numbers(10)",
      "SELECT * FROM values('a UInt8', 1, 2)",
      "SHOW TABLES",
      `DESCRIBE ${table}`,
      `SHOW CREATE TABLE ${table}`,
      `EXPLAIN SELECT * FROM ${table}`,
      "SELECT {p:String} AS p",
    ]) {
      const result = sql.includes("{p:") ? { rows: await drain(await policy.statement({ sql, params: { p: "v" } })) } : await outcome(policy, sql);
      expect(result instanceof QueryError ? `${sql}: ${result.message}` : "ran").toBe("ran");
    }
  });

  test("refused, each with a message naming what was refused", async () => {
    const cases: [string, RegExp][] = [
      [`INSERT INTO ${table} VALUES (3, 'x')`, /INSERT statements cannot run here/],
      [`INSERT INTO FUNCTION file('${sink}/functions/x.ts', 'RawBLOB', 'a String') SELECT 'export default 1'`, /INSERT statements/],
      [`SELECT 1 INTO OUTFILE '${sink}/out.txt'`, /INTO OUTFILE/],
      [`SELECT 1 INTO OUTFILE '${sink}/out.txt' APPEND`, /INTO OUTFILE/],
      [`EXPLAIN SELECT 1 INTO OUTFILE '${sink}/explain.txt'`, /INTO OUTFILE/],
      [`DESCRIBE ${table} INTO OUTFILE '${sink}/describe.txt'`, /INTO OUTFILE/],
      [`SHOW TABLES INTO OUTFILE '${sink}/show.txt'`, /SHOW TABLES/],
      [`CREATE TEMPORARY TABLE ${table} ENGINE = Memory AS SELECT 9 AS id, 'FORGED' AS name`, /CREATE statements/],
      [`CREATE TABLE forged ENGINE = Memory AS SELECT 1`, /CREATE statements/],
      [`DROP TABLE ${table}`, /DROP statements/],
      [`ALTER TABLE ${table} DELETE WHERE 1`, /ALTER statements/],
      [`TRUNCATE TABLE ${table}`, /cannot run here/],
      [`OPTIMIZE TABLE ${table}`, /OPTIMIZE statements/],
      ["SET max_execution_time = 0", /SET statements/],
      ["SET readonly = 0", /SET statements/],
      ["SELECT 1 SETTINGS max_execution_time = 0", /readonly|SETTINGS/],
      ["SELECT 1 SETTINGS max_result_rows = 0, readonly = 0", /readonly|SETTINGS/],
      ["SELECT 1 FORMAT TabSeparated", /FORMAT/],
      [`SELECT 1; DROP TABLE ${table}`, /exactly one statement/],
      ["KILL QUERY WHERE 1", /KILL statements/],
      ["SYSTEM SHUTDOWN", /SYSTEM statements/],
      ["SHOW PROCESSLIST", /SHOW PROCESSLIST/],
      ["SHOW TABLES FROM system", /SHOW TABLES/],
      ["SHOW CREATE TABLE system.tables", /SHOW CREATE/],
      ["USE system", /USE statements/],
      [`EXISTS TABLE ${table}`, /EXISTS/],
      [`EXPLAIN AST INSERT INTO ${table} SELECT 1, 'x'`, /INSERT statements/],
    ];
    for (const [sql, message] of cases) {
      const result = await outcome(policy, sql);
      expect(result instanceof QueryError ? result.message : `ran: ${sql}`).toMatch(message);
      expect((result as QueryError).code, sql).toMatch(/^E_QUERY_(REFUSED|FAILED)$/);
    }
  });

  test("generated: every forbidden source and expression, in every place, disguised; refused where the same place with a harmless payload runs (seeded)", async () => {
    const seed = Number(process.env.IGLOO_TEST_SEED ?? 20261130);
    const rand = random(seed);
    let refused = 0;
    const plans: { place: string; harmless: string; payloads: readonly string[] }[] = [
      ...SOURCE_PLACES.map((place) => ({ place, harmless: "numbers(1)", payloads: FORBIDDEN_SOURCES })),
      ...EXPRESSION_PLACES.map((place) => ({ place, harmless: "1", payloads: FORBIDDEN_EXPRESSIONS })),
    ];
    for (const { place, harmless, payloads } of plans) {
      const control = await outcome(policy, place.replaceAll("$", () => harmless));
      expect(control instanceof QueryError ? `${place}: ${control.message}` : "ran").toBe("ran");
      for (const payload of payloads) {
        const sql = disguise(place.replaceAll("$", () => payload), rand);
        const result = await outcome(policy, sql);
        expect(result instanceof QueryError ? `${result.code}${result.code === "E_QUERY_REFUSED" ? "" : `: ${result.message} (seed ${seed}): ${sql}`}` : `ran (seed ${seed}): ${sql}`).toBe("E_QUERY_REFUSED");
        refused++;
      }
    }
    expect(refused).toBe(SOURCE_PLACES.length * FORBIDDEN_SOURCES.length + EXPRESSION_PLACES.length * FORBIDDEN_EXPRESSIONS.length);
  });

  test("and none of it had an effect: no file, no connection, no shadowed or changed table", async () => {
    expect(readdirSync(sink)).toEqual([]);
    expect(connections).toBe(0);
    const result = await outcome(policy, `SELECT id, name FROM ${table} ORDER BY id`);
    expect(result).toEqual({ rows: [{ id: 1, name: "real" }, { id: 2, name: "rows" }] });
    expect((await store.listTables()).filter((t) => t === "forged")).toEqual([]);
  });
});

describe("servers without EXPLAIN AST: the coarse check on tokens", () => {
  test("what a read-only user could still do there is refused; reads pass", () => {
    // On such a server a readonly user may still kill its own user's queries (every
    // client's read runs as the query user) and read `system`, whatever its databases.
    for (const sql of [
      "KILL QUERY WHERE 1",
      "/* hello */ kill query where 1 sync",
      "SYSTEM RELOAD CONFIG",
      "SHOW PROCESSLIST",
      "SELECT * FROM system.processes",
      "SELECT * FROM `system`.`processes`",
      'SELECT * FROM "SYSTEM" . processes',
      "SELECT * FROM INFORMATION_SCHEMA.TABLES",
      "SELECT 1 INTO OUTFILE '/tmp/x'",
      "OPTIMIZE TABLE t",
      "",
    ]) {
      expect(tokenPolicyProblem(sql), sql).toBeDefined();
    }
    for (const sql of [
      "SELECT count() FROM Event",
      "(SELECT 1)",
      "WITH 1 AS x SELECT x",
      "SELECT 'system.processes' AS note, `a.b` FROM t",
      "SELECT 1 -- system.processes",
      "DESCRIBE TABLE Event",
      "SHOW TABLES",
      "SHOW CREATE TABLE Event",
      "EXPLAIN SELECT 1",
    ]) {
      expect(tokenPolicyProblem(sql), sql).toBeUndefined();
    }
  });
});

describe("limits", () => {
  const endless = "SELECT count() FROM system.numbers";

  test("an endless query ends at the time limit with a clear error, while other queries keep answering", async () => {
    // Igloo's own deadline (the limit plus a second's grace) stops it here; the engine's
    // max_execution_time, set to the store's 30 s, would stop it later.
    const limited = reads({ timeoutMs: 1000 });
    const started = Date.now();
    const slow = limited.view({ sql: endless }).then(drain).then(
      () => "finished",
      (error: unknown) => error,
    );
    const quick = Date.now();
    expect(await drain(await limited.view({ sql: `SELECT count() AS c FROM ${table}` }))).toEqual([{ c: "2" }]);
    expect(Date.now() - quick).toBeLessThan(1000);
    const error = (await slow) as QueryError;
    expect(error).toBeInstanceOf(QueryError);
    expect(error.code).toBe("E_QUERY_LIMIT");
    expect(error.message).toMatch(/ran past the 1 s a query may take \(IGLOO_QUERY_TIMEOUT_MS\)/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("a result larger than the limit is cut with a message that says to add LIMIT", async () => {
    const result = await outcome(reads({ maxResultRows: 1000 }), "SELECT number FROM numbers(5000)");
    expect(result).toBeInstanceOf(QueryError);
    expect((result as QueryError).message).toMatch(/1,000 rows.*IGLOO_QUERY_MAX_ROWS.*add a LIMIT/);
    const bytes = await outcome(reads({ maxResultBytes: 10_000 }), "SELECT repeat('x', 100) AS s FROM numbers(5000)");
    expect((bytes as QueryError).message).toMatch(/IGLOO_QUERY_MAX_BYTES/);
  });

  test("a query that needs more memory than allowed stops with a message naming the limit", async () => {
    // The store's sessions hold the default limit, 1 GiB; 300M numbers in one array need 2.4 GB.
    const result = await outcome(policy, "SELECT length(groupArray(number)) FROM numbers(300000000)");
    expect(result).toBeInstanceOf(QueryError);
    expect((result as QueryError).message).toMatch(/more than the 1024 MiB of memory a query may use \(IGLOO_QUERY_MAX_MEMORY_BYTES\)/);
  });

  test("past the running ones, a query waits its turn, then gets a busy error to retry", async () => {
    const one = reads({ concurrency: 1, queueWaitMs: 300, timeoutMs: 3000 });
    const abort = new AbortController();
    const running = one.view({ sql: endless, signal: abort.signal }).then(drain).catch((error: unknown) => error);
    await Bun.sleep(100);
    const started = Date.now();
    const waited = await outcome(one, "SELECT 1");
    expect(waited).toBeInstanceOf(QueryError);
    expect((waited as QueryError).code).toBe("E_QUERY_BUSY");
    expect((waited as QueryError).message).toMatch(/IGLOO_QUERY_QUEUE_MS/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    abort.abort();
    expect(((await running) as QueryError).message).toMatch(/cancelled/);
    // The slot is free again at once.
    expect(await outcome(one, "SELECT 1 AS one")).toEqual({ rows: [{ one: 1 }] });
  });
});
