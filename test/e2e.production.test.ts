/**
 * Production on real engines: `igloo build`, `igloo migrate`, then 2 ingest and 2 worker
 * processes on a real Kafka broker and a ClickHouse server (Debian's 18.16, so the schema
 * sticks to types it knows). One worker is killed with kill -9 mid-stream; the other takes
 * its partitions over and every acknowledged event ends in its table exactly once. Also:
 * keys (401/403), /ready, /metrics, plan --json, drift, and the foundation's per-record
 * ingest and dead letters in production mode.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { sharedClickHouse } from "./helpers/clickhouseServer.ts";
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
  const keys = { ingest: createKey("ingest"), query: createKey("query"), admin: createKey("admin") };
  const processes: DevProcess[] = [];

  beforeAll(async () => {
    const [kafka, server] = await Promise.all([sharedKafka(), sharedClickHouse()]);
    clickhouse = server;
    const database = `igloo_prod_${process.pid}`;
    store = await ClickHouseStore.connect({ url: clickhouse.url, user: clickhouse.user, password: clickhouse.password });
    await store.exec(`CREATE DATABASE IF NOT EXISTS ${database}`);
    await store.close();
    store = await ClickHouseStore.connect({ url: clickhouse.url, user: clickhouse.user, password: clickhouse.password, database });
    const url = new URL(clickhouse.url);
    url.username = clickhouse.user;
    url.password = clickhouse.password;
    url.pathname = `/${database}`;
    env = {
      IGLOO_KAFKA_BROKERS: kafka.brokers.join(","),
      IGLOO_KAFKA_PARTITIONS: "4",
      IGLOO_KAFKA_REPLICATION: "1",
      IGLOO_KAFKA_SESSION_TIMEOUT_MS: "6000",
      IGLOO_KAFKA_CLIENT_ID: `igloo-test-${process.pid}`,
      IGLOO_CLICKHOUSE_URL: url.toString(),
      IGLOO_KEYS: [keys.ingest.entry, keys.query.entry, keys.admin.entry].join(","),
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

  test("plan shows the changes, migrate applies and records them, plan is then empty", () => {
    const plan = run(["plan", "--json"], build, env);
    expect(plan.code).toBe(0);
    const parsed = JSON.parse(plan.out) as { changes: { kind: string }[]; views: { kind: string }[]; drift: unknown[] };
    expect(parsed.changes.map((c) => c.kind)).toEqual(["create_table", "create_table", "create_table"]);
    expect(parsed.views).toEqual([]);
    const migrated = run(["migrate"], build, env);
    expect(migrated.err).toBe("");
    expect(migrated.code).toBe(0);
    const after = JSON.parse(run(["plan", "--json"], build, env).out) as { changes: unknown[]; views: unknown[] };
    expect(after).toMatchObject({ changes: [], views: [], drift: [] });
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
  });

  test("keys: 401 without, 403 with the wrong role; /ready and /metrics answer", async () => {
    const api = processes.find((p) => p.output().includes('"role":"ingest"'))!;
    const body = JSON.stringify({ id: "k-1", ts: "2026-01-01T00:00:00Z", userId: "u", value: 1, n: 1, tags: [] });
    expect((await fetch(`${api.url}/ingest/Event`, { method: "POST", body })).status).toBe(401);
    const wrong = await fetch(`${api.url}/ingest/Event`, { method: "POST", body, headers: { authorization: `Bearer ${keys.query.key}` } });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/ingest role/);
    expect((await fetch(`${api.url}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT 1" }), headers: { authorization: `Bearer ${keys.ingest.key}` } })).status).toBe(403);
    const admin = await fetch(`${api.url}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT count() AS c FROM Event" }), headers: { authorization: `Bearer ${keys.admin.key}` } });
    expect(admin.status).toBe(200);
    const view = await fetch(`${api.url}/views/nope`, { headers: { authorization: `Bearer ${keys.query.key}` } });
    expect(view.status).toBe(404);
    expect((await fetch(`${api.url}/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/igloo_ingest_records_total\{model="Event",result="accepted"\} \d+/);
    const worker = processes.find((p) => p.output().includes('"role":"worker"') && p.proc.exitCode === null && p.proc.signalCode === null)!;
    expect(await (await fetch(`${worker.url}/metrics`)).text()).toMatch(/igloo_consumer_lag\{topic="Event",group="igloo-writer-Event"\} \d+/);
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
    await Bun.sleep(2000); // ingest keeps acknowledging into Kafka meanwhile
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
    const response = await fetch(`${api.url}/ingest/Event`, { method: "POST", headers: { authorization: `Bearer ${keys.ingest.key}` }, body: JSON.stringify(record) });
    expect(await response.json()).toMatchObject({ accepted: 1, rejected: 0, errors: [] });
    const read = async () => {
      const answer = await fetch(`${api.url}/query`, { method: "POST", headers: { authorization: `Bearer ${keys.admin.key}` }, body: JSON.stringify({ sql: "SELECT * FROM Event WHERE id = 'rt-1'" }) });
      return ((await answer.json()) as { data: Record<string, unknown>[] }).data;
    };
    const [row] = await eventually(read, (rows) => rows.length === 1, 60_000);
    expect(row).toEqual(record);
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
