/**
 * What `igloo build` writes and `igloo start` runs: the project's models, views and
 * compiled functions, frozen. The same content as a release is what `igloo deploy`
 * publishes (runtime/deploy/channel.ts), so every process of one deployment runs exactly
 * the same project, from a build directory or from the deployment's database.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelIR } from "../conventions/datamodels/ir.ts";
import { IglooError } from "../conventions/errors.ts";
import { importBundle, type FunctionIR, type LoadedFunction } from "../conventions/functions/load.ts";
import type { ViewIR } from "../conventions/views/ir.ts";
import type { Release } from "../runtime/deploy/channel.ts";
import { readParams } from "../runtime/views/state.ts";
import { VERSION } from "./version.ts";

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

/** Each function of a build directory, with its compiled module. */
export function builtFunctions(dir: string, manifest: Manifest): FunctionIR[] {
  return manifest.functions.map(({ bundle, ...ir }) => ({ ...ir, code: readFileSync(join(dir, bundle), "utf8") }));
}

/** Functions ready to run, from their compiled modules. */
export async function loadFunctions(functions: readonly FunctionIR[]): Promise<LoadedFunction[]> {
  const loaded: LoadedFunction[] = [];
  for (const ir of functions) {
    const definition = (await importBundle(ir.code)) as { run: (record: unknown, context: unknown) => unknown };
    loaded.push({ ir, run: (record, context) => definition.run(record, context) });
  }
  return loaded;
}

/**
 * What a project runs, as one value a deploy publishes (runtime/deploy/channel.ts):
 * models, views, compiled functions and dashboards. `hash` covers all of it but the
 * Igloo version and times, so the same project deployed twice is the same release.
 */
export function releaseOf(
  content: Pick<Release, "models" | "views" | "functions" | "dashboards">,
  meta: Pick<Release, "version" | "createdAt" | "by">,
): Release {
  const hash = createHash("sha256").update(JSON.stringify([content.models, content.views, content.functions, content.dashboards])).digest("hex");
  return { ...meta, hash, igloo: VERSION, ...content };
}

/** A build directory as a release (version 0: not deployed), for `igloo start` in it. */
export function releaseOfBuild(dir: string): Release {
  const manifest = readManifest(dir);
  const folder = join(dir, DASHBOARDS_DIR);
  const dashboards = existsSync(folder)
    ? Object.fromEntries(readdirSync(folder).filter((f) => f.endsWith(".html")).map((f) => [f.slice(0, -".html".length), readFileSync(join(folder, f), "utf8")]))
    : {};
  return releaseOf(
    { models: manifest.models, views: manifest.views, functions: builtFunctions(dir, manifest), dashboards },
    { version: 0, createdAt: manifest.builtAt, by: "igloo build" },
  );
}
