/**
 * `npm run pack`: writes the npm package of igloo into build/npm/ (ignored by git), ready
 * for `npm pack` / `npm publish`. `npm install -g <tarball>` (or npx) then gives a working
 * `igloo` on a machine with only Node and npm.
 *
 * The package holds JavaScript and igloo's assets, a few MB; the engines come from the
 * registry as dependencies, as the ecosystem expects: `bun` (Bun's npm package, whose
 * postinstall puts the executable of the platform in place) runs the bundle, and `chdb`
 * brings the embedded ClickHouse engine's native addon for the platform. What the
 * compiled binary of build.ts holds, the package holds beside its bundle, in the
 * repository's layout (src/assets.ts):
 *
 *   package.json     name, version, bin, dependencies (bun and chdb, pinned as here)
 *   bin/igloo        the command: finds Bun and execs it on the bundle (scripts/npm/igloo)
 *   lib/igloo.js     src/cli.ts and everything it imports but chDB's native addon
 *   lib/bunfig.toml  an empty one, so a project's own does not apply to igloo
 *   build/...        igloo/testing, components.js and the console, bundled as build.ts does
 *   template/, packages/..., conventions/datamodels/   copied as they are
 */
import { chmodSync, copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BunPlugin } from "bun";
import { CONSOLE_BUNDLE, CONSOLE_FILE } from "../../src/commands/devConsole.ts";
import { CLIENT_SOURCES } from "../../src/generate/client.ts";
import { COMPONENTS_BUNDLE, COMPONENTS_FILE } from "../../src/generate/components.ts";
import { LIB_SOURCES } from "../../src/generate/projectLib.ts";
import { TESTING_BUNDLE } from "../../src/generate/testingLib.ts";

const root = join(import.meta.dir, "..", "..");
/** Where the package is written; build/ is ignored by git. */
export const PACKAGE_DIR = join(root, "build", "npm");

interface Manifest {
  readonly version: string;
  readonly description: string;
  readonly dependencies: Readonly<Record<string, string>>;
  readonly devDependencies: Readonly<Record<string, string>>;
}
const repo = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Manifest;

/** An exact version of one of our dependencies: the package must run what the tests ran. */
function pinned(name: string, range: string | undefined): string {
  if (range === undefined || !/^\d+\.\d+\.\d+$/.test(range)) throw new Error(`package.json must pin ${name} to an exact version (it has ${range ?? "none"})`);
  return range;
}

/**
 * chDB's JavaScript is bundled; its native addon (and the 540 MB engine library beside it)
 * stays in the installed `chdb` package, loaded by chDB's own loader from there. The
 * loader `require`s a per-platform package by a computed name, which a bundle cannot
 * follow, so the bundled loader asks the installed one, resolved from the bundle's place
 * (any node_modules layout: chdb is the package's own dependency), when chDB is first used.
 */
const chdbFromPackage: BunPlugin = {
  name: "chdb-from-package",
  setup(build) {
    build.onLoad({ filter: /chdb[\\/]dist[\\/]loader\.js$/ }, () => ({
      loader: "js",
      // An ES module: the bundler would fix a CommonJS __filename to this machine's path.
      contents: `
        import { createRequire } from "node:module";
        import { dirname, join } from "node:path";
        let cached;
        export const platformKey = () => process.platform + "-" + process.arch;
        export function loadNative() {
          if (cached) return cached;
          const chdb = dirname(createRequire(import.meta.url).resolve("chdb/package.json"));
          return (cached = createRequire(join(chdb, "package.json"))("./dist/loader.js").loadNative());
        }
      `,
    }));
    // As in build.ts: chDB's ESM entry loads its CommonJS one with createRequire at run
    // time, which a bundle cannot follow; a static import of the same file can be bundled.
    build.onLoad({ filter: /chdb[\\/]index\.mjs$/ }, () => ({
      loader: "js",
      contents: `import mod from "./index.js"; export const Session = mod.Session; export default mod;`,
    }));
  },
};

