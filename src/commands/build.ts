/** `igloo build`: a deployable directory (binary, compiled conventions, manifest). */
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import { loadFunctions } from "../../conventions/functions/load.ts";
import { isProject, loadProjectOrThrow } from "../../conventions/project.ts";
import { CONFIG_FILE } from "../config.ts";
import { writeProjectLib } from "../generate/projectLib.ts";
import { MANIFEST_FILE, type Manifest } from "../manifest.ts";
import { VERSION } from "../version.ts";

export async function buildProject(root: string, out?: string): Promise<{ dir: string; manifest: Manifest }> {
  if (!isProject(root)) throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run `igloo build` in a project." });
  if (!Bun.isStandaloneExecutable) throw new IglooError("E_BUILD_FROM_SOURCE", "igloo build copies the igloo binary, so run the compiled one (npm run build makes dist/igloo).");
  const { models, views } = loadProjectOrThrow(root);
  writeProjectLib(root, models);
  const functions = await loadFunctions(root, models);
  if (functions.errors.length > 0) throw functions.errors[0]!;

  const dir = resolve(out ?? join(root, ".igloo", "build"));
  rmSync(dir, { recursive: true, force: true });
  // Private: its igloo.config.json may hold connection URLs with passwords.
  mkdirSync(join(dir, "functions"), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  copyFileSync(process.execPath, join(dir, "igloo"));
  for (const fn of functions.functions) writeFileSync(join(dir, "functions", `${fn.ir.name}.js`), fn.ir.code);
  if (existsSync(join(root, CONFIG_FILE))) copyFileSync(join(root, CONFIG_FILE), join(dir, CONFIG_FILE));
  const manifest: Manifest = {
    igloo: VERSION,
    builtAt: new Date().toISOString(),
    models,
    functions: functions.functions.map(({ ir: { code: _code, ...meta } }) => ({ ...meta, bundle: `functions/${meta.name}.js` })),
    views,
  };
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
  return { dir, manifest };
}
