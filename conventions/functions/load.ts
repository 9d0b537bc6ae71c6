/**
 * Reads `functions/*.ts`: bundles each file with Bun's bundler (the project's own imports
 * and `"igloo"` resolved to the generated library in `.igloo/lib`), imports the bundle,
 * and checks its default export against the project's models. Bundling rather than
 * importing the file directly gives the same result from source and from the compiled
 * binary (which does not read a project's tsconfig paths), precise syntax error
 * positions, and a fresh module on every reload.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelIR } from "../datamodels/ir.ts";
import { ConventionError } from "../errors.ts";

export interface FunctionIR {
  /** The file name without `.ts`. */
  readonly name: string;
  /** `functions/<name>.ts`. */
  readonly file: string;
  readonly from: string;
  readonly to: string;
  readonly workers: number;
  /** Where the function's consumer group starts the first time it runs. */
  readonly startFrom: "earliest" | "latest";
  /** The bundled ES module (with an inline source map), for workers to import. */
  readonly code: string;
}

export interface LoadedFunction {
  readonly ir: FunctionIR;
  readonly run: (record: unknown, context: unknown) => unknown;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_WORKERS = 64;

export function functionFiles(root: string): string[] {
  const dir = join(root, "functions");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts"))
    .sort();
}

/** Where in the file a property is written, for errors about it; line 1 when not found. */
function locate(text: string, file: string, pattern: RegExp): { file: string; line: number; column: number } {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const column = lines[i]!.search(pattern);
    if (column >= 0) return { file, line: i + 1, column: column + 1 };
  }
  return { file, line: 1, column: 1 };
}

async function bundle(root: string, file: string): Promise<string> {
  const lib = join(root, ".igloo", "lib");
  const result = await Bun.build({
    entrypoints: [join(root, file)],
    root,
    target: "bun",
    format: "esm",
    sourcemap: "inline",
    throw: false,
    plugins: [
      {
        name: "igloo-lib",
        setup(build) {
          build.onResolve({ filter: /^igloo$/ }, () => ({ path: join(lib, "index.ts") }));
          build.onResolve({ filter: /^igloo\/models$/ }, () => ({ path: join(lib, "models.ts") }));
        },
      },
    ],
  });
  if (!result.success || result.outputs.length === 0) {
    const log = result.logs.find((l) => l.level === "error") ?? result.logs[0];
    const position = log?.position;
    const where = position ? { file: position.file.startsWith(root) ? position.file.slice(root.length + 1) : file, line: position.line, column: position.column + 1 } : { file, line: 1, column: 1 };
    throw new ConventionError(where, log?.message ?? "the file could not be bundled");
  }
  return await result.outputs[0]!.text();
}

export async function importBundle(code: string): Promise<unknown> {
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  try {
    return ((await import(url)) as { default?: unknown }).default;
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function loadOne(root: string, fileName: string, models: ReadonlyMap<string, ModelIR>): Promise<LoadedFunction> {
  const file = `functions/${fileName}`;
  const name = fileName.slice(0, -3);
  const text = readFileSync(join(root, file), "utf8");
  if (!NAME.test(name)) throw new ConventionError({ file, line: 1, column: 1 }, `the file name \`${name}\` is not an identifier; name functions like \`enrichPageView.ts\``);
  const code = await bundle(root, file);
  let exported: unknown;
  try {
    exported = await importBundle(code);
  } catch (error) {
    throw new ConventionError({ file, line: 1, column: 1 }, `loading the module threw: ${error instanceof Error ? error.message : String(error)}`);
  }
  const definition = exported as { from?: unknown; to?: unknown; run?: unknown; workers?: unknown; startFrom?: unknown } | undefined;
  if (typeof definition !== "object" || definition === null || typeof definition.run !== "function") {
    throw new ConventionError({ file, line: 1, column: 1 }, "the default export is not a function definition", {
      hint: 'Write `export default defineFunction({ from: "ModelA", to: "ModelB", run(record) { ... } })` with defineFunction from "igloo".',
    });
  }
  const known = [...models.keys()].map((m) => `\`${m}\``).join(", ") || "none";
  for (const side of ["from", "to"] as const) {
    const value = definition[side];
    if (typeof value !== "string" || !models.has(value)) {
      throw new ConventionError(locate(text, file, new RegExp(`\\b${side}\\s*:`)), `\`${side}\` is ${JSON.stringify(value)}, which is not a model of this project; models: ${known}`);
    }
  }
  const workers = definition.workers ?? 1;
  if (typeof workers !== "number" || !Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new ConventionError(locate(text, file, /\bworkers\s*:/), `\`workers\` must be an integer from 1 to ${MAX_WORKERS}, got ${JSON.stringify(workers)}`);
  }
  const startFrom = definition.startFrom ?? "earliest";
  if (startFrom !== "earliest" && startFrom !== "latest") {
    throw new ConventionError(locate(text, file, /\bstartFrom\s*:/), `\`startFrom\` must be "earliest" or "latest", got ${JSON.stringify(startFrom)}`);
  }
  const run = definition.run as (record: unknown, context: unknown) => unknown;
  return { ir: { name, file, from: definition.from as string, to: definition.to as string, workers, startFrom, code }, run: (record, context) => run.call(definition, record, context) };
}

/** Loads every function; a file with an error is reported and left out. */
export async function loadFunctions(root: string, models: readonly ModelIR[]): Promise<{ functions: LoadedFunction[]; errors: ConventionError[] }> {
  const byName = new Map(models.map((m) => [m.name, m]));
  const functions: LoadedFunction[] = [];
  const errors: ConventionError[] = [];
  for (const fileName of functionFiles(root)) {
    try {
      functions.push(await loadOne(root, fileName, byName));
    } catch (error) {
      if (error instanceof ConventionError) errors.push(error);
      else errors.push(new ConventionError({ file: `functions/${fileName}`, line: 1, column: 1 }, error instanceof Error ? error.message : String(error)));
    }
  }
  return { functions, errors };
}
