/**
 * igloo as the JavaScript ecosystem gets it: `npm run pack` writes the npm package,
 * `npm pack` makes its tarball (JavaScript and assets only: Bun and chDB come from the
 * registry as its dependencies), and `npm install -g` into a fresh prefix gives an
 * `igloo` command that works with only Node and npm on PATH: init, dev, ingest, query,
 * the project's tests, a build that runs with nothing at all on PATH, and a SIGTERM that
 * stops dev cleanly. The registry is the one npm is configured with, and npm's default
 * cache is kept (Bun and chDB are ~700 MB unpacked).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { eventually, postIngest, REPO, removeDir, startIgloo, tempDir, type DevProcess } from "./helpers/igloo.ts";
import { VERSION } from "../src/version.ts";

const work = tempDir("npm");
const prefix = join(work, "prefix");
const project = join(work, "project");
afterAll(() => removeDir(work));

const node = Bun.which("node");
const npm = Bun.which("npm");
if (!node || !npm) throw new Error("node and npm must be on PATH: this test installs igloo with them");
/** Only Node and npm, and then what the install added: no Bun (checked below). */
const PATH = [...new Set([join(prefix, "bin"), dirname(node), dirname(npm), "/usr/bin", "/bin"])].join(":");

/**
 * The environment of a user's shell: this one's, without what npm run (npm test) and
 * the test runner add, and with PATH as above. npm's own settings (registry, cache,
 * proxies) stay.
 */
const env: Record<string, string> = { PATH };
for (const [name, value] of Object.entries(process.env)) {
  if (value === undefined || name === "PATH" || name === "NODE_ENV" || /^(BUN_|npm_lifecycle_|npm_package_)/i.test(name)) continue;
  if (/^npm_config_(prefix|global|local_prefix)$/i.test(name) || /^npm_(command|execpath|node_execpath)$/i.test(name)) continue;
  env[name] = value;
}

