/**
 * Where and how to reach a ClickHouse server: explicit options, or the deployment form
 * `http(s)://user:password@host:port/database` (CONTRACT.md, `IGLOO_CLICKHOUSE_URL`).
 * Credentials are taken out of the URL here, so no URL handed on (to the client, to error
 * messages, to logs) ever carries a password.
 */
import { readFileSync } from "node:fs";
import { StoreError } from "../store.ts";

export interface ClickHouseTlsFiles {
  /** PEM file of the CA that signed the server's certificate (a private CA). */
  readonly caPath?: string;
  /** PEM client certificate and key, for servers that require mutual TLS. */
  readonly certPath?: string;
  readonly keyPath?: string;
}

export interface ClickHouseConnectOptions {
  /** `http(s)://host:port`, optionally with `user:password@` and a `/database` path. */
  readonly url: string;
  /** Override the URL's user, password and database when given. */
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** `true` speaks HTTPS even to an `http://` URL; files add a CA or a client certificate. */
  readonly tls?: boolean | ClickHouseTlsFiles;
  /** Bound on every request, connecting included (default 30 s). */
  readonly requestTimeoutMs?: number;
}

export interface ResolvedConnection {
  /** Scheme, host and port only: safe to print. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly tls: { readonly ca_cert: Buffer; readonly cert?: Buffer; readonly key?: Buffer } | undefined;
  readonly requestTimeoutMs: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

const EXPECTED = "expected http(s)://user:password@host:port/database";

/** The URL with any `user:password@` replaced, for messages about a URL we could not parse. */
export function redactUrl(url: string): string {
  return url.replace(/^((?:[a-z][a-z0-9+.-]*:)?\/\/)?[^/@]*@/i, "$1***@");
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new StoreError(`cannot read the ClickHouse TLS ${what} file ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function tlsFiles(tls: ClickHouseConnectOptions["tls"]): ResolvedConnection["tls"] {
  if (tls === undefined || typeof tls === "boolean") return undefined;
  if ((tls.certPath === undefined) !== (tls.keyPath === undefined)) {
    throw new StoreError("ClickHouse TLS: certPath and keyPath go together (a client certificate needs its key)");
  }
  // @clickhouse/client takes custom TLS material only together with a CA; without a
  // private CA the system's trusted CAs apply and nothing needs configuring.
  if (tls.caPath === undefined) {
    if (tls.certPath !== undefined) throw new StoreError("ClickHouse TLS: a client certificate needs caPath too (the CA that signed the server's certificate)");
    return undefined;
  }
  const ca_cert = readPem(tls.caPath, "CA");
  if (tls.certPath === undefined || tls.keyPath === undefined) return { ca_cert };
  return { ca_cert, cert: readPem(tls.certPath, "certificate"), key: readPem(tls.keyPath, "key") };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function resolveConnection(options: ClickHouseConnectOptions): ResolvedConnection {
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch (error) {
    throw new StoreError(`the ClickHouse URL ${redactUrl(options.url)} is not a URL (${EXPECTED})`, { cause: error });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new StoreError(`the ClickHouse URL ${redactUrl(options.url)} must use http or https (${EXPECTED})`);
  }
  const segments = parsed.pathname.split("/").filter((s) => s !== "");
  if (segments.length > 1) {
    throw new StoreError(`the ClickHouse URL ${redactUrl(options.url)} has a path of more than one segment; its path names the database (${EXPECTED})`);
  }
  const wantsTls = parsed.protocol === "https:" || options.tls === true || typeof options.tls === "object";
  const origin = `${wantsTls ? "https:" : "http:"}//${parsed.host}`;
  const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!(timeout > 0)) throw new StoreError(`requestTimeoutMs must be a positive number of milliseconds, got ${timeout}`);
  return {
    url: origin,
    user: options.user ?? (parsed.username !== "" ? decode(parsed.username) : "default"),
    password: options.password ?? decode(parsed.password),
    database: options.database ?? (segments[0] !== undefined ? decode(segments[0]) : "default"),
    tls: tlsFiles(options.tls),
    requestTimeoutMs: timeout,
  };
}
