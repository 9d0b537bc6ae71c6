/**
 * A project on disk, read through its convention folders. Loading never throws for a
 * user's mistake: errors come back with the parts that did load, so `igloo dev` can keep
 * serving the last good version and show exactly what to fix.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseModels } from "./prisma/parse.ts";
import type { ModelIR, ModelSet } from "./datamodels/ir.ts";
import type { ConventionError } from "./errors.ts";
import type { ViewIR } from "./views/ir.ts";
import { parseViews } from "./views/parse.ts";

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

/**
 * The models and views, or the first error: for commands that must not go on with part
 * of a project (build, plan, migrate), unlike `igloo dev`, which serves what it can.
 */
export function loadProjectOrThrow(root: string): { models: readonly ModelIR[]; views: readonly ViewIR[] } {
  const project = loadProject(root);
  if (project.errors.length > 0) throw project.errors[0]!;
  const views = parseViews(filesIn(root, "views", ".sql"));
  if (views.errors.length > 0) throw views.errors[0]!;
  return { models: project.models.models, views: views.views };
}
