/**
 * `igloo check` (and the first step of `igloo build`): everything that can be known about
 * a project without running it, each problem as `file:line:column: what`.
 *
 * What is checked:
 * - models: every `datamodels/*.prisma` parses (the same parser as `igloo dev`), and the
 *   engine accepts each model's table: the CREATE TABLE of `igloo dev` runs in a throwaway
 *   chDB directory (so a bad `@@partitionBy` or `@@orderBy` is caught);
 * - views: every `views/*.sql` parses, and is then created in that throwaway engine over
 *   the model tables exactly as `igloo dev` does (runtime/views/viewManager.ts: references,
 *   cycles, dependency order, DESCRIBE, CREATE VIEW, the incremental rewrite), so an
 *   unknown column or SQL the engine rejects is reported with the engine's own words;
 * - functions: every `functions/*.ts` bundles, loads, and names existing models in `from`
 *   and `to` (conventions/functions/load.ts). Their types are checked by the TypeScript
 *   compiler when the project has one (`node_modules/typescript`, in the project or a
 *   folder above it): `tsc` runs on the function files (and what they import) with the
 *   project's tsconfig and the generated `igloo`, `igloo/models`, `igloo/views` types, so
 *   a result that does not fit the `to` model is an error. The compiled igloo binary holds
 *   no TypeScript compiler: without one in the project, result types are not checked,
 *   and the summary says so. (Igloo still checks every result against the `to` model at
 *   run time, and sends the input of an invalid one to the dead letters.)
 * - `igloo.config.json`, when there is one: valid JSON, no unknown keys, and each value of
 *   the type its setting takes (src/config.ts).
 *
 * What it cannot check: what depends on data or on the production servers (a view that
 * is valid on chDB may still fail on an older ClickHouse server; connection settings).
 *
 * It writes `.igloo/lib` (the generated library and types, as `igloo dev` does, now with
 * the view types the engine described) and `.igloo/check/tsconfig.json`, and nothing else
 * in the project; the engine's directory is removed when the check ends.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { ConventionError, IglooError } from "../../conventions/errors.ts";
import { functionFiles, loadFunctions, type LoadedFunction } from "../../conventions/functions/load.ts";
import { filesIn, isProject, loadProject } from "../../conventions/project.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import { parseViews } from "../../conventions/views/parse.ts";
import { DEAD_LETTER_MODEL } from "../../runtime/deadLetters/deadLetters.ts";
import { RECORD_IDS_MODEL } from "../../runtime/ingest/recordIds.ts";
import { DEFAULT_LIMITS } from "../../runtime/limits.ts";
import { createTableSql } from "../../runtime/store/clickhouseSql.ts";
import { ViewManager } from "../../runtime/views/viewManager.ts";
import { assetPath } from "../assets.ts";
import { CONFIG_FILE, LIMIT_SETTINGS, loadConfig, SETTINGS } from "../config.ts";
import { stateDir } from "../engines.ts";
import { writeProjectLib, writeViewTypes } from "../generate/projectLib.ts";
import { describeViews, type ViewDescription } from "../generate/viewTypes.ts";

export type CheckArea = "models" | "functions" | "views" | "config";

export interface CheckProblem {
  readonly area: CheckArea;
  /** `file:line:column: what is wrong` (tsc's explanation on the indented lines below). */
  readonly message: string;
}

/** How the functions' types were checked. */
export type TypeCheck =
  | { readonly checked: true; readonly typescript: string }
  | { readonly checked: false; readonly reason: string };

