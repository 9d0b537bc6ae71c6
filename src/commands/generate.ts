/**
 * `igloo generate [--out <dir>]`, also run by `igloo dev` on every change: writes the
 * project's typed client (src/generate/client.ts). Only files whose text changed are
 * rewritten, each through a temporary file and a rename, so a bundler watching the
 * folder never reads half a file and does not rebuild for nothing.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import { isProject, loadProject } from "../../conventions/project.ts";
import { clientModule, type ClientInput, type ClientViewInput } from "../generate/client.ts";

/** Where the client goes without `--out`, relative to the project. */
export const DEFAULT_CLIENT_OUT = join(".igloo", "client");

export interface WrittenClient {
  /** The absolute client folder. */
  readonly dir: string;
  /** Paths inside it that changed, e.g. `index.ts`; empty when all was up to date. */
  readonly written: readonly string[];
}

/**
 * Writes the client of the project at `root` into `out` (relative to `root`, or
 * absolute). `views` is what the engine reports for each view (describeViews). Throws
 * the first ConventionError of the project's models, like `igloo build`.
 */
export function writeClient(root: string, out: string, views: readonly ClientViewInput[]): WrittenClient {
  if (!isProject(root)) throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run `igloo generate` in a project." });
  const project = loadProject(root);
  if (project.errors.length > 0) throw project.errors[0]!;
  const dir = resolve(root, out);
  return { dir, written: writeClientFiles(dir, { models: project.models.models, views }) };
}

/**
 * Writes the client for models already loaded, into the absolute folder `dir`: what
 * `igloo dev` calls with the models it serves, so a model file saved with a mistake
 * leaves the client of the last good version in place. Returns the paths that changed.
 */
export function writeClientFiles(dir: string, input: ClientInput): string[] {
  const written: string[] = [];
  for (const [name, text] of Object.entries(clientModule(input))) {
    const path = join(dir, name);
    if (existsSync(path) && readFileSync(path, "utf8") === text) continue;
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, path);
    written.push(name);
  }
  return written;
}
