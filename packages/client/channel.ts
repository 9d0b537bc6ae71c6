/**
 * Many live views over one connection: `GET /_igloo/live?s=<view>?<params>&s=...`. A
 * browser holds at most 6 HTTP/1.1 connections to a server, so a page whose elements
 * each kept a view's own stream open could follow only 5 or so; over a channel it can
 * follow up to 100. The server answers with a `feeds` event giving each view its feed's
 * tag (or why it cannot be followed), then `rows` and `error` events naming a feed.
 *
 * Subscribing or leaving reconnects with the new set (coalesced: a page's elements
 * subscribing together make one request); a dropped connection reconnects with backoff,
 * and one silent past three keepalives is taken for dead. Against a server without the
 * route (404), each view falls back to its own stream.
 */
import { IglooError } from "./errors.js";
import { queryString } from "./http.js";
import type { ServerEvent } from "./eventStream.js";
import { followEvents, subscribe, type IglooSubscribeOptions, type IglooSubscription, type SubscriptionContext } from "./subscription.js";

interface Entry {
  readonly name: string;
  /** `<view>?<params>`, as the channel's request names it. */
  readonly spec: string;
  readonly onRows: (rows: unknown[]) => void;
  readonly options: IglooSubscribeOptions;
  /** The rows text last passed on: the same rows are not passed on twice. */
  last: string | undefined;
  /** Its own stream, once the server turned out to have no channel. */
  own: IglooSubscription | undefined;
}

/** Views one channel request may name (the server's limit). */
const MAX_VIEWS = 100;
/** How long a view the server would not follow waits before it is asked for again. */
const RETRY_REFUSED_MS = 5_000;

export class LiveChannel {
  readonly #context: SubscriptionContext;
  readonly #entries = new Set<Entry>();
  #connection: AbortController | undefined;
  #pending = false;
  /** The server has no channel route: every view on its own stream. */
  #legacy = false;

  constructor(context: SubscriptionContext) {
    this.#context = context;
  }

  subscribe<Row>(name: string, params: object | undefined, onRows: (rows: Row[]) => void, options: IglooSubscribeOptions = {}): IglooSubscription {
    const entry: Entry = { name, spec: `${name}${queryString(params)}`, onRows: onRows as (rows: unknown[]) => void, options, last: undefined, own: undefined };
    this.#entries.add(entry);
    if (this.#legacy) entry.own = this.#own(entry);
    else this.#reconnect();
    return {
      close: () => {
        if (!this.#entries.delete(entry)) return;
        entry.own?.close();
        if (!this.#legacy) this.#reconnect();
      },
    };
  }

  #own(entry: Entry): IglooSubscription {
    return subscribe(this.#context, entry.name, `/views/${encodeURIComponent(entry.name)}/events${entry.spec.slice(entry.name.length)}`, entry.onRows, entry.options);
  }

  /** Reopens with the current set, once for all the changes of this turn. */
  #reconnect(): void {
    if (this.#pending) return;
    this.#pending = true;
    queueMicrotask(() => {
      this.#pending = false;
      this.#connection?.abort();
      this.#connection = undefined;
      if (this.#entries.size > 0 && !this.#context.closed.aborted) void this.#run((this.#connection = new AbortController()));
    });
  }

  #report(entries: Iterable<Entry>, error: IglooError, willRetry: boolean): void {
    for (const entry of entries) {
      if (entry.options.onError) entry.options.onError(error, willRetry);
      else if (!willRetry) console.error(error);
    }
  }

  async #run(connection: AbortController): Promise<void> {
    const all = [...this.#entries];
    const entries = all.slice(0, MAX_VIEWS);
    if (all.length > MAX_VIEWS) this.#report(all.slice(MAX_VIEWS), new IglooError("E_HTTP", `live views: one page may follow ${MAX_VIEWS} views live; this one asked for ${all.length}`), false);
    const specs = [...new Set(entries.map((e) => e.spec))];
    const path = `/_igloo/live?${specs.map((s) => `s=${encodeURIComponent(s)}`).join("&")}`;
    const stop = () => connection.abort();
    this.#context.closed.addEventListener("abort", stop, { once: true });
    let tags: (string | undefined)[] = [];
    await followEvents(this.#context, connection.signal, {
      what: "live views",
      path,
      intercept: (response) => {
        if (response.status !== 404) return false;
        // An older server: every view on its own stream.
        this.#legacy = true;
        for (const entry of this.#entries) entry.own ??= this.#own(entry);
        return true;
      },
      onEvent: (event) => void (tags = this.#deliver(event, entries, specs, tags)),
      report: (error, willRetry) => this.#report(entries, error, willRetry),
    });
    this.#context.closed.removeEventListener("abort", stop);
  }

  /** Passes an event on to the entries it concerns; returns the feed tags by spec. */
  #deliver(event: ServerEvent, entries: readonly Entry[], specs: readonly string[], tags: (string | undefined)[]): (string | undefined)[] {
    const body = JSON.parse(event.data) as { feed?: string; data?: unknown[]; error?: string } | ({ feed?: string; status?: number; error?: string }[]);
    if (event.type === "feeds" && Array.isArray(body)) {
      const next = body.map((f) => f.feed);
      body.forEach((f, i) => {
        if (f.error === undefined) return;
        const concerned = entries.filter((e) => e.spec === specs[i]);
        // Worded as the view's own stream would have refused it.
        this.#report(concerned, new IglooError("E_HTTP", `view ${concerned[0]?.name ?? specs[i]}: ${f.status ?? 400} ${f.error}`, { status: f.status ?? 400 }), true);
      });
      // In dev a view is away while its file is fixed: ask again in a while.
      if (next.includes(undefined)) {
        const connection = this.#connection;
        setTimeout(() => this.#connection === connection && this.#reconnect(), RETRY_REFUSED_MS);
      }
      return next;
    }
    if (Array.isArray(body) || body.feed === undefined) return tags;
    const concerned = entries.filter((e) => tags[specs.indexOf(e.spec)] === body.feed && this.#entries.has(e));
    if (event.type === "error") {
      this.#report(concerned, new IglooError("E_HTTP", `view ${concerned[0]?.name ?? "?"}: the server could not run the view: ${body.error ?? ""}`), true);
      return tags;
    }
    if (event.type !== "rows" || !Array.isArray(body.data)) return tags;
    const text = event.data;
    for (const entry of concerned) {
      if (entry.last === text) continue;
      entry.last = text;
      try {
        entry.onRows(body.data);
      } catch (error) {
        this.#report([entry], new IglooError("E_CALLBACK", `subscription to ${entry.name}: onRows threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error }), true);
      }
    }
    return tags;
  }
}
