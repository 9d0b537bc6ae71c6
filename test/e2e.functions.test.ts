/**
 * Functions end to end on the compiled binary: a chain A -> B -> C with fan-out, drop and
 * throwing records, two functions from one model, parallel workers keeping per-key order,
 * and compile-time types.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { countRows, eventually, initProject, postIngest, query, removeDir, REPO, startDev, type DevProcess } from "./helpers/igloo.ts";

const MODELS = `
model Order {
  id     String @id
  userId String
  lines  Int
  mode   String
  @@key(userId)
}

model Line {
  orderId String
  n       Int
  userId  String
  seq     Int
  @@key(userId)
}

model Shipment {
  orderId String
  n       Int
  heavy   Boolean
}

model Audit {
  orderId String
  mode    String
}

model Raw {
  id String
  n  Int
  @@streamOnly
}

model Cooked {
  id      String
  doubled Int
}

model LateAudit {
  orderId String
}
`;

// Fan-out (one Line per line), drop (lines = 0), a throw (mode "explode"), and an invalid
// result (mode "invalid": a Line whose n is a string).
const SPLIT = `import { defineFunction } from "igloo";

export default defineFunction({
  from: "Order",
  to: "Line",
  workers: 3,
  async run(order) {
    if (order.mode === "explode") {
      throw new Error("cannot split order " + order.id);
    }
    if (order.lines === 0) return null;
    const n = order.mode === "invalid" ? ("many" as unknown as number) : 0;
    return Array.from({ length: order.lines }, (_, i) => ({ orderId: order.id, n: n + i, userId: order.userId, seq: Number(order.id.split("-")[1]) }));
  },
});
`;

const SHIP = `import { defineFunction } from "igloo";

export default defineFunction({
  from: "Line",
  to: "Shipment",
  run: (line) => (line.n % 2 === 0 ? { orderId: line.orderId, n: line.n, heavy: line.n > 2 } : null),
});
`;

const AUDIT = `import { defineFunction } from "igloo";

export default defineFunction({ from: "Order", to: "Audit", run: (o) => ({ orderId: o.id, mode: o.mode }) });
`;

function orders(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: `o-${i}`,
    userId: `u-${i % 7}`,
    lines: i % 5, // 0..4; 0 is dropped
    mode: i % 50 === 13 ? "explode" : i % 50 === 27 ? "invalid" : "normal",
  }));
}

describe("functions", () => {
  let dir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    dir = initProject("functions");
    writeFileSync(join(dir, "datamodels", "Chain.prisma"), MODELS);
    writeFileSync(join(dir, "functions", "split.ts"), SPLIT);
    writeFileSync(join(dir, "functions", "ship.ts"), SHIP);
    writeFileSync(join(dir, "functions", "audit.ts"), AUDIT);
    writeFileSync(join(dir, "functions", "cook.ts"), 'import { defineFunction } from "igloo";\nexport default defineFunction({ from: "Raw", to: "Cooked", run: (r) => ({ id: r.id, doubled: r.n * 2 }) });\n');
    dev = await startDev(dir);
  });
  afterAll(async () => {
    await dev?.stop();
    removeDir(dirname(dir));
  });

  test("a chain with fan-out, drop and failures gives exact counts in every table and in the dead letters", async () => {
    const all = orders(1000);
    for (let i = 0; i < all.length; i += 100) {
      const { body } = await postIngest(dev.url, "Order", all.slice(i, i + 100));
      expect(body.accepted).toBe(100);
    }
    const ok = all.filter((o) => o.mode === "normal");
    const lines = ok.reduce((sum, o) => sum + o.lines, 0);
    const shipments = ok.reduce((sum, o) => sum + Math.ceil(o.lines / 2), 0);
    await eventually(() => countRows(dev.url, "Shipment"), (n) => n >= shipments);
    await eventually(() => countRows(dev.url, "Audit"), (n) => n >= 1000);
    await Bun.sleep(300);
    expect(await countRows(dev.url, "Line")).toBe(lines);
    expect(await countRows(dev.url, "Shipment")).toBe(shipments);
    expect(await countRows(dev.url, "Audit")).toBe(1000);
    expect(await countRows(dev.url, "Order")).toBe(1000);

    const letters = await query<{ source: string; stage: string; record: string; error: string }>(dev.url, "SELECT source, stage, record, error FROM igloo_dead_letters ORDER BY record");
    const explode = all.filter((o) => o.mode === "explode");
    const invalid = all.filter((o) => o.mode === "invalid" && o.lines > 0);
    expect(letters.length).toBe(explode.length + invalid.length);
    expect(letters.every((l) => l.source === "split" && l.stage === "function")).toBe(true);
    const thrown = letters.filter((l) => l.error.includes("threw"));
    expect(thrown.length).toBe(explode.length);
    expect(thrown[0]!.error).toMatch(/split threw: cannot split order o-\d+ \(at functions\/split\.ts:9:\d+\)/);
    expect(JSON.parse(thrown[0]!.record).mode).toBe("explode");
    const bad = letters.filter((l) => l.error.includes("invalid Line"));
    expect(bad.length).toBe(invalid.length);
    expect(bad[0]!.error).toContain("`n`");

    // The terminal shows each kind of failure once, with the line, not once per record.
    const out = dev.output();
    expect(out).toMatch(/function split threw: cannot split order o-\d+ \(at functions\/split\.ts:9:\d+\); the record went to igloo_dead_letters/);
    expect(out).toMatch(/function split returned an invalid Line in (its )?result( \d+)?: .*`n`/);
    expect(out.match(/split threw/g)!.length).toBeLessThanOrEqual(2);
  });

  test("a new function with startFrom: \"latest\" skips what its source held before it started", async () => {
    writeFileSync(join(dir, "functions", "late.ts"), 'import { defineFunction } from "igloo";\nexport default defineFunction({ from: "Order", to: "LateAudit", startFrom: "latest", run: (o) => ({ orderId: o.id }) });\n');
    await eventually(async () => dev.output(), (out) => out.includes("started function late"), 10_000);
    const { body } = await postIngest(dev.url, "Order", orders(10).map((o) => ({ ...o, id: `late-${o.id}`, mode: "normal" })));
    expect(body.accepted).toBe(10);
    await eventually(() => countRows(dev.url, "LateAudit"), (n) => n >= 10);
    await Bun.sleep(300);
    expect(await countRows(dev.url, "LateAudit")).toBe(10);
  });

  test("a @@streamOnly model has an endpoint and a topic but no table; its function's output is stored", async () => {
    const { body } = await postIngest(dev.url, "Raw", Array.from({ length: 10 }, (_, i) => ({ id: `r-${i}`, n: i })));
    expect(body.accepted).toBe(10);
    const rows = await eventually(() => query<{ doubled: number }>(dev.url, "SELECT doubled FROM Cooked ORDER BY doubled"), (r) => r.length === 10);
    expect(rows.map((r) => r.doubled)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect((await query<{ name: string }>(dev.url, "SHOW TABLES")).map((t) => t.name)).not.toContain("Raw");
  });

  test("parallel workers keep each key's records in order", async () => {
    // Each user's orders were sent in increasing sequence; Lines must arrive in that order.
    const rows = await query<{ userId: string; seqs: number[] }>(dev.url, "SELECT userId, groupArray(seq) AS seqs FROM (SELECT userId, seq, orderId FROM Line WHERE n = 0 ORDER BY toUInt64(splitByChar('_', _part)[2]), _part_offset) GROUP BY userId");
    expect(rows.length).toBe(7);
    for (const row of rows) expect(row.seqs).toEqual([...row.seqs].sort((a, b) => a - b));
  });

  test("a wrong field or type in run's result is a compile error in the editor (tsc)", () => {
    mkdirSync(join(dir, "typecheck"), { recursive: true });
    writeFileSync(join(dir, "typecheck", "bad.ts"), SHIP.replace("heavy: line.n > 2", "heavy: 'yes'").replace('"igloo"', '"igloo"'));
    writeFileSync(join(dir, "typecheck", "good.ts"), SHIP);
    writeFileSync(join(dir, "tsconfig.check.json"), JSON.stringify({ extends: "./tsconfig.json", include: ["typecheck/*.ts", "functions/*.ts"] }));
    const tsc = Bun.spawnSync([join(REPO, "node_modules", ".bin", "tsc"), "-p", "tsconfig.check.json", "--noEmit"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const out = tsc.stdout.toString();
    expect(tsc.exitCode).not.toBe(0);
    expect(out).toContain("typecheck/bad.ts");
    expect(out).toMatch(/heavy|boolean/);
    expect(out).not.toContain("good.ts");
    expect(out).not.toContain("functions/");
  });
});
