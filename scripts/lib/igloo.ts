/**
 * Drives the compiled `dist/igloo` the way a user does: `init` a project in a temp dir,
 * start `dev`, wait for its ready line, stop it (or kill -9 it). Shared by the tests,
 * the demo and the benchmark.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const REPO = join(import.meta.dir, "..", "..");
export const IGLOO = join(REPO, "dist", "igloo");

export function requireBinary(): string {
  if (!existsSync(IGLOO)) throw new Error(`${IGLOO} is missing: run \`npm run build\` first (npm test does).`);
  return IGLOO;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `igloo-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** `igloo init` a fresh project and return its directory. */
export function initProject(prefix: string): string {
  const binary = requireBinary();
  const parent = tempDir(prefix);
  const dir = join(parent, "project");
  const result = Bun.spawnSync([binary, "init", dir], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    removeDir(parent);
    throw new Error(`igloo init failed: ${result.stderr.toString()}`);
  }
  return dir;
}

/**
 * Listening ports for tests come from below the kernel's ephemeral range (32768 and up on
 * Linux): a port picked there can be taken, between the probe and the server's bind, as
 * the local port of any outgoing connection (a test's flake: "port ... already in use").
 */
export const PORT_RANGE = { from: 20000, to: 32700 } as const;
let nextPort = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
export function freePort(): number {
  for (;;) {
    if (nextPort >= PORT_RANGE.to) nextPort = PORT_RANGE.from;
    const port = nextPort++;
    try {
      const probe = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
      probe.stop(true);
      return port;
    } catch {
      // taken; try the next one
    }
  }
}

export interface DevProcess {
  readonly url: string;
  readonly port: number;
  readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  /** Types a line at igloo dev's terminal. */
  type(line: string): void;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number>;
  kill9(): Promise<void>;
}

export interface StartOptions {
  port?: number;
  args?: string[];
  timeoutMs?: number;
  env?: Record<string, string>;
  /** The igloo binary to run (a build directory has its own copy). */
  binary?: string;
}

export function startDev(dir: string, options: StartOptions = {}): Promise<DevProcess> {
  return startIgloo(dir, "dev", options);
}

/** Runs `igloo <command> --port N ...` in `dir` and waits for its ready line. */
export async function startIgloo(dir: string, command: "dev" | "start", options: StartOptions = {}): Promise<DevProcess> {
  const port = options.port ?? freePort();
  const proc = Bun.spawn([options.binary ?? requireBinary(), command, "--port", String(port), ...(options.args ?? [])], {
    cwd: dir,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "pipe",
    env: { ...process.env, ...options.env },
  });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!/ready at http/.test(text)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill(9);
      throw new Error(`igloo ${command} did not become ready (exit ${proc.exitCode}):\n${text}`);
    }
    await Bun.sleep(10);
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    proc,
    output: () => text,
    type(line: string) {
      proc.stdin.write(line + "\n");
      proc.stdin.flush();
    },
    async stop() {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
    async kill9() {
      proc.kill(9);
      await proc.exited;
    },
  };
}

export async function postIngest(url: string, model: string, body: unknown, contentType = "application/json"): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/ingest/${model}`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body: parsed };
}

export async function query<Row = Record<string, any>>(url: string, sql: string): Promise<Row[]> {
  const response = await fetch(`${url}/query`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql }) });
  const body = (await response.json()) as { data?: Row[]; error?: string };
  if (response.status !== 200) throw new Error(`query failed (${response.status}): ${body.error}`);
  return body.data!;
}

/** Polls until `read` returns what `done` accepts, or fails the test with the last value. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await Bun.sleep(50);
    value = await read();
  }
  return value;
}

export async function countRows(url: string, table: string, where = "1"): Promise<number> {
  const rows = await query<{ c: string }>(url, `SELECT count() AS c FROM \`${table}\` WHERE ${where}`);
  return Number(rows[0]!.c);
}

/** `igloo keys create --role <role>`: the key and its IGLOO_KEYS entry. */
export function createKey(role: "ingest" | "query" | "admin"): { key: string; entry: string } {
  const out = Bun.spawnSync([requireBinary(), "keys", "create", "--role", role], { stdout: "pipe" }).stdout.toString();
  const key = /^key: (\S+)$/m.exec(out)?.[1];
  const entry = /^entry: (\S+)$/m.exec(out)?.[1];
  if (!key || !entry) throw new Error(`igloo keys create printed no key: ${out}`);
  return { key, entry };
}
