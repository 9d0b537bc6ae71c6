/**
 * `npm run build`: compiles `igloo` into `dist/igloo`, one self-contained binary, with
 * chDB's native addon and engine library beside it. Copying `dist/` to another machine
 * of the same kind is a complete install.
 */
import { copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BunPlugin } from "bun";
import { CLIENT_SOURCES } from "./src/generate/client.ts";
import { COMPONENTS_BUNDLE, COMPONENTS_FILE } from "./src/generate/components.ts";
import { LIB_SOURCES } from "./src/generate/projectLib.ts";
import { CONSOLE_BUNDLE, CONSOLE_FILE } from "./src/commands/devConsole.ts";
import { TESTING_BUNDLE } from "./src/generate/testingLib.ts";

const root = import.meta.dir;
const dist = join(root, "dist");

/**
 * chDB finds its native addon by `require`-ing a per-platform npm package by a computed
 * name, which a compiled binary cannot do (there is no node_modules at run time). We
 * replace its loader with one that loads the addon from beside the executable; the
 * addon's RUNPATH is `$ORIGIN`, so it finds `libchdb.so` there too.
 */
const chdbBesideExecutable: BunPlugin = {
  name: "chdb-beside-executable",
  setup(build) {
    // IGLOO_NATIVE_DIR: where a project's tests (igloo/testing, run by another Bun) find it.
    build.onLoad({ filter: /chdb[\\/]dist[\\/]loader\.js$/ }, () => ({
      loader: "js",
      contents: `
        "use strict";
        const { dirname, join } = require("node:path");
        let cached;
        exports.platformKey = () => process.platform + "-" + process.arch;
        exports.loadNative = () => (cached ??= require(join(process.env.IGLOO_NATIVE_DIR || dirname(process.execPath), "chdb_node.node")));
      `,
    }));
    // chDB's ESM entry loads its CommonJS one with createRequire at run time, which a
    // bundle cannot follow; a static import of the same file can be bundled.
    build.onLoad({ filter: /chdb[\\/]index\.mjs$/ }, () => ({
      loader: "js",
      contents: `import mod from "./index.js"; export const Session = mod.Session; export default mod;`,
    }));
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

// igloo/testing as one ES module, shipped inside the binary and copied into each
// project's .igloo/lib by igloo commands (src/generate/projectLib.ts).
rmSync(join(root, TESTING_BUNDLE), { recursive: true, force: true });
const testing = await Bun.build({
  entrypoints: [join(root, "src/testing/index.ts")],
  outdir: join(root, TESTING_BUNDLE),
  naming: "index.js",
  target: "bun",
  format: "esm",
  plugins: [chdbBesideExecutable],
  minify: { syntax: true, whitespace: true, identifiers: false },
});
if (!testing.success) {
  for (const log of testing.logs) console.error(log);
  process.exit(1);
}

/** One browser ES module, minified, into `dir/file`; returns its bytes. */
async function browserBundle(entry: string, dir: string, file: string): Promise<Uint8Array<ArrayBuffer>> {
  rmSync(join(root, dir), { recursive: true, force: true });
  const built = await Bun.build({ entrypoints: [join(root, entry)], outdir: join(root, dir), naming: file, target: "browser", format: "esm", minify: true });
  if (!built.success) {
    for (const log of built.logs) console.error(log);
    process.exit(1);
  }
  return new Uint8Array(await built.outputs[0]!.arrayBuffer());
}
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const gzipped = (bytes: Uint8Array<ArrayBuffer>) => Bun.gzipSync(bytes, { level: 9 }).length;

// The dashboard elements as one browser module (src/generate/components.ts). Issue 13's
// budget for all of them is 60 KB gzipped; test/components.bundle.test.ts holds it.
const componentsBytes = await browserBundle("packages/components/index.ts", COMPONENTS_BUNDLE, COMPONENTS_FILE);
console.log(`built ${COMPONENTS_BUNDLE}/${COMPONENTS_FILE}: ${kb(componentsBytes.length)}, ${kb(gzipped(componentsBytes))} gzipped`);

// The dev console's pages as one browser module (src/commands/devConsole.ts); issue 14's
// budget is 150 KB gzipped, components.js (which its pages load too) included.
const consoleBytes = await browserBundle("packages/console/index.ts", CONSOLE_BUNDLE, CONSOLE_FILE);
console.log(`built ${CONSOLE_BUNDLE}/${CONSOLE_FILE}: ${kb(consoleBytes.length)}, ${kb(gzipped(consoleBytes))} gzipped (${kb(gzipped(consoleBytes) + gzipped(componentsBytes))} with components.js)`);

const result = await Bun.build({
  entrypoints: [join(root, "src/cli.ts")],
  // Built under another name: an entry point named `igloo` would collide with the
  // `packages/igloo` asset inside the binary's virtual file system.
  compile: { outfile: join(dist, "igloo-cli"), assets: ["template", ...LIB_SOURCES, ...CLIENT_SOURCES, TESTING_BUNDLE, COMPONENTS_BUNDLE, CONSOLE_BUNDLE], autoloadBunfig: false, autoloadDotenv: false },
  plugins: [chdbBesideExecutable],
  minify: { syntax: true, whitespace: true, identifiers: false },
  sourcemap: "none",
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}

renameSync(join(dist, "igloo-cli"), join(dist, "igloo"));

const nativeDir = dirname(Bun.resolveSync("@chdb/lib-linux-x64-gnu/package.json", root));
for (const file of ["chdb_node.node", "libchdb.so"]) copyFileSync(join(nativeDir, file), join(dist, file));
console.log(`built ${join(dist, "igloo")} (+ chdb_node.node, libchdb.so)`);
