/**
 * `igloo check` and the checks `igloo build` runs, on the compiled binary: views the
 * engine rejects, a function whose result does not fit its `to` model (with the
 * project's TypeScript), a bad config, a good project passing, and `igloo build`
 * refusing a broken project and writing `igloo.config.json`.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { IGLOO, initProject, removeDir, REPO } from "./helpers/igloo.ts";

const made: string[] = [];
afterAll(() => {
  for (const dir of made) removeDir(dirname(dir));
});

/** A fresh template project with `files` written (null removes one); `typescript` links the repo's. */
function project(files: Record<string, string | null> = {}, options: { typescript?: boolean } = {}): string {
  const dir = initProject("check");
  made.push(dir);
  for (const [path, text] of Object.entries(files)) {
    if (text === null) rmSync(join(dir, path), { force: true });
    else {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
  }
  if (options.typescript) {
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    symlinkSync(join(REPO, "node_modules", "typescript"), join(dir, "node_modules", "typescript"));
  }
  return dir;
}

function run(dir: string, args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const result = Bun.spawnSync([IGLOO, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

// The template's function with one field of the wrong type (PurchaseItem.sku is a String).
const WRONG_RESULT = `import { defineFunction } from "igloo";

export default defineFunction({
  from: "Purchase",
  to: "PurchaseItem",
  run(purchase) {
    return purchase.items.map((sku, i) => ({ orderId: purchase.orderId, sku: i, ts: purchase.ts, userId: purchase.userId, coupon: false }));
  },
});
`;

describe("igloo check", () => {
  test("the template passes, with its function type-checked by the project's TypeScript, and leaves no engine directory", () => {
    const dir = project({}, { typescript: true });
    const tmp = join(dirname(dir), "tmp");
    mkdirSync(tmp);
    const { code, out, err } = run(dir, ["check"], { TMPDIR: tmp });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out.trim().split("\n")).toHaveLength(1);
    expect(out).toMatch(/^igloo check: ok: 3 models, 1 function \(type-checked with TypeScript \d+\.\d+\.\d+\), 4 views \(created in the engine\) in \d+\.\d s\n$/);
    expect(readdirSync(tmp).filter((name) => name.startsWith("igloo"))).toEqual([]);
    // tsc saw the view types the engine described.
    expect(readFileSync(join(dir, ".igloo", "lib", "views.ts"), "utf8")).toContain("sales_by_sku");
  });

  test("a view with an unknown column and a view the engine cannot parse fail at their file and line", () => {
    const dir = project({
      "views/broken.sql": "-- a column that does not exist\nSELECT sku, nope\nFROM PurchaseItem\n",
      "views/unparsable.sql": "SELECT sku FROM PurchaseItem WHERE\n",
      "views/on_broken.sql": "SELECT count() AS n FROM broken\n",
    });
    const { code, out, err } = run(dir, ["check"]);
    expect(out).toBe("");
    expect(code).toBe(1);
    expect(err).toMatch(/^views\/broken\.sql:2:13: the engine rejects this query: .*Unknown expression identifier `nope`/m);
    expect(err).toMatch(/^views\/unparsable\.sql:1:\d+: the engine rejects this query: Syntax error/m);
    // A view reading a broken one is reported too, not created over nothing.
    expect(err).toMatch(/^views\/on_broken\.sql:1:\d+: .*`broken`/m);
    expect(err).toMatch(/\nigloo check: 3 problems \(3 in views\); checked 3 models, 1 function .*, 7 views .* in \d+\.\d s\n$/);
  });

  test("a function whose result does not fit its `to` model fails at its file and line (the project's tsc)", () => {
    const dir = project({ "functions/purchaseItems.ts": WRONG_RESULT }, { typescript: true });
    const { code, out, err } = run(dir, ["check"]);
    expect(out).toBe("");
    expect(code).toBe(1);
    expect(err).toMatch(/^functions\/purchaseItems\.ts:6:3: error TS2322: /m);
    expect(err).toContain("Types of property 'sku' are incompatible");
    expect(err).toMatch(/\nigloo check: 1 problem \(1 in functions\); checked 3 models, 1 function \(type-checked with TypeScript [\d.]+\), 4 views .*\n$/);
  });

  test("without TypeScript in the project, functions load and name models but their types are not checked, and it says so", () => {
    const dir = project({ "functions/purchaseItems.ts": WRONG_RESULT, "functions/orphan.ts": 'import { defineFunction } from "igloo";\nexport default defineFunction({ from: "Purchase", to: "Nowhere" as "PurchaseItem", run: () => null });\n' });
    const { code, err } = run(dir, ["check"]);
    expect(code).toBe(1);
    expect(err).toMatch(/^functions\/orphan\.ts:\d+:\d+: `to` is "Nowhere", which is not a model of this project/m);
    expect(err).not.toContain("purchaseItems.ts");
    expect(err).toMatch(/\nigloo check: 1 problem \(1 in functions\); checked 3 models, 2 functions \(not type-checked: no typescript in node_modules; `npm install -D typescript` to check results against the models\)/);
  });

  test("a model table the engine refuses and an unknown config setting fail at their file and line", () => {
    const dir = project({
      "datamodels/Tick.prisma": 'model Tick {\n  id String @id\n  n  Int\n\n  @@partitionBy("toYYYYMM(nope)")\n}\n',
      "igloo.config.json": '{\n  "kafka": { "broker": "k:9092" }\n}\n',
    });
    const { code, err } = run(dir, ["check"]);
    expect(code).toBe(1);
    expect(err).toMatch(/^datamodels\/Tick\.prisma:5:\d+: the engine cannot create the table of model `Tick`: .*nope/m);
    expect(err).toMatch(/^igloo\.config\.json:2:\d+: unknown setting `kafka\.broker`/m);
    expect(err).toMatch(/\nigloo check: 2 problems \(1 in models, 1 in config\)/);
  });
});

describe("igloo build", () => {
  test("refuses a broken project, prints every problem and builds nothing", () => {
    const dir = project({ "functions/purchaseItems.ts": WRONG_RESULT, "views/broken.sql": "SELECT sku, nope FROM PurchaseItem\n" }, { typescript: true });
    const out = join(dirname(dir), "build");
    const result = run(dir, ["build", "--out", out]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^error: the project has 2 problems; nothing was built:\n/);
    expect(result.err).toMatch(/^functions\/purchaseItems\.ts:6:3: error TS2322/m);
    expect(result.err).toMatch(/^views\/broken\.sql:1:13: the engine rejects this query/m);
    expect(existsSync(out)).toBe(false);
  });

  test("writes igloo.config.json: the project's settings plus the defaults of the rest, private", () => {
    const dir = project({ "igloo.config.json": JSON.stringify({ kafka: { brokers: ["k-1:9092"], partitions: 12 }, limits: { maxRecords: 5000 } }) });
    const out = join(dirname(dir), "build");
    const result = run(dir, ["build", "--out", out]);
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^igloo check: ok: .*\nbuilt .*: 3 models, 1 functions, 4 views\n$/);
    const config = JSON.parse(readFileSync(join(out, "igloo.config.json"), "utf8"));
    expect(statSync(join(out, "igloo.config.json")).mode & 0o777).toBe(0o600);
    expect(config.kafka.brokers).toEqual(["k-1:9092"]);
    expect(config.kafka.partitions).toBe(12);
    expect(config.kafka.clientId).toBe("igloo");
    expect(config.limits.maxRecords).toBe(5000);
    expect(config.limits.query.timeoutMs).toBe(30000);
    expect(config.port).toBe(4000);
    // What each deployment must give is not invented.
    expect(config.clickhouse).toBeUndefined();
    expect(config.keys).toBeUndefined();
    expect(existsSync(join(out, "manifest.json"))).toBe(true);
    expect(existsSync(join(out, "functions", "purchaseItems.js"))).toBe(true);

    // A project without one gets the defaults.
    const bare = project();
    const bareOut = join(dirname(bare), "build");
    expect(run(bare, ["build", "--out", bareOut]).code).toBe(0);
    const defaults = JSON.parse(readFileSync(join(bareOut, "igloo.config.json"), "utf8"));
    expect(defaults.kafka.brokers).toBeUndefined();
    expect(defaults.host).toBe("0.0.0.0");
    expect(defaults.maxBodyBytes).toBe(16 * 1024 * 1024);
  });
});