export interface CheckResult {
  readonly problems: readonly CheckProblem[];
  readonly models: readonly ModelIR[];
  readonly views: readonly ViewIR[];
  readonly functions: readonly LoadedFunction[];
  readonly viewDescriptions: readonly ViewDescription[];
  readonly types: TypeCheck;
  /** Files found (models: models parsed), whether or not they had problems. */
  readonly counts: { readonly models: number; readonly functions: number; readonly views: number };
  readonly ms: number;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function problem(area: CheckArea, error: unknown): CheckProblem {
  return { area, message: error instanceof Error ? error.message : String(error) };
}

/** 1-based line and column of `offset` in `text`. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

// ---------------------------------------------------------------------------------------
// Views and model tables, in a throwaway engine

/**
 * The engine names what it does not know (`Unknown expression identifier \`nope\``,
 * `Missing columns: 'nope'`); where that name first appears in the file is a better
 * place to point at than the start of the SELECT. Comments are skipped.
 */
function engineErrorAt(text: string, message: string): { line: number; column: number } | undefined {
  const named = /(?:Unknown (?:expression |table expression |column )?identifier|Missing columns?:|Unknown (?:function|column|table)|There is no column)\s*[`'"]([A-Za-z_][A-Za-z0-9_.]*)[`'"]/.exec(message);
  if (named === undefined || named === null) return undefined;
  const name = named[1]!.split(".").pop()!;
  const code = text.replace(/--[^\n]*/g, (c) => " ".repeat(c.length)).replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "));
  const found = new RegExp(`(?<![A-Za-z0-9_])${name.replace(/[$]/g, "\\$&")}(?![A-Za-z0-9_])`).exec(code);
  return found ? position(text, found.index) : undefined;
}

/**
 * The engine reads a view inside a statement of Igloo's (`DESCRIBE (` or `CREATE ... AS`
 * on the first line, the SELECT from the second), so its syntax errors say `(line L, col
 * C)` of that statement: line L - 1 of the SELECT. Past the SELECT's end means it ended
 * too early; its last character is the place to show.
 */
function syntaxErrorAt(view: ViewIR, message: string): { line: number; column: number } | undefined {
  const at = /Syntax error[^]*?\(line (\d+), col (\d+)\)/.exec(message);
  if (!at) return undefined;
  const lines = view.sql.split("\n");
  let line = Number(at[1]) - 1;
  let column = Number(at[2]);
  if (line < 1) return undefined;
  if (line > lines.length) {
    line = lines.length;
    column = lines[line - 1]!.length;
  }
  return { line: view.source.line + line - 1, column: line === 1 ? view.source.column + column - 1 : column };
}

/** A view's engine error at the place it is about, when the message says where. */
function relocate(root: string, views: ReadonlyMap<string, ViewIR>, error: ConventionError): ConventionError {
  const view = views.get(error.source.file);
  if (view === undefined || !/engine (rejects this query|cannot create this view)/.test(error.detail)) return error;
  const path = join(root, error.source.file);
  const at = syntaxErrorAt(view, error.detail) ?? (existsSync(path) ? engineErrorAt(readFileSync(path, "utf8"), error.detail) : undefined);
  if (at === undefined || (at.line === error.source.line && at.column === error.source.column)) return error;
  return new ConventionError({ file: error.source.file, ...at }, error.detail, { cause: error });
}

/** Where in the model's block the engine's complaint names (`Missing columns: 'nope'`), else the model. */
function modelErrorAt(root: string, model: ModelIR, message: string): ModelIR["source"] {
  const path = join(root, model.source.file);
  if (!existsSync(path)) return model.source;
  const lines = readFileSync(path, "utf8").split("\n");
  const block = lines.slice(model.source.line - 1).join("\n").replace(/\/\/[^\n]*/g, (c) => " ".repeat(c.length));
  const at = engineErrorAt(block, message);
  return at === undefined ? model.source : { file: model.source.file, line: model.source.line + at.line - 1, column: at.column };
}

async function checkEngine(
  root: string,
  models: readonly ModelIR[],
  views: readonly ViewIR[],
): Promise<{ problems: CheckProblem[]; descriptions: ViewDescription[] }> {
  const problems: CheckProblem[] = [];
  const dir = mkdtempSync(join(tmpdir(), "igloo-check-"));
  try {
    const { ChdbStore } = await import("../../runtime/store/chdb/chdbStore.ts");
    const store = await ChdbStore.open({ path: join(dir, "chdb"), limits: { ...DEFAULT_LIMITS.query, concurrency: 1 } });
    try {
      for (const model of [DEAD_LETTER_MODEL, RECORD_IDS_MODEL, ...models.filter((m) => !m.streamOnly)]) {
        try {
          await store.exec(createTableSql(model, store.capabilities));
        } catch (error) {
          const detail = (error instanceof Error ? error.message : String(error)).replace(/^(query|statement) failed: /, "").trim();
          problems.push(problem("models", new ConventionError(modelErrorAt(root, model, detail), `the engine cannot create the table of model \`${model.name}\`: ${detail}`)));
        }
      }
      const manager = new ViewManager(store);
      const report = await manager.apply(views, models, { pauseWriter: async () => async () => {} });
      const byFile = new Map(views.map((v) => [v.file, v]));
      for (const error of report.errors) problems.push(problem("views", relocate(root, byFile, error)));
      return { problems, descriptions: describeViews(manager) };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Function types, by the project's TypeScript compiler

/** The project's TypeScript (its folder and version), looked for where Node would. */
export function findTypeScript(root: string): { dir: string; version: string; tsc: string } | undefined {
  for (let dir = root; ; dir = dirname(dir)) {
    const pkg = join(dir, "node_modules", "typescript");
    const tsc = join(pkg, "lib", "tsc.js");
    if (existsSync(join(pkg, "package.json")) && existsSync(tsc)) {
      const version = String((JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version?: unknown }).version ?? "?");
      return { dir: pkg, version, tsc };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

const CHECK_DIR = join(".igloo", "check");

/**
 * `.igloo/check/tsconfig.json`: the project's tsconfig (or the template's options when it
 * has none), the function files only, and `"igloo"` mapped to the generated library.
 */
function writeCheckConfig(root: string, files: readonly string[]): string {
  const dir = join(root, CHECK_DIR);
  mkdirSync(dir, { recursive: true });
  const lib = join(root, ".igloo", "lib");
  // Absolute paths: `paths` would otherwise resolve against a `baseUrl` the project may set.
  const own = existsSync(join(root, "tsconfig.json"));
  const base = own
    ? { extends: join(root, "tsconfig.json") }
    : { compilerOptions: (JSON.parse(readFileSync(join(assetPath("template"), "tsconfig.json"), "utf8")) as { compilerOptions: Record<string, unknown> }).compilerOptions };
  const config = {
    ...base,
    compilerOptions: {
      ...("compilerOptions" in base ? base.compilerOptions : {}),
      noEmit: true,
      paths: { igloo: [join(lib, "index.ts")], "igloo/models": [join(lib, "models.ts")], "igloo/views": [join(lib, "views.ts")] },
    },
    files: files.map((f) => join(root, f)),
    include: [],
  };
  const path = join(dir, "tsconfig.json");
  writeFileSync(path, JSON.stringify(config, null, 2) + "\n");
  return path;
}

/**
 * tsc's `--pretty false` lines, `file(line,col): error TS2322: ...` with the explanation
 * indented below, as `file:line:col: error TS2322: ...`.
 */
export function parseTscOutput(output: string): string[] {
  const diagnostics: string[] = [];
  for (const line of output.split("\n")) {
    if (line.trim() === "") continue;
    const at = /^(.+?)\((\d+),(\d+)\): ((?:error|warning) TS\d+: .*)$/.exec(line);
    if (at) diagnostics.push(`${at[1]}:${at[2]}:${at[3]}: ${at[4]}`);
    else if (/^(error|warning) TS\d+:/.test(line)) diagnostics.push(line);
    else if (/^\s/.test(line) && diagnostics.length > 0) diagnostics[diagnostics.length - 1] += `\n${line}`;
    else diagnostics.push(line);
  }
  return diagnostics;
}

async function checkTypes(root: string, files: readonly string[]): Promise<{ types: TypeCheck; problems: CheckProblem[] }> {
  const typescript = findTypeScript(root);
  if (typescript === undefined) {
    return { types: { checked: false, reason: "no typescript in node_modules" }, problems: [] };
  }
  if (files.length === 0) return { types: { checked: true, typescript: typescript.version }, problems: [] };
  const config = writeCheckConfig(root, files);
  // The Bun inside this binary runs the project's tsc (as `igloo test` runs bun test).
  const child = Bun.spawn([process.execPath, typescript.tsc, "-p", config, "--pretty", "false", "--noEmit"], {
    cwd: root,
    env: { ...process.env, BUN_BE_BUN: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const types: TypeCheck = { checked: true, typescript: typescript.version };
  if (code === 0) return { types, problems: [] };
  const diagnostics = parseTscOutput(out);
  if (diagnostics.length === 0) {
    const said = (err.trim() || out.trim()).split("\n").slice(0, 5).join("\n");
    return { types, problems: [{ area: "functions", message: `${relative(root, config)}: the TypeScript compiler (${typescript.dir}) failed (exit ${code}): ${said}` }] };
  }
  return { types, problems: diagnostics.map((message) => ({ area: "functions" as const, message })) };
}

// ---------------------------------------------------------------------------------------
// igloo.config.json

function configLine(text: string, key: string): { line: number; column: number } {
  const last = key.split(".").pop()!;
  const index = text.indexOf(`"${last}"`);
  return index >= 0 ? position(text, index) : { line: 1, column: 1 };
}

export function checkConfig(root: string): CheckProblem[] {
  const path = join(root, CONFIG_FILE);
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return [{ area: "config", message: `${CONFIG_FILE}:1:1: not valid JSON: ${error instanceof Error ? error.message : String(error)}` }];
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return [{ area: "config", message: `${CONFIG_FILE}:1:1: must hold a JSON object of settings (README, Configuration)` }];
  }
  const known = [...SETTINGS, ...LIMIT_SETTINGS].map((s) => s.key);
  const problems: CheckProblem[] = [];
  const walk = (object: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(object)) {
      const key = prefix + name;
      if (prefix === "" && name.startsWith("$")) continue; // "$schema" and the like
      if (known.includes(key)) continue;
      if (known.some((k) => k.startsWith(`${key}.`)) && typeof value === "object" && value !== null && !Array.isArray(value)) {
        walk(value as Record<string, unknown>, `${key}.`);
        continue;
      }
      const at = configLine(text, key);
      problems.push({ area: "config", message: `${CONFIG_FILE}:${at.line}:${at.column}: unknown setting \`${key}\`; the settings are ${known.map((k) => `\`${k}\``).join(", ")}` });
    }
  };
  walk(parsed as Record<string, unknown>, "");
  if (problems.length > 0) return problems;
  try {
    // Every present value read as its setting reads it; the environment plays no part.
    loadConfig(root, {}, []);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const key = new RegExp(`${CONFIG_FILE.replace(".", "\\.")} (\\S+)`).exec(message)?.[1];
    const at = key !== undefined ? configLine(text, key) : { line: 1, column: 1 };
    problems.push({ area: "config", message: `${CONFIG_FILE}:${at.line}:${at.column}: ${message}` });
  }
  return problems;
}

// ---------------------------------------------------------------------------------------

export async function checkProject(root: string): Promise<CheckResult> {
  const started = performance.now();
  if (!isProject(root)) throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run igloo in a project." });
  stateDir(root);
  const problems: CheckProblem[] = [];
  problems.push(...checkConfig(root));

  const project = loadProject(root);
  for (const error of project.errors) problems.push(problem("models", error));
  const models = project.models.models;
  const parsedViews = parseViews(filesIn(root, "views", ".sql"));
  for (const error of parsedViews.errors) problems.push(problem("views", error));

  writeProjectLib(root, models);
  // The engine (in this process) and the bundler work side by side.
  const [engine, loaded] = await Promise.all([checkEngine(root, models, parsedViews.views), loadFunctions(root, models)]);
  problems.push(...engine.problems);
  for (const error of loaded.errors) problems.push(problem("functions", error));
  // tsc sees the view types the engine just described, as the editor does after igloo dev.
  writeViewTypes(root, engine.descriptions);
  const broken = new Set(loaded.errors.map((e) => e.source.file));
  const files = functionFiles(root).map((name) => `functions/${name}`);
  const typed = await checkTypes(
    root,
    files.filter((file) => !broken.has(file)),
  );
  problems.push(...typed.problems);
  return {
    problems,
    models,
    views: parsedViews.views,
    functions: loaded.functions,
    viewDescriptions: engine.descriptions,
    types: typed.types,
    counts: { models: models.length, functions: files.length, views: filesIn(root, "views", ".sql").length },
    ms: performance.now() - started,
  };
}

/** What was checked, in one line. */
export function formatCheckSummary(result: CheckResult): string {
  const { models, functions: fnCount, views } = result.counts;
  const types = result.types.checked
    ? `type-checked with TypeScript ${result.types.typescript}`
    : `not type-checked: ${result.types.reason}; \`npm install -D typescript\` to check results against the models`;
  const parts = [plural(models, "model"), fnCount === 0 ? "0 functions" : `${plural(fnCount, "function")} (${types})`, views === 0 ? "0 views" : `${plural(views, "view")} (created in the engine)`];
  const seconds = `${(result.ms / 1000).toFixed(1)} s`;
  if (result.problems.length === 0) return `igloo check: ok: ${parts.join(", ")} in ${seconds}`;
  const byArea = (["models", "functions", "views", "config"] as const)
    .map((area) => [area, result.problems.filter((p) => p.area === area).length] as const)
    .filter(([, n]) => n > 0)
    .map(([area, n]) => `${n} in ${area}`);
  return `igloo check: ${plural(result.problems.length, "problem")} (${byArea.join(", ")}); checked ${parts.join(", ")} in ${seconds}`;
}
