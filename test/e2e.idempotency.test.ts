/**
 * A resend with the same idempotency-key is stored once, also when it reaches a process
 * that does not remember the first send (another ingest process, or one that restarted):
 * the key travels with the records and the table writer drops repeats (recordIds.ts).
 * Shown on the embedded engines across a kill -9, and in production with the Kafka broker
 * killed under ingest: a produce whose answer was lost is answered 504 "outcome unknown",
 * never "nothing was stored", and the client's resend is stored once.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { startClickHouse } from "./helpers/clickhouseServer.ts";
import { productionEnv } from "./helpers/production.ts";
import { countRows, eventually, IGLOO, initProject, query, removeDir, startDev, startIgloo, type DevProcess } from "./helpers/igloo.ts";
import { startKafka } from "./helpers/kafka.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => removeDir(dirname(d))));

function purchases(prefix: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({ orderId: `${prefix}-${i}`, ts: "2026-01-01T00:00:00.000Z", userId: `u${i % 5}`, amount: "1.50", items: ["a"] }));
}

async function send(url: string, body: unknown, key: string) {
  const response = await fetch(`${url}/ingest/Purchase`, { method: "POST", headers: { "content-type": "application/json", "idempotency-key": key }, body: JSON.stringify(body) });
  return { status: response.status, replayed: response.headers.get("idempotent-replayed"), body: (await response.json()) as { accepted: number } };
}

describe("idempotency across processes", () => {
  test("a resend after kill -9 and restart is stored once; the same records under another key are stored again; functions never see the id", async () => {
    const dir = initProject("idem");
    dirs.push(dir);
    const first = await startDev(dir);
    const batch = purchases("a", 200);
    expect((await send(first.url, batch, "key-1")).body.accepted).toBe(200);
    // The same process remembers: a replay of its answer.
    expect((await send(first.url, batch, "key-1")).replayed).toBe("true");
    await first.kill9();

    const second = await startDev(dir, { port: first.port });
    try {
      const again = await send(second.url, batch, "key-1");
      expect(again).toMatchObject({ status: 200, replayed: null, body: { accepted: 200 } });
      // Half of the first batch plus new records, under another key: a different request, stored.
      const other = [...batch.slice(0, 100), ...purchases("b", 50)];
      expect((await send(second.url, other, "key-2")).body.accepted).toBe(150);
      await eventually(() => countRows(second.url, "Purchase"), (n) => n >= 350);
      await Bun.sleep(500);
      const counted = await query<{ c: string; u: string }>(second.url, "SELECT count() AS c, uniqExact(orderId) AS u FROM Purchase");
      // a-0..a-199 from the first send, a-0..a-99 and b-0..b-49 from the other request (its own records).
      expect(counted[0]).toEqual({ c: "350", u: "250" });
      // The template's function splits purchases into items: it got records without the id.
      await eventually(() => countRows(second.url, "PurchaseItem"), (n) => n >= 350);
      expect(await countRows(second.url, "igloo_dead_letters")).toBe(0);
      // Remembered as ranges of record indexes per request: 350 records, a row per request (and batch).
      const ids = await query<{ records: string; requests: string }>(second.url, "SELECT sum(last - first + 1) AS records, uniqExact(prefix) AS requests FROM igloo_ingest_ids");
      expect(ids[0]).toEqual({ records: "350", requests: "2" });
    } finally {
      await second.stop();
    }
  });
});

describe("idempotency under a Kafka broker crash (production)", () => {
  test("kill -9 the broker under ingest, restart it 10 s later: every batch, resent with its key until a 200 from either ingest process, is stored once", async () => {
    // A broker and a server of its own: the broker is killed, and migrate records its schema.
    const [broker, clickhouse] = await Promise.all([startKafka(), startClickHouse("clickhouse-idem")]);
    const project = initProject("idem-kafka");
    dirs.push(project);
    for (const folder of ["datamodels", "functions", "views"]) for (const file of readdirSync(join(project, folder))) rmSync(join(project, folder, file));
    // No @@key: a request's records are keyed by its idempotency key, so a resend lands in the same partition.
    writeFileSync(join(project, "datamodels", "IdemEvent.prisma"), "model IdemEvent {\n  id    String @id\n  batch String\n  n     Int\n}\n");
    const build = join(dirname(project), "build");
    const built = Bun.spawnSync([IGLOO, "build", "--out", build], { cwd: project, stdout: "pipe", stderr: "pipe" });
    expect(built.exitCode).toBe(0);
    const { keys, env } = productionEnv(broker.brokers, clickhouse, "idem", { IGLOO_KAFKA_PARTITIONS: "3" });
    const store = await ClickHouseStore.connect({ url: clickhouse.url, user: clickhouse.user, password: clickhouse.password, database: clickhouse.database });
    const processes: DevProcess[] = [];
    try {
      const migrated = Bun.spawnSync([join(build, "igloo"), "migrate"], { cwd: build, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
      expect(migrated.stderr.toString()).toBe("");
      const start = (role: string) => startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", role] });
      processes.push(await start("worker"), await start("ingest"), await start("ingest"));
      const ingest = processes.slice(1);
      const statuses = new Map<string, number>();
      const BATCHES = 300;
      let next = 0;
      const sender = async (w: number) => {
        for (let b = next++; b < BATCHES; b = next++) {
          const body = JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ id: `b${b}-${i}`, batch: `b${b}`, n: i })));
          for (let attempt = 0; ; attempt++) {
            let status = "network";
            try {
              const response = await fetch(`${ingest[(w + attempt) % 2]!.url}/ingest/IdemEvent`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${keys.ingest.key}`, "idempotency-key": `batch-${b}` },
                body,
              });
              status = String(response.status);
              const answer = (await response.json()) as { accepted?: number; outcome?: string; error?: string };
              if (response.status === 504) expect(answer.outcome).toBe("unknown");
              if (response.status === 200) {
                expect(answer.accepted).toBe(20);
                statuses.set(status, (statuses.get(status) ?? 0) + 1);
                break;
              }
            } catch {
              // The process is fine; the request failed in flight: resend.
            }
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (attempt > 400) throw new Error(`batch ${b} was never acknowledged: ${JSON.stringify([...statuses])}`);
            await Bun.sleep(100);
          }
          // Paced, so the crash lands mid-stream.
          await Bun.sleep(15);
        }
      };
      const senders = [0, 1, 2, 3].map(sender);
      await eventually(async () => next, (n) => n >= 60, 60_000);
      await broker.kill9();
      await Bun.sleep(10_000);
      await broker.restart();
      await Promise.all(senders);
      const total = BATCHES * 20;
      await eventually(async () => Number((await store.query<{ c: string }>("SELECT count() AS c FROM IdemEvent")).rows[0]!.c), (c) => c >= total, 90_000);
      await Bun.sleep(2_000);
      const { rows } = await store.query<{ c: string; u: string }>("SELECT count() AS c, uniqExact(id) AS u FROM IdemEvent");
      console.log(`broker killed under ingest: answers ${JSON.stringify(Object.fromEntries(statuses))}; stored ${rows[0]!.c} rows of ${total}`);
      expect(rows[0]).toEqual({ c: String(total), u: String(total) });
      // The crash was felt: some requests were not acknowledged at first.
      expect([...statuses.keys()].some((s) => s !== "200")).toBe(true);
    } finally {
      await Promise.all(processes.map((p) => (p.proc.exitCode === null ? p.stop() : Promise.resolve(0))));
      await store.close();
      await broker.stop();
      await clickhouse.stop();
    }
  }, 240_000);
});
