/**
 * The console's requests, all to the server that served the page: its own JSON API
 * (`/_igloo/api/*`) and the public one (`POST /query`, `POST /ingest/<Model>`,
 * `POST /dead-letters/replay`) that any client uses.
 *
 * Where `igloo dev` listens beyond loopback every request needs its key: the ready line
 * prints the console's address with `#key=...`. A fragment never reaches a server (or a
 * log), and the key is kept in sessionStorage, for this tab only.
 */
import type { Pulse } from "./protocol.ts";
import { sleep } from "./dom.ts";

const KEY_ITEM = "igloo-console-key";

function readKey(): string | undefined {
  const fromHash = /(?:^#|&)key=([^&]+)/.exec(location.hash)?.[1];
  if (fromHash) {
    sessionStorage.setItem(KEY_ITEM, decodeURIComponent(fromHash));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY_ITEM) ?? undefined;
}

/** The key the pages send, if the server needs one (the dashboard elements get it as their `key`). */
export const key = readKey();

/** A failed request, with the server's own words (`{"error": ...}`). */
export class RequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function headers(json: boolean): Record<string, string> {
  return { ...(json ? { "content-type": "application/json" } : {}), ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

async function answer<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RequestError(response.status, text.slice(0, 300) || `HTTP ${response.status}`);
  }
  const error = (body as { error?: unknown } | null)?.error;
  // A query that failed after its first rows ends its document with `error` (README, HTTP API).
  if (!response.ok || typeof error === "string") throw new RequestError(response.status, typeof error === "string" ? error : `HTTP ${response.status}`);
  return body as T;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return await answer<T>(await fetch(path, { headers: headers(false), ...(signal ? { signal } : {}) }));
}

/** POSTs are JSON, always: the server refuses other content types, which other sites could send. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return await answer<T>(await fetch(path, { method: "POST", headers: headers(true), body: JSON.stringify(body) }));
}

export interface QueryResult {
  readonly meta: readonly { readonly name: string; readonly type: string }[];
  readonly data: readonly Record<string, unknown>[];
}

/** `POST /query`: read-only, with the server's limits; `{name:Type}` placeholders take `params`. */
export function query(sql: string, params?: Readonly<Record<string, unknown>>): Promise<QueryResult> {
  return postJson<QueryResult>("/query", params ? { sql, params } : { sql });
}

/** Backquoted for the engine, as the server quotes names. */
export function ident(name: string): string {
  return "`" + name.replace(/\\/g, "\\\\").replace(/`/g, "\\`") + "`";
}

/**
 * Calls `refresh` now and whenever the project or the stream moves (`GET
 * /_igloo/api/pulse`, a long poll answered within about 100 ms of a change). Refreshes do
 * not overlap: changes during one are gathered into the next.
 */
export function follow(refresh: () => Promise<void>): void {
  void (async () => {
    let version = -1;
    for (;;) {
      try {
        const next = (await getJson<Pulse>(`/_igloo/api/pulse?v=${version}`)).v;
        if (next === version) continue;
        version = next;
      } catch {
        // The server restarts or stops: try again in a moment (the page says it is offline meanwhile).
        await sleep(1_000);
        continue;
      }
      // Each page shows its own failures; one failed read waits for the next change.
      await refresh().catch(() => undefined);
    }
  })();
}
