/**
 * A project's own tests through `igloo test` (the compiled binary, as users run it): the
 * template's pipeline tests pass, and fail when a bug is planted in the function, the
 * view or the model; test files running in parallel never see each other's rows.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IGLOO, initProject, removeDir } from "../scripts/lib/igloo.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(join(dir, ".."));
});

function project(): string {
  const dir = initProject("e2e-testing");
  dirs.push(dir);
  return dir;
}

function iglooTest(dir: string, args: string[] = []): { code: number; output: string } {
  const result = Bun.spawnSync([IGLOO, "test", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  return { code: result.exitCode, output: result.stdout.toString() + result.stderr.toString() };
}

function edit(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`${file} has no ${JSON.stringify(from)} to plant a bug in`);
  writeFileSync(path, text.replace(from, to));
}

test("the template's tests pass under igloo test", () => {
  const dir = project();
  const run = iglooTest(dir);
  expect({ code: run.code, tail: run.output.slice(-400) }).toMatchObject({ code: 0 });
  expect(run.output).toMatch(/\b14 pass\b/);
  expect(run.output).toMatch(/\b0 fail\b/);
});

const BUGS: { what: string; file: string; from: string; to: string; failing: RegExp }[] = [
  { what: "the function drops the second item", file: "functions/purchaseItems.ts", from: "return purchase.items.map(", to: "return purchase.items.slice(0, 1).map(", failing: /\(fail\) chain: the function splits/ },
  { what: "the view counts buyers by order", file: "views/sales_by_sku.sql", from: "uniq(userId) AS buyers", to: "uniq(orderId) + 1 AS buyers", failing: /\(fail\) chain: the function splits/ },
  { what: "the model keeps no cents", file: "datamodels/Purchase.prisma", from: "@db.Decimal(18, 2)", to: "@db.Decimal(18, 0)", failing: /\(fail\) a view with parameters/ },
];

for (const bug of BUGS) {
  test(`a bug planted in ${bug.file} (${bug.what}) fails the pipeline test that covers it`, () => {
    const dir = project();
    edit(dir, bug.file, bug.from, bug.to);
    const run = iglooTest(dir, ["./test/pipeline.test.ts"]);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(bug.failing);
  });
}

test("pipelines never see each other's rows: concurrent tests in one process, and files in parallel worker processes", () => {
  const dir = project();
  const check = (name: string, count: number) => `async () => {
  const pipeline = await createTestPipeline();
  try {
    const records = Array.from({ length: ${count} }, (_, i) => ({ orderId: "${name}-" + i, ts: "2026-11-24T10:00:00Z", userId: "${name}", amount: 1, items: ["${name}"] }));
    for (let i = 0; i < records.length; i += 5) await pipeline.ingest("Purchase", records.slice(i, i + 5));
    expect(await pipeline.query("SELECT count() AS n, groupUniqArray(userId) AS users FROM Purchase")).toEqual([{ n: "${count}", users: ["${name}"] }]);
    expect(await pipeline.view("sales_by_sku")).toEqual([{ sku: "${name}", items: "${count}", orders: "${count}", buyers: "1" }]);
  } finally {
    await pipeline.close();
  }
}`;
  const header = 'import { expect, test } from "bun:test";\nimport { createTestPipeline } from "igloo/testing";\n';
  // Three pipelines alive at once in one process (one chDB): each must see its rows only.
  writeFileSync(join(dir, "test", "together.test.ts"), header + ([["p", 31], ["q", 9], ["r", 17]] as const).map(([name, count]) => `test.concurrent("only my ${count} purchases", ${check(name, count)});`).join("\n"));
  for (const [name, count] of [["a", 40], ["b", 7], ["c", 23]] as const) {
    writeFileSync(join(dir, "test", `isolation_${name}.test.ts`), header + `test("only my ${count} purchases", ${check(name, count)});\n`);
  }
  const together = iglooTest(dir, ["./test/together.test.ts"]);
  expect({ code: together.code, output: together.code === 0 ? "" : together.output.slice(-1500) }).toEqual({ code: 0, output: "" });
  expect(together.output).toMatch(/\b3 pass\b/);
  for (const args of [["--parallel=2"], ["--parallel=2", "--no-isolate"]]) {
    const run = iglooTest(dir, [...args, "./test/isolation_a.test.ts", "./test/isolation_b.test.ts", "./test/isolation_c.test.ts"]);
    expect({ args, code: run.code, output: run.code === 0 ? "" : run.output.slice(-1500) }).toEqual({ args, code: 0, output: "" });
    expect(run.output).toMatch(/\b3 pass\b/);
  }
});

/** A project of its own: Raw -> clean (a function) -> Reading -> alert (a second) -> Alert, an incremental and a parameterized view. */
const CHAIN_PROJECT: Record<string, string> = {
  "datamodels/Raw.prisma": `model Raw {\n  sensor String\n  celsius Float\n  at DateTime @db.DateTime64(3)\n  @@streamOnly\n}\n`,
  "datamodels/Reading.prisma": `model Reading {\n  sensor String @db.LowCardinality\n  kelvin Float\n  at DateTime @db.DateTime64(3)\n  @@orderBy([sensor, at])\n}\n`,
  "datamodels/Alert.prisma": `model Alert {\n  sensor String\n  kelvin Float\n  at DateTime @db.DateTime64(3)\n  @@orderBy([sensor, at])\n}\n`,
  "functions/clean.ts": `import { defineFunction } from "igloo";\nexport default defineFunction({\n  from: "Raw",\n  to: "Reading",\n  run(raw) {\n    if (raw.celsius < -273.15) return null;\n    return { sensor: raw.sensor.trim().toLowerCase(), kelvin: raw.celsius + 273.15, at: raw.at };\n  },\n});\n`,
  "functions/alert.ts": `import { defineFunction } from "igloo";\nexport default defineFunction({\n  from: "Reading",\n  to: "Alert",\n  run(reading, context) {\n    if (!(reading.kelvin > 373.15)) return null;\n    context.log.warn("hot: " + reading.sensor);\n    return reading;\n  },\n});\n`,
  "views/per_sensor.sql": `SELECT sensor, count() AS readings, max(kelvin) AS hottest\nFROM Reading\nGROUP BY sensor\n`,
  "views/alerts_since.sql": `SELECT sensor, kelvin, at\nFROM Alert\nWHERE sensor = {sensor:String} AND at >= {since:DateTime64(3)}\nORDER BY at\n`,
  "test/chain.test.ts": `import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestPipeline, fakeContext, type TestPipeline } from "igloo/testing";
import alert from "../functions/alert.ts";

let pipeline: TestPipeline;
beforeAll(async () => {
  pipeline = await createTestPipeline();
});
afterAll(() => pipeline.close());

test("raw readings are cleaned, counted per sensor, and the hot ones become alerts", async () => {
  await pipeline.ingest("Raw", [
    { sensor: " Boiler ", celsius: 120, at: "2026-11-30T10:00:00Z" },
    { sensor: "boiler", celsius: 80, at: "2026-11-30T10:01:00Z" },
    { sensor: "attic", celsius: 20, at: "2026-11-30T10:02:00Z" },
    { sensor: "attic", celsius: -300, at: "2026-11-30T10:03:00Z" },
  ]);
  expect(await pipeline.view("per_sensor")).toEqual(expect.arrayContaining([
    { sensor: "boiler", readings: "2", hottest: 393.15 },
    { sensor: "attic", readings: "1", hottest: 293.15 },
  ]));
  expect(await pipeline.view("alerts_since", { sensor: "boiler", since: "2026-11-30T00:00:00Z" })).toEqual([
    { sensor: "boiler", kelvin: 393.15, at: "2026-11-30T10:00:00.000Z" },
  ]);
  expect(pipeline.logs()).toContain("warn: function alert: hot: boiler");
  await pipeline.checkViews({ seed: 3 });
});

test("alert, alone: a hot reading passes and says so in the log", () => {
  const context = fakeContext({ now: "2026-11-30T12:00:00Z" });
  const reading = { sensor: "oven", kelvin: 500, at: "2026-11-30T11:00:00.000Z" };
  expect(alert.run(reading, context)).toEqual(reading);
  expect(context.logs).toEqual([{ level: "warn", message: "hot: oven" }]);
  expect(alert.run({ ...reading, kelvin: 300 }, context)).toBeNull();
});
`,
};

