/**
 * The README's deploy of a schema change: stop the workers, `igloo migrate`, start the new
 * build. The old build's ingest keeps acknowledging records meanwhile, and they wait in
 * Kafka under the old columns. The new worker must store them converted exactly as the
 * migration converted the rows the table already held (runtime/writer/earlierShapes.ts):
 * it used to dead-letter every one the new model refused (found by the schema-evolution
 * suite: `f1: -45` once f1 became a String).
 *
 * Real engines: the shared Kafka broker and a ClickHouse server of this test's own (Debian's
 * 18.16 here), since migrate records its schema there.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startClickHouse, type ClickHouseServer } from "./helpers/clickhouseServer.ts";
import { productionEnv } from "./helpers/production.ts";
import { sharedKafka } from "./helpers/kafka.ts";
import { eventually, IGLOO, initProject, removeDir, startIgloo, type DevProcess } from "./helpers/igloo.ts";

const MODEL = "MigratedBacklog";
const before = `model ${MODEL} {
  id    String @id
  code  Int
  small Int    @db.UInt16
  kind  Shade
  note  String?
}
enum Shade {
  light
  dark
  gone
}
`;
// code: Int -> String; small: UInt16 -> UInt8 (1000 wraps to 232, as CAST does); the enum
// loses `gone` (no stored row holds it, one record in the log does); note is removed.
const after = `model ${MODEL} {
  id    String @id
  code  String
  small Int    @db.UInt8
  kind  Shade
}
enum Shade {
  light
  dark
}
`;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dirname(dir));
});

async function ask(server: ClickHouseServer, sql: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${server.url}/?database=${server.database}`, {
    method: "POST",
    headers: { "x-clickhouse-user": server.user, "x-clickhouse-key": server.password },
    body: `${sql} FORMAT JSONEachRow`,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`ClickHouse: ${text}`);
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

test("records the old build acknowledged into Kafka before `igloo migrate` are stored converted like the table's rows; one that cannot convert is dead-lettered saying why", async () => {
  const [kafka, clickhouse] = await Promise.all([sharedKafka(), startClickHouse("clickhouse-backlog")]);
  const { keys, env } = productionEnv(kafka.brokers, clickhouse, "backlog");
  const project = initProject("migrate-backlog");
  dirs.push(project);
  for (const folder of ["datamodels", "functions", "views"]) {
    rmSync(join(project, folder), { recursive: true, force: true });
    mkdirSync(join(project, folder));
  }
  const build = (prisma: string, name: string): string => {
    writeFileSync(join(project, "datamodels", `${MODEL}.prisma`), prisma);
    const out = join(dirname(project), name);
    const built = Bun.spawnSync([IGLOO, "build", "--out", out], { cwd: project, stdout: "pipe", stderr: "pipe" });
    if (built.exitCode !== 0) throw new Error(`igloo build failed: ${built.stderr.toString()}${built.stdout.toString()}`);
    return out;
  };
  const migrate = (dir: string, ...args: string[]) => {
    const result = Bun.spawnSync([join(dir, "igloo"), "migrate", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    if (result.exitCode !== 0) throw new Error(`igloo migrate failed: ${result.stderr.toString()}${result.stdout.toString()}`);
  };
  const start = (dir: string, role: "ingest" | "worker") => startIgloo(dir, "start", { binary: join(dir, "igloo"), args: ["--role", role], env });
  const processes: DevProcess[] = [];
  // The same values twice: once stored before the migration (converted by its ALTER), once
  // still in the log (converted by the new worker).
  const values = (prefix: string) =>
    [-45, 0, 7, 2147483647].flatMap((code, i) =>
      [0, 255, 1000, 65535].map((small, j) => ({ id: `${prefix}${i}-${j}`, code, small, kind: (i + j) % 2 === 0 ? "light" : "dark", note: j === 0 ? null : `n${i}${j}` })),
    );
  const send = async (url: string, records: unknown[]) => {
    const response = await fetch(`${url}/ingest/${MODEL}`, { method: "POST", headers: { authorization: `Bearer ${keys.ingest.key}`, "content-type": "application/json" }, body: JSON.stringify(records) });
    expect({ status: response.status, body: await response.json() }).toMatchObject({ status: 200, body: { accepted: records.length, rejected: 0 } });
  };
  try {
    const first = build(before, "build-1");
    migrate(first);
    let worker = await start(first, "worker");
    const ingest = await start(first, "ingest");
    processes.push(worker, ingest);
    await send(ingest.url, values("a"));
    await eventually(() => ask(clickhouse, `SELECT count() AS c FROM ${MODEL}`), (rows) => Number(rows[0]!.c) === 16);
    // The deploy: workers stop, the old ingest keeps acknowledging into Kafka.
    expect(await worker.stop()).toBe(0);
    await send(ingest.url, [...values("b"), { id: "b-gone", code: 1, small: 1, kind: "gone", note: null }]);

    const second = build(after, "build-2");
    migrate(second, "--allow-destructive");
    worker = await start(second, "worker");
    processes.push(worker);
    const rows = await eventually(
      () => ask(clickhouse, `SELECT * FROM ${MODEL} ORDER BY id`),
      (r) => r.length >= 32,
      30_000,
    );
    expect(rows.length).toBe(32);
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    // Each record from the log equals the row the ALTER converted from the same values.
    for (const a of values("a")) {
      const { id: _a, ...stored } = byId.get(a.id)!;
      const { id: _b, ...fromLog } = byId.get(a.id.replace(/^a/, "b"))!;
      expect({ id: a.id, row: fromLog }).toEqual({ id: a.id, row: stored });
    }
    // What the conversion is: the engine's CAST, as the README's type changes say.
    expect(byId.get("a0-2")).toEqual({ id: "a0-2", code: "-45", small: 232, kind: "light" });
    const letters = await eventually(() => ask(clickhouse, `SELECT source, stage, record, error FROM igloo_dead_letters`), (r) => r.length >= 1, 30_000);
    expect(letters.length).toBe(1);
    expect(letters[0]).toMatchObject({ source: MODEL, stage: "writer" });
    expect(JSON.parse(letters[0]!.record as string)).toMatchObject({ id: "b-gone", kind: "gone" });
    expect(letters[0]!.error).toMatch(/field `kind`.*; as a record of the table's columns before `igloo migrate` it does not convert either: .*gone/s);
  } finally {
    for (const p of processes) if (p.proc.exitCode === null && p.proc.signalCode === null) await p.stop();
    await clickhouse.stop();
  }
}, 180_000);