function run(argv: string[], cwd: string, extra: Record<string, string> = {}): { code: number; out: string; err: string } {
  const result = Bun.spawnSync(argv, { cwd, env: { ...env, ...extra }, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

function timed<T>(label: string, step: () => T): T {
  const started = performance.now();
  const result = step();
  console.log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** One entry of `npm pack --json`. */
interface PackReport {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string; readonly size: number }[];
}

const igloo = join(prefix, "bin", "igloo");

describe("the npm package", () => {
  let tarball = "";

  test("packs without Bun or chDB inside, and installs on a PATH with only Node and npm", () => {
    const bun = run(["sh", "-c", "command -v bun"], work);
    expect({ found: bun.out.trim(), failed: bun.code !== 0 }).toEqual({ found: "", failed: true });

    const packed = timed("npm run pack", () => run([npm, "run", "--silent", "pack"], REPO, { PATH: process.env.PATH ?? "" }));
    expect({ code: packed.code, err: packed.err }).toMatchObject({ code: 0 });
    const pack = timed("npm pack", () => run([npm, "pack", join(REPO, "build", "npm"), "--pack-destination", work, "--json"], work));
    expect({ code: pack.code, err: pack.err.slice(-2000) }).toMatchObject({ code: 0 });
    const report = (JSON.parse(pack.out) as PackReport[])[0]!;
    tarball = join(work, report.filename);
    console.log(`tarball: ${report.filename}, ${(report.size / 1e6).toFixed(2)} MB (${(report.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${report.files.length} files)`);
    expect(report.size).toBeLessThan(20e6);
    // No engine inside: chDB's addon and library, and Bun, are dependencies.
    expect(report.files.filter((f) => /\.(so|node|dylib)$|(^|\/)bun(\.exe)?$/.test(f.path)).map((f) => f.path)).toEqual([]);
    expect(report.files.filter((f) => f.size > 5e6).map((f) => f.path)).toEqual([]);
    expect(report.files.map((f) => f.path)).toContain("bin/igloo");

    const install = timed("npm install -g", () => run([npm, "install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", tarball], work));
    expect({ code: install.code, err: install.err.slice(-2000) }).toMatchObject({ code: 0 });
    expect(existsSync(igloo)).toBe(true);
    // Bun is igloo's dependency, not a command of the user's.
    expect(run(["sh", "-c", "command -v bun"], work).out).toBe("");
    expect(run([igloo, "--version"], work).out.trim()).toBe(VERSION);
  }, 240_000);

  test("igloo init, then dev: ingest, query through the CLI and a view, SIGTERM exits 0", async () => {
    const init = run([igloo, "init", project], work);
    expect({ code: init.code, err: init.err }).toMatchObject({ code: 0 });
    // npm renames a package's .gitignore files when it unpacks them; the template's survives.
    expect(existsSync(join(project, ".gitignore"))).toBe(true);

    const started = performance.now();
    let dev: DevProcess | undefined;
    try {
      dev = await startIgloo(project, "dev", { binary: igloo, env, timeoutMs: 60_000 });
      console.log(`igloo dev first ready: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      const url = dev.url;
      const sent = await postIngest(url, "PageView", [
        { userId: "npm-1", path: "/from-npm", country: "FR", device: "desktop", durationMs: 1200 },
        { userId: "npm-2", path: "/from-npm", country: "XX", device: "watch", durationMs: 5 },
      ]);
      expect(sent.status).toBe(200);
      expect(sent.body).toMatchObject({ accepted: 1, rejected: 1 });

      const sql = "SELECT userId, path, durationMs FROM PageView FINAL WHERE path = '/from-npm'";
      const rows = await eventually(
        async () => {
          const query = run([igloo, "query", "--url", url, "--json", sql], project);
          if (query.code !== 0) throw new Error(`igloo query failed (${query.code}): ${query.err}`);
          return JSON.parse(query.out) as Record<string, unknown>[];
        },
        (found) => found.length > 0,
      );
      expect(rows).toEqual([{ userId: "npm-1", path: "/from-npm", durationMs: 1200 }]);
      const view = (await (await fetch(`${url}/views/top_pages`)).json()) as { data: { path: string; views: unknown }[] };
      expect(view.data.find((row) => row.path === "/from-npm")).toMatchObject({ views: expect.anything() });
      expect((await fetch(`${url}/_igloo/components.js`)).status).toBe(200);
    } finally {
      const code = await dev?.stop();
      if (dev) {
        expect({ code, output: dev.output().slice(-1500) }).toMatchObject({ code: 0 });
        expect(dev.output()).toContain("stopped.");
      }
    }
  }, 120_000);

  test("igloo test runs the project's tests with the package's Bun", () => {
    const tests = timed("igloo test", () => run([igloo, "test"], project, { NO_COLOR: "1" }));
    const output = tests.out + tests.err;
    expect({ code: tests.code, tail: output.slice(-1500) }).toMatchObject({ code: 0 });
    expect(output).toMatch(/\b[1-9]\d* pass\b/);
    expect(output).toMatch(/\b0 fail\b/);
  }, 120_000);

  test("igloo build writes a build whose igloo runs with nothing on PATH", () => {
    const build = timed("igloo build", () => run([igloo, "build"], project));
    expect({ code: build.code, err: build.err }).toMatchObject({ code: 0 });
    const built = join(project, ".igloo", "build", "igloo");
    const version = Bun.spawnSync([built, "--version"], { env: {}, stdout: "pipe", stderr: "pipe" });
    expect({ code: version.exitCode, out: version.stdout.toString().trim(), err: version.stderr.toString() }).toEqual({ code: 0, out: VERSION, err: "" });
    // `igloo start` runs, and says in igloo's words what this environment lacks (Kafka, ClickHouse).
    const start = Bun.spawnSync([built, "start"], { cwd: dirname(built), env: {}, stdout: "pipe", stderr: "pipe" });
    expect(start.exitCode).not.toBe(0);
    expect(start.stderr.toString()).toMatch(/^error: \S/);
  }, 120_000);
});
