/**
 * Real ClickHouse server processes for tests, run by scripts/clickhouse/clickhouse.sh
 * (Debian's clickhouse-server, installed on first use). `sharedClickHouse()` starts one
 * per test process, shared by every test (each owns its tables); `startClickHouse()`
 * starts a private one for tests that kill and restart their server. Each is stopped and
 * its directory removed when the process is gone: by an exit hook where the runtime runs
 * them, and by the script's watchdog otherwise (bun test runs no exit hooks).
 * Nothing is skipped: if the server cannot be installed or started, the test fails with
 * the script's explanation.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PORT_RANGE, REPO, removeDir, tempDir } from "../../scripts/lib/igloo.ts";

export const CLICKHOUSE_SCRIPT = join(REPO, "scripts", "clickhouse", "clickhouse.sh");

export interface ClickHouseServer {
  /** `http://127.0.0.1:<port>`, without credentials. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** The query user (scripts/clickhouse/clickhouse.sh): readonly = 1, database `igloo` only. */
  readonly reader: { readonly user: string; readonly password: string };
  /** A user whose profile allows what 18.16 calls experimental (LowCardinality columns); the default user has default settings. */
  readonly experimental: { readonly user: string; readonly password: string };
  /** Config, data and logs. */
  readonly dir: string;
  readonly port: number;
  /** With `{ tls: true }`: `https://127.0.0.1:<port+2>`, and the CA that signed its certificate. */
  readonly httpsUrl: string | undefined;
  readonly caPath: string | undefined;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, and wait. */
  stop(): Promise<void>;
  /** Start again on the same directory and port (after kill or stop). */
  start(): Promise<void>;
}

async function run(command: readonly string[], env: Record<string, string> = {}): Promise<void> {
  const proc = Bun.spawn([...command], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`${command.join(" ")} failed (exit ${code}):\n${err || out}`);
}

function script(args: readonly string[], env: Record<string, string> = {}): Promise<void> {
  return run(["sh", CLICKHOUSE_SCRIPT, ...args], { CLICKHOUSE_OWNER_PID: String(process.pid), CLICKHOUSE_REMOVE_DIR_WITH_OWNER: "1", ...env });
}

/** A private CA and a certificate it signed for 127.0.0.1, made with the openssl CLI. */
async function makeCertificates(dir: string): Promise<{ caPath: string; certPath: string; keyPath: string }> {
  mkdirSync(dir, { recursive: true });
  const [ca, caKey, cert, key, csr, ext] = ["ca.crt", "ca.key", "server.crt", "server.key", "server.csr", "san.cnf"].map((f) => join(dir, f)) as [string, string, string, string, string, string];
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=igloo test CA"]);
  await run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"]);
  await run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]);
  return { caPath: ca, certPath: cert, keyPath: key };
}

let installed: Promise<void> | undefined;

/** apt-get installs clickhouse-server once per process when it is missing. */
export function installClickHouse(): Promise<void> {
  installed ??= script(["install"]);
  return installed;
}

function portFree(port: number): boolean {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** A port whose successors (native TCP, HTTPS) are free too. */
export function freePorts(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Below the ephemeral range, as freePort (scripts/lib/igloo.ts) says why.
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from - 3));
    if (portFree(port) && portFree(port + 1) && portFree(port + 2)) return port;
  }
  throw new Error("no three free TCP ports in a row for a ClickHouse server on 127.0.0.1");
}

export interface ClickHouseStartOptions {
  tls?: boolean;
  /** The HTTP port (native TCP is port+1, HTTPS port+2), for servers that must know each other's ports before they start: replicas. */
  port?: number;
  /** Replicas of one cluster share the password (their remote_servers entries carry it). */
  password?: string;
  /** More of clickhouse.sh's environment: the CLICKHOUSE_ZOOKEEPER_PORT family makes a replica. */
  env?: Record<string, string>;
}

export async function startClickHouse(prefix = "clickhouse", options: ClickHouseStartOptions = {}): Promise<ClickHouseServer> {
  await installClickHouse();
  const dir = tempDir(prefix);
  const port = options.port ?? freePorts();
  const password = options.password ?? randomBytes(12).toString("hex");
  const tls = options.tls ? await makeCertificates(join(dir, "tls")) : undefined;
  // The password travels in the environment, not in argv, so `ps` does not show it.
  const env: Record<string, string> = { ...options.env, CLICKHOUSE_PASSWORD: password, ...(tls ? { CLICKHOUSE_TLS_CERT: tls.certPath, CLICKHOUSE_TLS_KEY: tls.keyPath } : {}) };
  process.on("exit", () => {
    Bun.spawnSync(["sh", CLICKHOUSE_SCRIPT, "stop", dir], { stdout: "ignore", stderr: "ignore" });
    removeDir(dir);
  });
  const server: ClickHouseServer = {
    url: `http://127.0.0.1:${port}`,
    user: "default",
    password,
    database: "igloo",
    reader: { user: "igloo_reader", password },
    experimental: { user: "igloo_experimental", password },
    dir,
    port,
    httpsUrl: tls ? `https://127.0.0.1:${port + 2}` : undefined,
    caPath: tls?.caPath,
    kill: () => script(["kill", dir]),
    stop: () => script(["stop", dir]),
    start: () => script(["start", dir, String(port)], env),
  };
  await server.start();
  return server;
}

let shared: Promise<ClickHouseServer> | undefined;

export function sharedClickHouse(): Promise<ClickHouseServer> {
  shared ??= startClickHouse("clickhouse-shared");
  return shared;
}

/** `http://user:password@host:port/database`, the form of IGLOO_CLICKHOUSE_URL. */
export function serverUrl(server: ClickHouseServer, who: { readonly user: string; readonly password: string }, database = server.database): string {
  const url = new URL(server.url);
  url.username = who.user;
  url.password = who.password;
  url.pathname = `/${database}`;
  return url.toString();
}