async function bundle(options: Parameters<typeof Bun.build>[0]): Promise<void> {
  const built = await Bun.build(options);
  if (!built.success) {
    for (const log of built.logs) console.error(log);
    throw new Error(`bundling ${options.entrypoints.join(", ")} failed`);
  }
}

/** Igloo's own code, for Bun: the CLI and igloo/testing (which projects import from here). */
function serverBundle(entry: string, outdir: string, naming: string): Promise<void> {
  return bundle({
    entrypoints: [join(root, entry)],
    outdir,
    naming,
    target: "bun",
    format: "esm",
    plugins: [chdbFromPackage],
    // 9 MB that chDB requires only to read Drizzle schemas, in a try, which igloo never does.
    external: ["typescript"],
    define: { IGLOO_DISTRIBUTION: JSON.stringify("package") },
    minify: { syntax: true, whitespace: true, identifiers: false },
  });
}

function browserBundle(entry: string, dir: string, file: string): Promise<void> {
  return bundle({ entrypoints: [join(root, entry)], outdir: join(PACKAGE_DIR, dir), naming: file, target: "browser", format: "esm", minify: true });
}

/**
 * npm renames every `.gitignore` of a package it unpacks to `.npmignore` (pacote, "as npm
 * pack treats them"): the template's travel as `gitignore`, which `igloo init` names back
 * (src/commands/init.ts), with no install script.
 */
function renameIgnoreFiles(dir: string, from: string, to: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) renameIgnoreFiles(join(dir, entry.name), from, to);
    else if (entry.name === from) renameSync(join(dir, from), join(dir, to));
  }
}

function packageJson(): Record<string, unknown> {
  return {
    name: "igloo",
    version: repo.version,
    description: repo.description,
    type: "module",
    bin: { igloo: "bin/igloo" },
    files: ["bin", "lib", "build", "template", "packages", "conventions"],
    dependencies: {
      bun: pinned("bun", repo.devDependencies.bun),
      chdb: pinned("chdb", repo.dependencies.chdb),
    },
    // chDB's native addon exists for these (chdb's optionalDependencies); Bun runs on them too.
    os: ["linux", "darwin"],
    cpu: ["x64", "arm64"],
    engines: { node: ">=18" },
  };
}

export async function writePackage(): Promise<string> {
  rmSync(PACKAGE_DIR, { recursive: true, force: true });
  mkdirSync(join(PACKAGE_DIR, "bin"), { recursive: true });
  await Promise.all([
    serverBundle("src/cli.ts", join(PACKAGE_DIR, "lib"), "igloo.js"),
    serverBundle("src/testing/index.ts", join(PACKAGE_DIR, TESTING_BUNDLE), "index.js"),
    browserBundle("packages/components/index.ts", COMPONENTS_BUNDLE, COMPONENTS_FILE),
    browserBundle("packages/console/index.ts", CONSOLE_BUNDLE, CONSOLE_FILE),
  ]);
  for (const folder of ["template", ...LIB_SOURCES, ...CLIENT_SOURCES]) cpSync(join(root, folder), join(PACKAGE_DIR, folder), { recursive: true });
  renameIgnoreFiles(join(PACKAGE_DIR, "template"), ".gitignore", "gitignore");
  copyFileSync(join(import.meta.dir, "igloo"), join(PACKAGE_DIR, "bin", "igloo"));
  chmodSync(join(PACKAGE_DIR, "bin", "igloo"), 0o755);
  writeFileSync(join(PACKAGE_DIR, "lib", "bunfig.toml"), "# igloo's own: a project's bunfig.toml does not apply to igloo itself (bin/igloo).\n");
  copyFileSync(join(import.meta.dir, "README.md"), join(PACKAGE_DIR, "README.md"));
  writeFileSync(join(PACKAGE_DIR, "package.json"), JSON.stringify(packageJson(), null, 2) + "\n");
  return PACKAGE_DIR;
}

if (import.meta.main) {
  const started = performance.now();
  const dir = await writePackage();
  console.log(`wrote the npm package of igloo ${repo.version} in ${dir} (${((performance.now() - started) / 1000).toFixed(1)} s); \`npm pack ${dir}\` makes its tarball`);
}
