/**
 * `igloo build`: a deployable directory (binary, compiled conventions, manifest, config).
 * It runs `igloo check` first and builds nothing for a project with a problem.
 */
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import { isProject } from "../../conventions/project.ts";
import { assetPath, DISTRIBUTION } from "../assets.ts";
import { CONFIG_FILE, LIMIT_SETTINGS, SETTINGS } from "../config.ts";
import { DASHBOARDS_DIR, MANIFEST_FILE, type Manifest } from "../manifest.ts";
import { DashboardFolder } from "../../runtime/server/dashboards.ts";
import { VERSION } from "../version.ts";
import { checkProject, formatCheckSummary, type CheckResult } from "./check.ts";
import { containerfile, systemdUnit } from "./supervision.ts";

/**
 * The build's `igloo.config.json`: the project's settings (its file, if any) plus the
 * default of every setting it leaves out and that has one, so the file shows every value
 * the build runs with but what the environment says (which wins) and what each deployment
 * must give (brokers, ClickHouse URLs, keys). Read the same way, it gives the same values.
 */
export function buildConfig(root: string): Record<string, unknown> {
  const path = join(root, CONFIG_FILE);
  const config = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : {};
  for (const setting of [...SETTINGS, ...LIMIT_SETTINGS]) {
    if (setting.fallback === undefined) continue;
    const parts = setting.key.split(".");
    let object = config;
    for (const part of parts.slice(0, -1)) {
      if (typeof object[part] !== "object" || object[part] === null) object[part] = {};
      object = object[part] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1]!;
    if (object[last] === undefined) object[last] = setting.fallback;
  }
  return config;
}

/** The check failed: `message` lists each problem and the summary. */
export class CheckFailedError extends IglooError {
  readonly result: CheckResult;
  constructor(result: CheckResult) {
    const n = result.problems.length;
    super("E_CHECK", `the project has ${n} problem${n === 1 ? "" : "s"}; nothing was built:\n${result.problems.map((p) => p.message).join("\n")}\n${formatCheckSummary(result)}`);
    this.result = result;
  }
}

/** Where a build of the npm package's igloo keeps its Bun and its bundle. */
const PACKAGE_RUNTIME = "igloo-runtime";

/**
 * igloo itself, into the build as `igloo`: the compiled binary, or, from the npm package,
 * its Bun and the package's files (the bundle, its assets) under a launcher by that name,
 * which needs no Node. Either runs `igloo start` with nothing installed; chDB's addon
 * stays behind, as production never loads it (src/engines.ts).
 */
function copyIgloo(dir: string): void {
  if (DISTRIBUTION === "binary") {
    copyFileSync(process.execPath, join(dir, "igloo"));
    return;
  }
  const runtime = join(dir, PACKAGE_RUNTIME);
  // The package's root: its assets keep the repository's layout there (src/assets.ts).
  cpSync(assetPath("."), runtime, { recursive: true, filter: (source) => basename(source) !== "node_modules" });
  copyFileSync(process.execPath, join(runtime, "bun"));
  // The flags of the package's own bin/igloo (scripts/npm/igloo).
  const launcher = `#!/bin/sh
# igloo ${VERSION} from its npm package, copied by igloo build: its Bun runs its bundle.
here=\${0%/*}
exec "$here/${PACKAGE_RUNTIME}/bun" --no-env-file --no-install --config="$here/${PACKAGE_RUNTIME}/lib/bunfig.toml" "$here/${PACKAGE_RUNTIME}/lib/igloo.js" "$@"
`;
  writeFileSync(join(dir, "igloo"), launcher, { mode: 0o755 });
}

export async function buildProject(root: string, out?: string): Promise<{ dir: string; manifest: Manifest; check: CheckResult }> {
  if (!isProject(root)) throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run `igloo build` in a project." });
  if (DISTRIBUTION === "source") throw new IglooError("E_BUILD_FROM_SOURCE", "igloo build copies igloo itself into the build: run the compiled binary (npm run build makes dist/igloo) or the npm package's igloo (npm run pack writes the package into build/npm).");
  const check = await checkProject(root);
  if (check.problems.length > 0) throw new CheckFailedError(check);
  const { models, views, functions } = check;

  const dir = resolve(out ?? join(root, ".igloo", "build"));
  rmSync(dir, { recursive: true, force: true });
  // Private: its igloo.config.json may hold connection URLs with passwords.
  mkdirSync(join(dir, "functions"), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  copyIgloo(dir);
  for (const fn of functions) writeFileSync(join(dir, "functions", `${fn.ir.name}.js`), fn.ir.code);
  const dashboards = new DashboardFolder(join(root, DASHBOARDS_DIR), { live: false });
  for (const name of dashboards.names()) {
    mkdirSync(join(dir, DASHBOARDS_DIR), { recursive: true });
    copyFileSync(join(dashboards.dir, `${name}.html`), join(dir, DASHBOARDS_DIR, `${name}.html`));
  }
  writeFileSync(join(dir, CONFIG_FILE), JSON.stringify(buildConfig(root), null, 2) + "\n", { mode: 0o600 });
  // For operators: a systemd template unit and a container recipe (supervision.ts).
  mkdirSync(join(dir, "deploy"), { recursive: true });
  writeFileSync(join(dir, "deploy", "igloo@.service"), systemdUnit());
  writeFileSync(join(dir, "deploy", "Containerfile"), containerfile());
  const manifest: Manifest = {
    igloo: VERSION,
    builtAt: new Date().toISOString(),
    models,
    functions: functions.map(({ ir: { code: _code, ...meta } }) => ({ ...meta, bundle: `functions/${meta.name}.js` })),
    views,
  };
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
  return { dir, manifest, check };
}