test("a project with two chained functions, an incremental and a parameterized view: its tests pass, and fail for a bug in either function, the view or a model", () => {
  const dir = project();
  for (const file of ["functions/purchaseItems.ts", "views/sales_by_sku.sql", "views/top_pages.sql", "views/user_purchases.sql", "test/pipeline.test.ts"]) Bun.spawnSync(["rm", "-f", join(dir, file)]);
  for (const [file, text] of Object.entries(CHAIN_PROJECT)) writeFileSync(join(dir, file), text);
  const clean = iglooTest(dir, ["./test/chain.test.ts"]);
  expect({ code: clean.code, output: clean.code === 0 ? "" : clean.output.slice(-2000) }).toEqual({ code: 0, output: "" });
  const bugs: [string, string, string][] = [
    ["functions/clean.ts", ".toLowerCase()", ""],
    ["functions/alert.ts", "reading.kelvin > 373.15", "reading.kelvin > 400"],
    ["views/per_sensor.sql", "max(kelvin)", "min(kelvin)"],
    ["datamodels/Reading.prisma", "kelvin Float", "kelvin Int"],
  ];
  for (const [file, from, to] of bugs) {
    const original = readFileSync(join(dir, file), "utf8");
    edit(dir, file, from, to);
    const run = iglooTest(dir, ["./test/chain.test.ts"]);
    expect({ file, code: run.code === 0 ? 0 : 1, failed: /\(fail\) raw readings are cleaned/.test(run.output) }).toEqual({ file, code: 1, failed: true });
    writeFileSync(join(dir, file), original);
  }
});
