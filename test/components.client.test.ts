/**
 * The dashboard elements as the generated client ships them: `components.js` (the module
 * Igloo serves, within issue 13's budget of 60 KB gzipped) and `dashboard.ts`, whose calls
 * accept only the columns and parameters of the view they name, checked by the real
 * compiler for a browser (DOM library). The elements' own sources type-check too (they
 * have their own tsconfig: the DOM library, no Bun).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseType } from "../conventions/datamodels/typeFaces.ts";
import { clientModule } from "../src/generate/client.ts";
import { COMPONENTS_BUNDLE, COMPONENTS_FILE } from "../src/generate/components.ts";
import { removeDir, REPO, tempDir } from "./helpers/igloo.ts";

const BUDGET_BYTES = 60 * 1024;

const VIEWS = [
  { name: "top_pages", columns: [{ name: "path", type: "String" }, { name: "views", type: "UInt64" }], params: [] },
  {
    name: "user_purchases",
    columns: [{ name: "ts", type: "DateTime64(3, 'UTC')" }, { name: "amount", type: "Decimal(18, 2)" }],
    params: [{ name: "userId", type: "String" }, { name: "since", type: "DateTime" }],
  },
].map((view) => ({ ...view, columns: view.columns.map((c) => ({ name: c.name, type: parseType(c.type) })), params: view.params.map((p) => ({ name: p.name, type: parseType(p.type) })) }));

const HEAD = `import { dashboard } from "./client/dashboard.js";\n`;
const OK = `${HEAD}
const chart: HTMLElement = dashboard.chart("top_pages", { type: "bar", x: "path", y: ["views"], live: true });
const line = dashboard.chart("user_purchases", { x: "ts", y: "amount", params: { userId: "u-1", since: "2026-01-01 00:00:00" } });
const first: string | undefined = line.rows[0]?.amount;
const table = dashboard.table("top_pages", { columns: ["path", "views"], pageSize: 5 });
const kpi = dashboard.kpi("top_pages", { value: "views", aggregate: "sum", label: "Page views", compare: "previous", sparkline: true });
const attributes: Record<string, string> = dashboard.chartAttributes("top_pages", { x: "path", y: ["views"], stacked: true });
document.body.append(chart, line, table, kpi);
console.log(first, attributes);
`;

/** Each misuse on its own line, with the compiler errors accepted for it. */
const BAD: Record<string, { codes: string[]; text: string }> = {
  "bad-view.ts": { codes: ["TS2345"], text: `dashboard.chart("top_page", { x: "path" }); // <- here\n` },
  "bad-column.ts": { codes: ["TS2322"], text: `dashboard.chart("top_pages", { x: "paht" }); // <- here\n` },
  "bad-y.ts": { codes: ["TS2322"], text: `dashboard.chart("top_pages", { y: ["views", "ts"] }); // <- here\n` },
  "bad-params.ts": { codes: ["TS2345", "TS2741"], text: `dashboard.chart("user_purchases", { x: "ts" }); // <- here\n` },
  "bad-param-name.ts": { codes: ["TS2353", "TS2561"], text: `dashboard.table("user_purchases", { params: { userId: "u", since: "x", user: "u" } }); // <- here\n` },
  "bad-kpi.ts": { codes: ["TS2322"], text: `dashboard.kpi("top_pages", { value: "path", aggregate: "median" }); // <- here\n` },
};

const BROWSER = {
  target: "ES2022",
  module: "ESNext",
  moduleResolution: "bundler",
  lib: ["ES2022", "DOM"],
  types: [] as string[],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  verbatimModuleSyntax: true,
  noEmit: true,
  skipLibCheck: false,
};

let dir: string;
let files: Record<string, string>;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
}

function tsc(project: string): { code: number; output: string } {
  const result = Bun.spawnSync([join(REPO, "node_modules", ".bin", "tsc"), "-p", project, "--pretty", "false"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, output: result.stdout.toString() + result.stderr.toString() };
}

beforeAll(() => {
  dir = tempDir("components-client");
  files = clientModule({ models: [], views: VIEWS });
  for (const [name, text] of Object.entries(files)) write(`client/${name}`, text);
  write("ok.ts", OK);
  for (const [name, bad] of Object.entries(BAD)) write(name, HEAD + bad.text);
});

afterAll(() => removeDir(dir));

test(`the elements' module is the one Igloo serves, within ${BUDGET_BYTES / 1024} KB gzipped`, () => {
  const built = readFileSync(join(REPO, COMPONENTS_BUNDLE, COMPONENTS_FILE), "utf8");
  expect(files[COMPONENTS_FILE]).toBe(built);
  const gzipped = Bun.gzipSync(Buffer.from(built), { level: 9 }).length;
  console.log(`components.js: ${(built.length / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
  expect(gzipped).toBeLessThanOrEqual(BUDGET_BYTES);
  // The generated dashboard.js loads it, so a bundler keeps it: the package says it has side effects.
  expect(files["dashboard.js"]).toMatch(/import ?"\.\/components\.js"/);
  expect(JSON.parse(files["package.json"]!).sideEffects).toEqual([`./${COMPONENTS_FILE}`]);
});

test("typed calls compile for a browser, with each element typed as an HTMLElement with the view's rows", () => {
  write("tsconfig.ok.json", JSON.stringify({ compilerOptions: BROWSER, files: ["ok.ts"] }));
  expect(tsc("tsconfig.ok.json")).toEqual({ code: 0, output: "" });
});

test("another view's column, a missing parameter or an unknown name fails at its own line", () => {
  const names = Object.keys(BAD);
  write("tsconfig.bad.json", JSON.stringify({ compilerOptions: BROWSER, files: names }));
  const result = tsc("tsconfig.bad.json");
  const errors = result.output
    .split("\n")
    .map((line) => /^(\S+)\((\d+),\d+\): error (TS\d+):/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ file: m[1]!, line: m[2], known: BAD[m[1]!]?.codes.includes(m[3]!) ?? false }));
  expect(errors.sort((a, b) => a.file.localeCompare(b.file))).toEqual(names.sort().map((file) => ({ file, line: "2", known: true })));
});

test("the elements' sources type-check against the DOM library", () => {
  const result = Bun.spawnSync([join(REPO, "node_modules", ".bin", "tsc"), "--noEmit", "-p", join(REPO, "packages", "components"), "--pretty", "false"], { stdout: "pipe", stderr: "pipe" });
  expect(result.stdout.toString() + result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
});
