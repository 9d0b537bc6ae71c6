/** The CLI's own contract: init's project passes its tests; mistakes give one clear line and a non-zero exit. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { freePort, IGLOO, initProject, removeDir, tempDir } from "./helpers/igloo.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

function run(args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = Bun.spawnSync([IGLOO, ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

describe("igloo CLI", () => {
  test("init makes a project whose own tests pass, with `igloo test` and with a plain `bun test`", () => {
    const dir = initProject("cli-init");
    dirs.push(dirname(dir));
    const viaIgloo = run(["test"], dir);
    expect(viaIgloo.err + viaIgloo.out).toMatch(/\d+ pass\s+0 fail/);
    expect(viaIgloo.code).toBe(0);
    const bun = Bun.spawnSync([join(import.meta.dir, "..", "node_modules", ".bin", "bun"), "test"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(bun.exitCode).toBe(0);
  });

  test("init refuses a non-empty directory", () => {
    const dir = tempDir("cli-full");
    dirs.push(dir);
    writeFileSync(join(dir, "x"), "");
    const { code, err } = run(["init", dir], dir);
    expect(code).not.toBe(0);
    expect(err).toMatch(/^error: .* already exists and is not empty/);
  });

  test("dev outside a project says what to do", () => {
    const dir = tempDir("cli-empty");
    dirs.push(dir);
    const { code, err } = run(["dev", "--port", String(freePort())], dir);
    expect(code).not.toBe(0);
    expect(err).toMatch(/no datamodels\/ folder.*igloo init/);
  });

  test("a broken model at start is reported with file:line:column and the rest still serves", async () => {
    const dir = initProject("cli-broken");
    dirs.push(dirname(dir));
    writeFileSync(join(dir, "datamodels", "Bad.prisma"), "model Bad {\n  id String @id\n  n Int @unique\n}\n");
    const port = freePort();
    const proc = Bun.spawn([IGLOO, "dev", "--port", String(port)], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const stderr = new Response(proc.stderr).text();
    let stdout = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      stdout += decoder.decode(chunk);
      if (stdout.includes("ready at")) break;
    }
    expect(stdout).toContain("3 models: PageView, Purchase, PurchaseItem;");
    proc.kill("SIGTERM");
    const code = await proc.exited;
    const err = await stderr;
    expect(err).toMatch(/datamodels\/Bad\.prisma:3:\d+: .*@unique/);
    expect({ code, err }).toEqual({ code: 0, err: expect.any(String) });
  });

  test("query without a running project says how to start one", () => {
    const { code, err } = run(["query", "SELECT 1", "--url", `http://127.0.0.1:${freePort()}`], tempDir("cli-q"));
    expect(code).not.toBe(0);
    expect(err).toMatch(/cannot reach Igloo.*igloo dev/);
  });
});
