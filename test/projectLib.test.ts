/**
 * What ships into every project's `.igloo/lib/` is the library's folders copied whole
 * (src/generate/projectLib.ts): a file added there ships, so none may import a package
 * (a project installs nothing) or a file outside those folders. The model parser, which
 * needs @mrleebo/prisma-ast, lives apart (conventions/prisma).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { LIB_SOURCES } from "../src/generate/projectLib.ts";

const REPO = join(import.meta.dir, "..");

test("the shipped library folders hold only TypeScript files that import each other, nothing else", () => {
  const roots = LIB_SOURCES.map((folder) => resolve(REPO, folder));
  const problems: string[] = [];
  let files = 0;
  for (const root of roots) {
    for (const name of readdirSync(root)) {
      const path = join(root, name);
      if (statSync(path).isDirectory() || !name.endsWith(".ts")) {
        problems.push(`${relative(REPO, path)}: not a TypeScript file, yet it would ship`);
        continue;
      }
      files++;
      for (const [, specifier] of readFileSync(path, "utf8").matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"/g)) {
        if (!specifier!.startsWith(".")) {
          problems.push(`${relative(REPO, path)} imports the package ${specifier}`);
          continue;
        }
        const target = resolve(dirname(path), specifier!);
        if (!roots.some((r) => dirname(target) === r)) problems.push(`${relative(REPO, path)} imports ${relative(REPO, target)}, outside the shipped folders`);
      }
    }
  }
  expect(problems).toEqual([]);
  expect(files).toBeGreaterThan(5);
});
