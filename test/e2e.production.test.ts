/**
 * Production on real engines: `igloo build`, `igloo migrate`, then 2 ingest and 2 worker
 * processes on a real Kafka broker and a ClickHouse server (Debian's 18.16, so the schema
 * sticks to types it knows). One worker is killed with kill -9 mid-stream; the other takes
 * its partitions over and every acknowledged event ends in its table exactly once. Also:
 * keys (401/403), /ready, /metrics, plan --json, drift, and the foundation's per-record
 * ingest and dead letters in production mode.
 *
 * The API answers clients' reads as the server's read-only query user (igloo_reader of
 * scripts/clickhouse/clickhouse.sh: readonly = 1, database `igloo` only), so this test
 * uses that database. 18.16 has no EXPLAIN AST, so Igloo's read policy cannot run there
 * and the server alone holds POST /query to reading: the escapes below check that it
 * does, and that each refused statement changed nothing, wrote no file and reached no
 * host. Also: the query user is required and must be read-only, /metrics needs the admin
 * key, error answers name no URL or credential, idempotency keys are scoped per API key,
 * and the request gate (foreign Origin: 403, non-JSON bodies: 415).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { serverUrl, sharedClickHouse } from "./helpers/clickhouseServer.ts";
import { IGLOO, createKey, eventually, freePort, initProject, removeDir, startIgloo, type DevProcess } from "./helpers/igloo.ts";
import { sharedKafka } from "./helpers/kafka.ts";

const MODELS = `
model Event {
  id      String   @id
  ts      DateTime @db.DateTime64(0)
  userId  String   @db.LowCardinality
  value   Float
  n       BigInt   @db.UInt64
  tags    String[]
  note    String?
  @@key(userId)
}

model Alert {
  eventId String
  userId  String
  value   Float
}
`;
const FUNCTION = `import { defineFunction } from "igloo";

export default defineFunction({
  from: "Event",
  to: "Alert",
  run: (e) => (e.value > 90 ? { eventId: e.id, userId: e.userId, value: e.value } : null),
});
`;

function run(args: string[], cwd: string, env: Record<string, string>) {
  const result = Bun.spawnSync([join(cwd, "igloo"), ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

describe("production: Kafka + ClickHouse server, scaled out", () => {
  let project: string;
  let build: string;
  let env: Record<string, string>;
  let store: ClickHouseStore;
  let clickhouse: Awaited<ReturnType<typeof sharedClickHouse>>;
  // Two ingest keys: idempotency keys are scoped per API key.
  const keys = { ingest: createKey("ingest"), otherIngest: createKey("ingest"), query: createKey("query"), admin: createKey("admin") };
  const ALLOWED_ORIGIN = "https://app.example.test";
  const processes: DevProcess[] = [];
  /** An ingest process (it serves the API); both run the same build. */
  const api = () => processes.find((p) => p.output().includes('"role":"ingest"'))!;
  const eventCount = async (where = "1") => Number((await store.query<{ c: string }>(`SELECT count() AS c FROM Event WHERE ${where}`)).rows[0]!.c);
  /** POST /query as a client with `key`. */
  const postQuery = async (key: string, sql: string, headers: Record<string, string> = {}, signal?: AbortSignal) => {
    const response = await fetch(`${api().url}/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ sql }),
      ...(signal ? { signal } : {}),
    });
    return { status: response.status, body: (await response.json()) as { meta?: unknown[]; data?: Record<string, unknown>[]; error?: string } };
  };
  /** What a client is told must not hold the server's address or password. */
  const expectNoCredentials = (text: string) => {
    expect(text).not.toContain(`127.0.0.1:${clickhouse.port}`);
    expect(text).not.toContain(clickhouse.password);
  };
  /** Nor, for a failure that is not about access, the name of a ClickHouse user. */
  const expectNoSecrets = (text: string) => {
    expectNoCredentials(text);
    expect(text).not.toContain(clickhouse.reader.user);
    expect(text).not.toMatch(new RegExp(`\\b${clickhouse.user}\\b`));
  };

  beforeAll(async () => {
    const [kafka, server] = await Promise.all([sharedKafka(), sharedClickHouse()]);
    clickhouse = server;
    // The query user may read the database `igloo` only, so the project lives there; its
    // tables are named after this test's models, which no other test uses.
    store = await ClickHouseStore.connect({ url: clickhouse.url, user: clickhouse.user, password: clickhouse.password, database: clickhouse.database });
    env = {
      IGLOO_KAFKA_BROKERS: kafka.brokers.join(","),
      IGLOO_KAFKA_PARTITIONS: "4",
      // No IGLOO_KAFKA_REPLICATION: the default (3) on this one-broker cluster.
      IGLOO_KAFKA_SESSION_TIMEOUT_MS: "6000",
      IGLOO_KAFKA_CLIENT_ID: `igloo-test-${process.pid}`,
      IGLOO_CLICKHOUSE_URL: serverUrl(clickhouse, clickhouse),
      IGLOO_CLICKHOUSE_QUERY_URL: serverUrl(clickhouse, clickhouse.reader),
      IGLOO_KEYS: [keys.ingest.entry, keys.otherIngest.entry, keys.query.entry, keys.admin.entry].join(","),
      IGLOO_CORS_ORIGINS: ALLOWED_ORIGIN,
      IGLOO_HOST: "127.0.0.1",
    };
    project = initProject("prod");
    for (const folder of ["datamodels", "functions", "views"]) for (const file of readdirSync(join(project, folder))) rmSync(join(project, folder, file));
    writeFileSync(join(project, "datamodels", "Event.prisma"), MODELS);
    writeFileSync(join(project, "functions", "alerts.ts"), FUNCTION);
    // No views here: Debian's 18.16 server predates CREATE OR REPLACE VIEW and DESCRIBE
    // (SELECT ...), which views need; views in a plan are tested on chDB (migrations.test.ts).
    build = join(dirname(project), "build");
    const built = Bun.spawnSync([IGLOO, "build", "--out", build], { cwd: project, stdout: "pipe", stderr: "pipe" });
    expect(built.stderr.toString()).toBe("");
    expect(built.exitCode).toBe(0);
    // Its igloo.config.json may hold connection URLs with passwords.
    expect(statSync(build).mode & 0o777).toBe(0o700);
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => (p.proc.exitCode === null && p.proc.signalCode === null ? p.stop() : Promise.resolve(0))));
    await store?.close();
    if (project) removeDir(dirname(project));
  });

  test("start refuses an unmigrated database, and production without keys", async () => {
    const refused = run(["start", "--port", String(freePort())], build, env);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/live tables differ from this build.*igloo migrate/s);
    const noKeys = run(["start", "--port", String(freePort())], build, { ...env, IGLOO_KEYS: "" });
    expect(noKeys.code).not.toBe(0);
    expect(noKeys.err).toMatch(/IGLOO_KEYS is not set/);
  });

  test("start requires the query user, and refuses one the server lets write", () => {
    const port = String(freePort());
    const unset = run(["start", "--port", port], build, { ...env, IGLOO_CLICKHOUSE_QUERY_URL: "" });
    expect(unset.code).not.toBe(0);
    expect(unset.err).toMatch(/IGLOO_CLICKHOUSE_QUERY_URL is not set/);
    // The default user has readonly = 0: clients' queries could write, SET and reach files.
    const writer = run(["start", "--port", port], build, { ...env, IGLOO_CLICKHOUSE_QUERY_URL: serverUrl(clickhouse, clickhouse) });
    expect(writer.code).not.toBe(0);
    expect(writer.err).toMatch(/query user "default" has readonly = 0/);
    expectNoCredentials(writer.err);
    // A query user of another database would read other data than the project's.
    const elsewhere = run(["start", "--port", port], build, { ...env, IGLOO_CLICKHOUSE_QUERY_URL: serverUrl(clickhouse, clickhouse.reader, "default") });
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.err).toMatch(/names database `default`, the project's is `igloo`/);
    expectNoCredentials(elsewhere.err);
  });

  test("plan shows the changes, migrate applies and records them, plan is then empty", () => {
    const plan = run(["plan", "--json"], build, env);
    expect(plan.code).toBe(0);
    const parsed = JSON.parse(plan.out) as { changes: { kind: string }[]; views: { kind: string }[]; drift: unknown[] };
    expect(parsed.changes.map((c) => c.kind)).toEqual(["create_table", "create_table", "create_table", "create_table"]);
    expect(parsed.views).toEqual([]);
    const migrated = run(["migrate"], build, env);
    expect(migrated.err).toBe("");
    expect(migrated.code).toBe(0);
    const after = JSON.parse(run(["plan", "--json"], build, env).out) as { changes: unknown[]; views: unknown[] };
    expect(after).toMatchObject({ changes: [], views: [], drift: [] });
  });

  test("a replication factor configured above the broker count stops start with an error naming the setting", () => {
    const tooMany = run(["start", "--role", "worker", "--port", String(freePort())], build, { ...env, IGLOO_KAFKA_REPLICATION: "3" });
    expect(tooMany.code).not.toBe(0);
    // The first topic it creates (igloo_dead_letters, unless an earlier test on this broker made it).
    expect(tooMany.err).toMatch(/Cannot create topic "[^"]+" with 3 replicas: IGLOO_KAFKA_REPLICATION \(kafka.replicationFactor in igloo.config.json\) is 3, but the Kafka cluster at [^ ]+ has 1 broker/);
    expect(tooMany.err).not.toContain("Topic creation errors");
  });

  test("2 ingest + 2 workers; kill -9 one worker mid-stream; every acknowledged event is stored exactly once", async () => {
    const workers = [await startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", "worker"] }), await startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", "worker"] })];
    const ingest = [await startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", "ingest"] }), await startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", "ingest"] })];
    processes.push(...workers, ...ingest);
    const headers = { "content-type": "application/json", authorization: `Bearer ${keys.ingest.key}` };

    const acked = new Set<string>();
    let streaming = true;
    let n = 0;
    const sender = async (w: number) => {
      while (streaming) {
        const batch = Array.from({ length: 50 }, () => {
          const i = n++;
          return { id: `e-${i}`, ts: "2026-01-01T00:00:00Z", userId: `u-${i % 13}`, value: i % 100, n: String(2n ** 63n + BigInt(i)), tags: ["t"], note: i % 2 ? null : "x" };
        });
        const response = await fetch(`${ingest[w % 2]!.url}/ingest/Event`, { method: "POST", headers, body: JSON.stringify(batch) });
        const body = (await response.json()) as { accepted: number };
        if (response.status === 200 && body.accepted === 50) batch.forEach((e) => acked.add(e.id));
      }
    };
    const senders = [0, 1, 2, 3].map(sender);
    await eventually(async () => acked.size, (size) => size >= 3000, 60_000);
    await workers[0]!.kill9();
    await eventually(async () => acked.size, (size) => size >= 6000, 60_000);
    streaming = false;
    await Promise.all(senders);

    const count = async () => Number((await store.query<{ c: string }>("SELECT count() AS c FROM Event")).rows[0]!.c);
    await eventually(count, (c) => c >= acked.size, 90_000).catch((error: unknown) => {
      throw new Error(`${error}\n--- worker output ---\n${workers.map((w) => w.output().slice(-3000)).join("\n---\n")}`);
    });
    await Bun.sleep(1000);
    const { rows } = await store.query<{ c: string; u: string }>("SELECT count() AS c, uniqExact(id) AS u FROM Event");
    expect(Number(rows[0]!.u)).toBe(Number(rows[0]!.c));
    const present = new Set((await store.query<{ id: string }>("SELECT id FROM Event")).rows.map((r) => r.id));
    expect([...acked].filter((id) => !present.has(id))).toEqual([]);
    // The function ran on the surviving worker too: one alert per stored event over 90.
    const alerts = async () => Number((await store.query<{ c: string }>("SELECT count() AS c FROM Alert")).rows[0]!.c);
    const expected = Number((await store.query<{ c: string }>("SELECT count() AS c FROM Event WHERE value > 90")).rows[0]!.c);
    await eventually(alerts, (c) => c >= expected, 60_000);
    // No runtime warning (e.g. Node's TimeoutNegativeWarning, which kafkajs used to cause) in what any of them printed.
    for (const p of [...workers, ...ingest]) expect(p.output()).not.toContain("Warning");
    // With no replication factor configured, the topics got one replica per broker, and the
    // process that created them said what that means and what to set (igloo_dead_letters
    // too, unless an earlier test on the shared broker created it).
    const printed = [...workers, ...ingest].map((p) => p.output()).join("\n");
    for (const topic of ["Event", "Alert"]) {
      expect(printed).toMatch(new RegExp(`"level":"warn","message":"topic \\\\"${topic}\\\\" was created with 1 replica, not 3, because the Kafka cluster has 1 broker: [^\\n]*IGLOO_KAFKA_REPLICATION`));
    }
  });

  test("keys: 401 without, 403 with the wrong role; /ready answers anyone, /metrics the admin key", async () => {
    const api = processes.find((p) => p.output().includes('"role":"ingest"'))!;
    const body = JSON.stringify({ id: "k-1", ts: "2026-01-01T00:00:00Z", userId: "u", value: 1, n: 1, tags: [] });
    expect((await fetch(`${api.url}/ingest/Event`, { method: "POST", body })).status).toBe(401);
    const wrong = await fetch(`${api.url}/ingest/Event`, { method: "POST", body, headers: { authorization: `Bearer ${keys.query.key}` } });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/ingest role/);
    expect((await fetch(`${api.url}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT 1" }), headers: { authorization: `Bearer ${keys.ingest.key}` } })).status).toBe(403);
    const admin = await fetch(`${api.url}/query`, {
      method: "POST",
      body: JSON.stringify({ sql: "SELECT count() AS c FROM Event" }),
      headers: { authorization: `Bearer ${keys.admin.key}`, "content-type": "application/json" },
    });
    expect(admin.status).toBe(200);
    const view = await fetch(`${api.url}/views/nope`, { headers: { authorization: `Bearer ${keys.query.key}` } });
    expect(view.status).toBe(404);
    expect((await fetch(`${api.url}/ready`)).status).toBe(200);
    const asAdmin = { headers: { authorization: `Bearer ${keys.admin.key}` } };
    const metrics = await (await fetch(`${api.url}/metrics`, asAdmin)).text();
    expect(metrics).toMatch(/igloo_ingest_records_total\{model="Event",result="accepted"\} \d+/);
    const worker = processes.find((p) => p.output().includes('"role":"worker"') && p.proc.exitCode === null && p.proc.signalCode === null)!;
    expect(await (await fetch(`${worker.url}/metrics`, asAdmin)).text()).toMatch(/igloo_consumer_lag\{topic="Event",group="igloo-writer-Event"\} \d+/);
  });

  test("per-record ingest and dead letters work the same in production", async () => {
    const api = processes.find((p) => p.output().includes('"role":"ingest"'))!;
    const response = await fetch(`${api.url}/ingest/Event`, {
      method: "POST",
      headers: { authorization: `Bearer ${keys.ingest.key}`, "content-type": "application/json" },
      body: JSON.stringify([
        { id: "dl-ok", ts: "2026-01-01T00:00:00Z", userId: "u", value: 1, n: 1, tags: [] },
        { id: "dl-bad", ts: "never", userId: "u", value: 1, n: -1, tags: [] },
      ]),
    });
    const verdict = (await response.json()) as { accepted: number; rejected: number; errors: { index: number; message: string }[] };
    expect(verdict).toMatchObject({ accepted: 1, rejected: 1 });
    expect(verdict.errors[0]!.message).toMatch(/`ts`.*; field `n`/);
    const letters = async () => (await store.query<{ error: string }>("SELECT error FROM igloo_dead_letters WHERE source = 'Event'")).rows;
    const rows = await eventually(letters, (r) => r.length >= 1, 60_000);
    expect(rows[0]!.error).toBe(verdict.errors[0]!.message);
  });

  test("records written straight into a model's topic by another Kafka client: valid ones stored, invalid ones dead-lettered", async () => {
    const { Kafka } = await import("kafkajs");
    const producer = new Kafka({ clientId: "outsider", brokers: env.IGLOO_KAFKA_BROKERS!.split(","), logLevel: 0 }).producer();
    await producer.connect();
    await producer.send({
      topic: "Event",
      messages: [
        { key: "u", value: JSON.stringify({ id: "ext-ok", ts: "2026-01-01T00:00:00Z", userId: "u", value: 5, n: "7", tags: [] }) },
        { key: "u", value: JSON.stringify({ id: "ext-bad", ts: "2026-01-01T00:00:00Z", userId: "u", value: "five", n: "7", tags: [] }) },
        { key: "u", value: "{not json" },
        // As an older build wrote it, with a field a migration removed since: stored without it.
        { key: "u", value: JSON.stringify({ id: "ext-old", ts: "2026-01-01T00:00:00Z", userId: "u", value: 6, n: "8", tags: [], removedSince: "x" }) },
      ],
    });
    await producer.disconnect();
    await eventually(async () => (await store.query("SELECT id FROM Event WHERE id = 'ext-ok'")).rows.length, (n) => n === 1, 60_000);
    const letters = await eventually(
      async () => (await store.query<{ record: string; error: string }>("SELECT record, error FROM igloo_dead_letters WHERE stage = 'writer'")).rows,
      (rows) => rows.length >= 2,
      60_000,
    );
    expect(letters.map((l) => l.error).join("\n")).toMatch(/`value`/);
    expect(letters.map((l) => l.error).join("\n")).toMatch(/not valid JSON/);
    expect((await store.query("SELECT id FROM Event WHERE id = 'ext-bad'")).rows.length).toBe(0);
    await eventually(async () => (await store.query("SELECT id FROM Event WHERE id = 'ext-old'")).rows.length, (n) => n === 1, 60_000);
  });

  test("the ClickHouse server killed during sustained writes, then restarted: the writers resume, nothing lost or duplicated", async () => {
    const api = processes.find((p) => p.output().includes('"role":"ingest"'))!;
    const headers = { "content-type": "application/json", authorization: `Bearer ${keys.ingest.key}` };
    const acked = new Set<string>();
    let streaming = true;
    let n = 0;
    const sender = (async () => {
      while (streaming) {
        const batch = Array.from({ length: 100 }, () => ({ id: `ck-${n++}`, ts: "2026-01-01T00:00:00Z", userId: "u", value: 1, n: 1, tags: [] }));
        const response = await fetch(`${api.url}/ingest/Event`, { method: "POST", headers, body: JSON.stringify(batch) });
        if (response.status === 200) batch.forEach((e) => acked.add(e.id));
        await Bun.sleep(5);
      }
    })();
    await eventually(async () => acked.size, (size) => size >= 2000, 60_000);
    await clickhouse.kill();
    // Ingest keeps acknowledging into Kafka meanwhile; a query meanwhile is a 503 to retry,
    // whose message names neither the server's address nor a credential.
    const down = await postQuery(keys.admin.key, "SELECT count() FROM Event");
    expect(down.status).toBe(503);
    expect(down.body.error).toMatch(/cannot be reached right now; retry/);
    expectNoSecrets(down.body.error!);
    await Bun.sleep(2000);
    await clickhouse.start();
    await eventually(async () => acked.size, (size) => size >= 6000, 60_000);
    streaming = false;
    await sender;
    const stored = async () => Number((await store.query<{ c: string }>("SELECT count() AS c FROM Event WHERE startsWith(id, 'ck-')")).rows[0]!.c);
    await eventually(stored, (c) => c >= acked.size, 90_000);
    await Bun.sleep(1000);
    const { rows } = await store.query<{ c: string; u: string }>("SELECT count() AS c, uniqExact(id) AS u FROM Event WHERE startsWith(id, 'ck-')");
    expect(Number(rows[0]!.c)).toBe(Number(rows[0]!.u));
    expect(Number(rows[0]!.u)).toBeGreaterThanOrEqual(acked.size);
    const present = new Set((await store.query<{ id: string }>("SELECT id FROM Event WHERE startsWith(id, 'ck-')")).rows.map((r) => r.id));
    expect([...acked].filter((id) => !present.has(id))).toEqual([]);
  });

  test("every type this server knows round-trips in production mode", async () => {
    const api = processes.find((p) => p.output().includes('"role":"ingest"'))!;
    const record = { id: "rt-1", ts: "2026-03-04T05:06:07Z", userId: "ü-ser ☃", value: 0.1 + 0.2, n: "18446744073709551615", tags: ["a", "b,c", ""], note: null };
    const response = await fetch(`${api.url}/ingest/Event`, {
      method: "POST",
      headers: { authorization: `Bearer ${keys.ingest.key}`, "content-type": "application/json" },
      body: JSON.stringify(record),
    });
    expect(await response.json()).toMatchObject({ accepted: 1, rejected: 0, errors: [] });
    const read = async () => {
      const answer = await fetch(`${api.url}/query`, {
        method: "POST",
        headers: { authorization: `Bearer ${keys.admin.key}`, "content-type": "application/json" },
        body: JSON.stringify({ sql: "SELECT * FROM Event WHERE id = 'rt-1'" }),
      });
      return ((await answer.json()) as { data: Record<string, unknown>[] }).data;
    };
    const [row] = await eventually(read, (rows) => rows.length === 1, 60_000);
    expect(row).toEqual(record);
  });

  test("POST /query with the admin key cannot write, change settings, reach files or hosts, or read other databases, and each attempt changes nothing", async () => {
    const userFiles = join(clickhouse.dir, "user_files");
    mkdirSync(userFiles, { recursive: true });
    // A file the server could serve to file(), and a TCP port standing in for a URL, a
    // remote ClickHouse and a MySQL server: it counts whoever connects.
    writeFileSync(join(userFiles, "probe.csv"), "42\n");
    let connections = 0;
    const decoy = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: () => void connections++,
        data() {},
      },
    });
    const secretTable = `default.igloo_prod_secret_${process.pid}`;
    await store.exec(`CREATE TABLE ${secretTable} (s String) ENGINE = MergeTree ORDER BY s`);
    await store.exec(`INSERT INTO ${secretTable} VALUES ('the secret')`);
    try {
      const tables = await store.listTables();
      const columns = { Event: await store.describeTable("Event"), Alert: await store.describeTable("Alert") };
      const events = await eventCount();
      const alerts = Number((await store.query<{ c: string }>("SELECT count() AS c FROM Alert")).rows[0]!.c);
      // This server has no EXPLAIN AST: statements that are not reads are refused on their
      // first word, and what starts as a read meets the query user's readonly = 1.
      const readonly = "^this API only reads the project's data: ";
      const notRead = (word: string) => `^${word} statements cannot run here`;
      const escapes: readonly (readonly [sql: string, refusal: string])[] = [
        ["INSERT INTO Event (id, ts, userId, value, n, tags) VALUES ('esc-insert', now(), 'u', 1, 1, [])", notRead("INSERT")],
        ["INSERT INTO FUNCTION file('escape.csv', 'CSV', 'a UInt8') VALUES (1)", notRead("INSERT")],
        ["CREATE TABLE esc_created (a UInt8) ENGINE = Memory", notRead("CREATE")],
        ["DROP TABLE Alert", notRead("DROP")],
        ["TRUNCATE TABLE Event", notRead("TRUNCATE")],
        ["ALTER TABLE Event DROP COLUMN note", notRead("ALTER")],
        ["RENAME TABLE Alert TO esc_renamed", notRead("RENAME")],
        // A temporary table named like a model's would shadow it for the reads after it.
        ["CREATE TEMPORARY TABLE Event (id String)", notRead("CREATE")],
        ["SET max_execution_time = 0", notRead("SET")],
        ["SELECT 1 SETTINGS max_execution_time = 0", `${readonly}Cannot execute SET query in readonly mode`],
        [`SELECT * FROM url('http://127.0.0.1:${decoy.port}/rows.csv', CSV, 'a String')`, `${readonly}Table functions are forbidden in readonly mode`],
        [`SELECT * FROM remote('127.0.0.1:${decoy.port}', system.one)`, "^`system` is outside the project's database"],
        [`SELECT * FROM remote('127.0.0.1:${decoy.port}', igloo.Event)`, `${readonly}Table functions are forbidden in readonly mode`],
        [`SELECT * FROM mysql('127.0.0.1:${decoy.port}', 'db', 'rows', 'user', 'password')`, `${readonly}Table functions are forbidden in readonly mode`],
        ["SELECT * FROM file('probe.csv', 'CSV', 'a UInt8')", `${readonly}Table functions are forbidden in readonly mode`],
        ["SELECT 1; DROP TABLE Alert", "^a query must be exactly one statement, got 2$"],
        ["SYSTEM STOP MERGES", notRead("SYSTEM")],
        ["OPTIMIZE TABLE Event FINAL", notRead("OPTIMIZE")],
        ["KILL QUERY WHERE 1", notRead("KILL")],
        // The query user may read `system` on this server whatever its databases: other
        // clients' statements, Igloo's own.
        ["SELECT query FROM system.processes", "^`system` is outside the project's database"],
        ["SHOW PROCESSLIST", "^SHOW PROCESSLIST cannot run here"],
        [`SELECT * FROM ${secretTable}`, `${readonly}Access denied to database default for user <user>`],
      ];
      const answers = [];
      for (const [sql] of escapes) answers.push({ sql, ...(await postQuery(keys.admin.key, sql)) });
      expect(answers.map(({ sql, status, body }) => ({ sql, status, error: body.error }))).toEqual(
        escapes.map(([sql, refusal]) => ({ sql, status: 400, error: expect.stringMatching(new RegExp(refusal)) })),
      );
      for (const { body } of answers) expectNoCredentials(body.error!);

      // Nothing changed: the same tables with the same columns and rows, as Igloo's own user sees them...
      expect(await store.listTables()).toEqual(tables);
      expect({ Event: await store.describeTable("Event"), Alert: await store.describeTable("Alert") }).toEqual(columns);
      expect(await eventCount()).toBe(events);
      expect(await eventCount("id = 'esc-insert'")).toBe(0);
      expect(Number((await store.query<{ c: string }>("SELECT count() AS c FROM Alert")).rows[0]!.c)).toBe(alerts);
      // ...and as a client reads them: no temporary table stands in for Event.
      const read = await postQuery(keys.admin.key, "SELECT count() AS c FROM Event");
      expect(read).toMatchObject({ status: 200, body: { data: [{ c: String(events) }] } });
      // No file was written, no host was reached, the other database's rows stayed there.
      expect(readdirSync(userFiles)).toEqual(["probe.csv"]);
      expect(connections).toBe(0);
      expect((await store.query<{ s: string }>(`SELECT s FROM ${secretTable}`)).rows).toEqual([{ s: "the secret" }]);
      // Listing the other database shows none of its tables.
      const listed = await postQuery(keys.admin.key, "SHOW TABLES FROM default");
      expect(listed).toEqual({ status: 200, body: { meta: [{ name: "name", type: "String" }], data: [] } });
    } finally {
      decoy.stop(true);
      rmSync(join(userFiles, "probe.csv"), { force: true });
      await store.exec(`DROP TABLE IF EXISTS ${secretTable}`);
    }
  });

  test("KILL QUERY through POST /query cannot cancel another client's read, nor Igloo's own statements", async () => {
    // Every client's read runs as the query user, and this server lets a read-only user
    // kill its own user's queries: the statement must be refused before it gets there.
    const victim = new AbortController();
    const marker = `victim_${process.pid}`;
    const read = postQuery(
      keys.admin.key,
      `SELECT count() FROM (SELECT a.id FROM Event AS a CROSS JOIN (SELECT id AS b FROM Event) AS j) AS x CROSS JOIN (SELECT id AS c FROM Event) AS y WHERE x.id != '${marker}'`,
      {},
      victim.signal,
    ).catch(() => undefined);
    const running = async () => (await store.query<{ u: string }>(`SELECT user AS u FROM system.processes WHERE query LIKE '%${marker}%' AND query NOT LIKE '%system.processes%'`)).rows.map((r) => r.u);
    try {
      expect(await eventually(running, (users) => users.length === 1, 10_000)).toEqual([clickhouse.reader.user]);
      for (const kill of [`KILL QUERY WHERE query LIKE '%${marker}%' SYNC`, "KILL QUERY WHERE 1", `/* a comment first */ kill query where user = '${clickhouse.reader.user}'`]) {
        const answer = await postQuery(keys.admin.key, kill);
        expect(answer.status).toBe(400);
        expect(answer.body.error).toMatch(/^KILL statements cannot run here/);
      }
      await Bun.sleep(200);
      expect(await running()).toEqual([clickhouse.reader.user]);
    } finally {
      // The client leaving cancels its read on the server.
      victim.abort();
      await read;
    }
    await eventually(running, (users) => users.length === 0, 10_000);
  });

  test("/metrics needs the admin key, /openapi.json any key; /health and /ready stay open", async () => {
    const get = async (path: string, key?: string) => fetch(`${api().url}${path}`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
    expect((await get("/metrics")).status).toBe(401);
    const asQuery = await get("/metrics", keys.query.key);
    expect(asQuery.status).toBe(403);
    expect(((await asQuery.json()) as { error: string }).error).toMatch(/needs the admin role/);
    const asAdmin = await get("/metrics", keys.admin.key);
    expect(asAdmin.status).toBe(200);
    expect(await asAdmin.text()).toMatch(/igloo_ingest_records_total\{model="Event",result="accepted"\} \d+/);
    expect((await get("/openapi.json")).status).toBe(401);
    const document = await get("/openapi.json", keys.ingest.key);
    expect(document.status).toBe(200);
    expect(((await document.json()) as { paths: Record<string, unknown> }).paths).toHaveProperty(["/ingest/Event"]);
    expect((await get("/health")).status).toBe(200);
    expect((await get("/ready")).status).toBe(200);
  });

  test("a query that fails in the engine is answered without the server's address, a password or a user name", async () => {
    const failing = ["SELECT nope FROM Event", "SELECT * FROM no_such_table", "SELECT toUInt8('not a number')", "SELECT throwIf(1, 'failed on purpose') FROM Event LIMIT 1"];
    for (const sql of failing) {
      const { status, body } = await postQuery(keys.admin.key, sql);
      expect({ sql, status }).toEqual({ sql, status: 400 });
      expect(body.error).toBeString();
      expectNoSecrets(body.error!);
    }
  });

  test("idempotency keys are scoped per API key: another key's request runs, a resend with the same key is replayed", async () => {
    const send = (key: string, body: unknown, idempotencyKey?: string) =>
      fetch(`${api().url}/ingest/Event`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}) },
        body: JSON.stringify(body),
      });
    // One userId, so one partition: once the marker sent last is stored, all before it are.
    const batch = ["idem-1", "idem-2"].map((id) => ({ id, ts: "2026-01-01T00:00:00Z", userId: "u-idem", value: 1, n: 1, tags: [] }));
    const first = await send(keys.ingest.key, batch, "same-key");
    const other = await send(keys.otherIngest.key, batch, "same-key");
    const again = await send(keys.ingest.key, batch, "same-key");
    expect([first.status, other.status, again.status]).toEqual([200, 200, 200]);
    expect([first.headers.get("idempotent-replayed"), other.headers.get("idempotent-replayed"), again.headers.get("idempotent-replayed")]).toEqual([null, null, "true"]);
    const [firstBody, otherBody, againBody] = (await Promise.all([first.json(), other.json(), again.json()])) as { accepted: number; token: string }[];
    expect(firstBody!.accepted).toBe(2);
    expect(otherBody!.accepted).toBe(2);
    expect(otherBody!.token).not.toBe(firstBody!.token);
    expect(againBody).toEqual(firstBody!);
    const marker = await send(keys.ingest.key, { id: "idem-marker", ts: "2026-01-01T00:00:00Z", userId: "u-idem", value: 1, n: 1, tags: [] });
    expect(marker.status).toBe(200);
    await eventually(() => eventCount("id = 'idem-marker'"), (n) => n === 1, 60_000);
    const { rows } = await store.query<{ id: string; c: string }>("SELECT id, count() AS c FROM Event WHERE id IN ('idem-1', 'idem-2') GROUP BY id ORDER BY id");
    expect(rows).toEqual([
      { id: "idem-1", c: "2" },
      { id: "idem-2", c: "2" },
    ]);
  });

  test("the gate: a foreign Origin is refused even with a valid key, a configured one gets CORS headers; bodies must be JSON", async () => {
    const record = (id: string) => JSON.stringify({ id, ts: "2026-01-01T00:00:00Z", userId: "u-gate", value: 1, n: 1, tags: [] });
    const ingestHeaders = { authorization: `Bearer ${keys.ingest.key}`, "content-type": "application/json" };
    const foreign = await fetch(`${api().url}/ingest/Event`, { method: "POST", headers: { ...ingestHeaders, origin: "https://attacker.example" }, body: record("gate-foreign") });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: string }).error).toMatch(/origin `https:\/\/attacker\.example` are refused/);
    const foreignQuery = await postQuery(keys.admin.key, "SELECT 1", { origin: "https://attacker.example" });
    expect(foreignQuery.status).toBe(403);
    const plain = await fetch(`${api().url}/ingest/Event`, { method: "POST", headers: { ...ingestHeaders, "content-type": "text/plain" }, body: record("gate-plain") });
    expect(plain.status).toBe(415);
    expect(((await plain.json()) as { error: string }).error).toMatch(/content-type `text\/plain` is not accepted/);
    const plainQuery = await postQuery(keys.admin.key, "SELECT 1", { "content-type": "text/plain" });
    expect(plainQuery.status).toBe(415);
    const allowed = await fetch(`${api().url}/ingest/Event`, { method: "POST", headers: { ...ingestHeaders, origin: ALLOWED_ORIGIN }, body: record("gate-allowed") });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    // Same partition as the refused ones, sent after them: once it is stored, they would be too.
    await eventually(() => eventCount("id = 'gate-allowed'"), (n) => n === 1, 60_000);
    expect(await eventCount("id IN ('gate-foreign', 'gate-plain')")).toBe(0);
  });

  test("drift: a column changed outside Igloo makes plan report it and migrate refuse", async () => {
    await store.exec("ALTER TABLE Alert ADD COLUMN sneaky String");
    const plan = run(["plan"], build, env);
    expect(plan.code).toBe(2);
    expect(plan.out).toMatch(/DRIFT.*Alert: column sneaky was added/s);
    const migrate = run(["migrate"], build, env);
    expect(migrate.code).not.toBe(0);
    expect(migrate.err).toMatch(/Refusing to migrate/);
  });
});
