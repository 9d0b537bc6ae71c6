/**
 * What `igloo build` writes and `igloo start` runs: the project's models, views and
 * compiled functions, frozen. Production processes read only this (and the config), so
 * every process of one deployment runs exactly the same project.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelIR } from "../conventions/datamodels/ir.ts";
import { IglooError } from "../conventions/errors.ts";
import { importBundle, type FunctionIR, type LoadedFunction } from "../conventions/functions/load.ts";
import type { ViewIR } from "../conventions/views/ir.ts";
import { readParams } from "../runtime/views/state.ts";

export const MANIFEST_FILE = "manifest.json";
/** The project's dashboards, copied as they are (served by ingest processes at /dashboards/<name>). */
export const DASHBOARDS_DIR = "dashboards";

export interface Manifest {
  readonly igloo: string;
  readonly builtAt: string;
  readonly models: readonly ModelIR[];
  /** `bundle` is the compiled module's path inside the build directory. */
  readonly functions: readonly (Omit<FunctionIR, "code"> & { readonly bundle: string })[];
  readonly views: readonly ViewIR[];
}

export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) {
    throw new IglooError("E_NOT_A_BUILD", `${dir} has no ${MANIFEST_FILE}.`, { hint: "Run `igloo start` in a directory made by `igloo build` (default <project>/.igloo/build)." });
  }
  const manifest = JSON.parse(readFileSync(path, "utf8")) as Manifest;
  // Earlier builds spelled view parameter types (`UInt8`); they are parsed once, here.
  return { ...manifest, views: manifest.views.map((view) => ({ ...view, params: readParams(view.params) })) };
}

export async function loadBuiltFunctions(dir: string, manifest: Manifest): Promise<LoadedFunction[]> {
  const loaded: LoadedFunction[] = [];
  for (const meta of manifest.functions) {
    const code = readFileSync(join(dir, meta.bundle), "utf8");
    const definition = (await importBundle(code)) as { run: (record: unknown, context: unknown) => unknown };
    const { bundle: _bundle, ...ir } = meta;
    loaded.push({ ir: { ...ir, code }, run: (record, context) => definition.run(record, context) });
  }
  return loaded;
}
