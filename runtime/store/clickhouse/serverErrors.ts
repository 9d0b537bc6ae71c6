/**
 * Turns what @clickhouse/client throws into StoreErrors that say what went wrong and
 * what to check. The client recognises a server error by its `(TYPE_NAME)` suffix, which
 * servers before 21.x do not print ("Code: 60, e.displayText() = DB::Exception: ...,
 * e.what() = DB::Exception"), so the code is read from the text when the client has none.
 */
import { StoreError } from "../store.ts";

/** Who we were talking to: safe to print (no password). */
export interface ServerTarget {
  readonly url: string;
  readonly user: string;
  readonly requestTimeoutMs: number;
  /** User names never shown to API clients (errors may name them: "for user x"). */
  readonly hidden?: readonly string[];
}

// UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED (21.x and later).
const AUTH_CODES = new Set(["192", "193", "194", "516"]);
const UNKNOWN_DATABASE = "81";
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET"]);

interface ClientError {
  readonly message?: string;
  readonly code?: string | number;
  readonly type?: string;
}

function engineCodeOf(e: ClientError): string | undefined {
  if (e.code !== undefined && /^\d+$/.test(String(e.code))) return String(e.code);
  return /^\s*Code: (\d+)/.exec(e.message ?? "")?.[1];
}

/** The engine's own sentence, without the old servers' `e.displayText() = ...` wrapping. */
function engineMessage(message: string): string {
  const old = /DB::Exception: ([\s\S]*?)(?:, e\.what\(\) = [\s\S]*)?$/.exec(message);
  return (old?.[1] ?? message).trim();
}

function isNetworkFailure(e: ClientError, message: string): boolean {
  if (e.code !== undefined && NETWORK_CODES.has(String(e.code))) return true;
  return /socket hang up|Timeout error|other side closed|connection (was )?(closed|reset)|ECONNRESET|ECONNREFUSED/i.test(message);
}

function isTlsFailure(e: ClientError, message: string): boolean {
  return /CERT|SSL|TLS|SELF_SIGNED|LEAF_SIGNATURE|ALTNAME/i.test(`${String(e.code ?? "")} ${message}`);
}

export function toStoreError(error: unknown, what: string, target: ServerTarget): StoreError {
  if (error instanceof StoreError) return error;
  const e = (error ?? {}) as ClientError;
  const raw = e.message ?? String(error);
  const engineCode = engineCodeOf(e);
  const engineType = e.type !== undefined ? String(e.type) : undefined;
  const fields = { cause: error, ...(engineCode !== undefined ? { engineCode } : {}), ...(engineType !== undefined ? { engineType } : {}) };

  const unreachable = { ...fields, kind: "unavailable" as const, publicMessage: `${what}: the database cannot be reached right now; retry later` };
  if (engineCode !== undefined && AUTH_CODES.has(engineCode)) {
    return new StoreError(
      `${what}: authentication failed for user "${target.user}" at ${target.url} (${engineMessage(raw)}). ` +
        "Check the user name and password (IGLOO_CLICKHOUSE_URL or the connect options) and that this user may connect from this host.",
      unreachable,
    );
  }
  if (engineCode === UNKNOWN_DATABASE) {
    return new StoreError(`${what}: ${engineMessage(raw)} at ${target.url}. Create it (CREATE DATABASE <name>) or name an existing one in the URL's path.`, unreachable);
  }
  if (engineCode === undefined && isTlsFailure(e, raw)) {
    return new StoreError(
      `${what}: the TLS handshake with ${target.url} failed (${raw}). Check that the port speaks HTTPS (or HTTP, for an http:// URL) ` +
        "and that the server's certificate is signed by a trusted CA (tls.caPath for a private one) for this host name.",
      unreachable,
    );
  }
  if (engineCode === undefined && isNetworkFailure(e, raw)) {
    const reason = /Timeout error/i.test(raw) ? `no answer within ${target.requestTimeoutMs} ms` : e.code !== undefined ? `${String(e.code)}: ${raw}` : raw;
    return new StoreError(
      `${what}: cannot reach ClickHouse at ${target.url} (${reason}). Check that the server is running, the host and port, and http vs https.`,
      unreachable,
    );
  }
  const message = `${what}: ${engineCode !== undefined ? engineMessage(raw) : raw}`;
  // The engine's words about the statement, without any URL (which may hold credentials)
  // or the name Igloo connects as.
  const hidden = new Set([target.user, ...(target.hidden ?? [])]);
  const publicMessage = message
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "<url>")
    .replace(/\b(user|by) ([\w.@-]+)/gi, (match, word: string, name: string) => (hidden.has(name) ? `${word} <user>` : match));
  return new StoreError(message, { ...fields, publicMessage });
}
