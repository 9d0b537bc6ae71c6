/**
 * A project on disk, read through its convention folders. Loading never throws for a
 * user's mistake: errors come back with the parts that did load, so `igloo dev` can keep
 * serving the last good version and show exactly what to fix.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseModels } from "./datamodels/parse.ts";
import type { ModelSet } from "./datamodels/ir.ts";
import type { ConventionError } from "./errors.ts";

export interface Project {
  readonly root: string;
  readonly models: ModelSet;
  readonly errors: readonly ConventionError[];
}

export function filesIn(root: string, folder: string, extension: string): { path: string; text: string }[] {
  const dir = join(root, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(extension))
    .sort()
    .map((name) => ({ path: `${folder}/${name}`, text: readFileSync(join(dir, name), "utf8") }));
}

export function isProject(root: string): boolean {
  return existsSync(join(root, "datamodels"));
}

export function loadProject(root: string): Project {
  const { models, errors } = parseModels(filesIn(root, "datamodels", ".prisma"));
  return { root, models, errors };
}
