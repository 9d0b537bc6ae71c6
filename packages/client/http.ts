/**
 * What every request shares: the base URL, the API key, the `fetch` to call, and the
 * waiting rules between attempts. Only web-standard APIs (fetch, AbortSignal, timers),
 * so the same file runs in Bun, Node 20 and browsers.
 */

/** The part of `fetch` the client calls; Bun's, Node's, a browser's or a test's all fit. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** The request options the client uses. */
export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly signal?: AbortSignal;
  /** Browsers: let the request outlive the page (bodies up to 64 KiB). */
  readonly keepalive?: boolean;
}

/** Exponential backoff between attempts. */
export interface BackoffOptions {
  /** The first wait, doubled at each attempt. Default 100 ms. */
  readonly minMs?: number;
  /** The longest wait. Default 10 s. */
  readonly maxMs?: number;
}

export class Transport {
  readonly url: string;
  readonly #key: string | undefined;
  readonly #fetch: Fetch;

  constructor(url: string, key: string | undefined, fetchImpl: Fetch | undefined) {
    this.url = url.replace(/\/+$/, "");
    this.#key = key;
    const global = globalThis.fetch as Fetch | undefined;
    if (fetchImpl === undefined && typeof global !== "function") {
      throw new TypeError("igloo client: this platform has no global fetch (Node 18 or newer has one); pass `fetch` in the options");
    }
    // Called unbound, browsers throw "Illegal invocation".
    this.#fetch = fetchImpl ?? ((input, init) => global!.call(globalThis, input, init));
  }

  request(path: string, init: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.#key !== undefined) headers["authorization"] = `Bearer ${this.#key}`;
    return this.#fetch(this.url + path, { ...init, headers });
  }
}

/**
 * "Equal jitter" from Marc Brooker's "Exponential Backoff And Jitter" (AWS Architecture
 * Blog, 2015): half the exponential delay, plus a random part of the other half, so
 * clients that failed together do not retry together, yet never retry at once.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = options.minMs ?? 100;
  const max = options.maxMs ?? 10_000;
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (random() * ceiling) / 2;
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * How long to wait before the next attempt: what the server asked for, if it did (plus up
 * to 20% so a crowd of clients spreads out), else the backoff.
 */
export function nextDelay(attempt: number, retryAfter: number | undefined, options: BackoffOptions = {}, random: () => number = Math.random): number {
  return retryAfter === undefined ? backoffDelay(attempt, options, random) : retryAfter * (1 + 0.2 * random());
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `JSON.stringify` that writes bigints as digit strings, which the server takes for wide integers. */
export function toJson(value: unknown): string {
  // A replacer makes JSON.stringify several times slower, so it is only used when the
  // plain call refuses a bigint.
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  }
}

/**
 * View parameters as a query string: scalars as their text, arrays as JSON, and absent or
 * null values left out (the server reads a missing Nullable parameter as NULL).
 */
export function queryString(params: object | undefined): string {
  if (params === undefined) return "";
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params) as [string, unknown][]) {
    if (value === undefined || value === null) continue;
    search.append(name, Array.isArray(value) ? toJson(value) : String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}
