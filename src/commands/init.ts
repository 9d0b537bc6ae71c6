/** `igloo init <dir>`: a new project from the template, offline. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import { loadProject } from "../../conventions/project.ts";
import { assetPath } from "../assets.ts";
import { writeProjectLib } from "../generate/projectLib.ts";

/**
 * Copies file by file: the template lives in the binary's virtual file system, which
 * `fs.cpSync` cannot copy from. A file named `gitignore` becomes `.gitignore`: npm renames
 * a package's `.gitignore` files to `.npmignore` when it unpacks them, so the npm package
 * ships the template's under that name (scripts/npm/pack.ts).
 */
function copyTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name === "gitignore" ? ".gitignore" : entry.name);
    if (entry.isDirectory()) {
      mkdirSync(target, { recursive: true });
      copyTree(source, target);
    } else {
      mkdirSync(to, { recursive: true });
      writeFileSync(target, readFileSync(source));
    }
  }
}

export function initProject(target: string): string {
  const dir = resolve(target);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new IglooError("E_INIT_NOT_EMPTY", `${dir} already exists and is not empty.`, { hint: "Choose a new directory name." });
  }
  copyTree(assetPath("template"), dir);
  const project = loadProject(dir);
  if (project.errors.length > 0) throw project.errors[0];
  writeProjectLib(dir, project.models.models);
  return dir;
}

export function initMessage(dir: string): string {
  return [
    `Created an Igloo project in ${dir}`,
    "",
    `  cd ${basename(dir)}`,
    "  igloo dev        # ingest at http://127.0.0.1:4000/ingest/<Model>",
    "  igloo test       # the project's own tests (bun test, with the Bun inside igloo)",
  ].join("\n");
}
