/**
 * An element's data: the view's rows (once, or live over `GET /views/<name>/events`
 * through the client's own subscription, reconnecting with backoff) and its column types
 * (`GET /_igloo/views/<name>/columns`, asked once per binding). Requests go only to the
 * binding's server.
 *
 * Elements bound live to the same view and parameters share one subscription, and all
 * the live subscriptions of a page to one server share one connection (a LiveChannel):
 * a browser holds at most 6 HTTP/1.1 connections to a server.
 */
import { errorFromResponse, IglooError } from "../client/errors.ts";
import { Transport } from "../client/http.ts";
import { LiveChannel } from "../client/channel.ts";
import { readView } from "../client/viewRead.ts";
import type { Binding } from "./attributes.ts";
import { inferColumns, readColumns, type Column, type Row } from "./columns.ts";

export interface ViewData {
  readonly rows: readonly Row[];
  readonly columns: readonly Column[];
}

export interface SourceEvents {
  data(data: ViewData): void;
  /** What went wrong, naming the view; `lasting` when retrying will not help. */
  error(message: string, lasting: boolean): void;
}

interface Description {
  readonly columns?: readonly { readonly name: string; readonly type: string }[];
}

async function describe(transport: Transport, view: string, signal: AbortSignal): Promise<readonly Column[] | undefined> {
  const response = await transport.request(`/_igloo/views/${encodeURIComponent(view)}/columns`, { headers: { accept: "application/json" }, signal });
  if (response.status !== 200) throw await errorFromResponse(response, `view ${view}`);
  const body = (await response.json().catch(() => ({}))) as Description;
  return Array.isArray(body.columns) ? readColumns(body.columns) : undefined;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

interface Shared {
  readonly listeners: Set<SourceEvents>;
  /** What the subscription last said, for an element that joins later. */
  last: ((events: SourceEvents) => void) | undefined;
  close(): void;
}

const live = new Map<string, Shared>();

/** One channel per server and key, for the life of the page. */
const channels = new Map<string, LiveChannel>();
function channelFor(transport: Transport, key: string | undefined): LiveChannel {
  const id = JSON.stringify([transport.url, key ?? ""]);
  let channel = channels.get(id);
  if (channel === undefined) channels.set(id, (channel = new LiveChannel({ transport, backoff: undefined, idleTimeoutMs: 15_000, closed: new AbortController().signal })));
  return channel;
}

/** Starts reading; `close()` stops every request and reconnection (a shared one when its last element leaves). */
export function openView(binding: Binding, events: SourceEvents): { close(): void } {
  if (!binding.live) return read(binding, events);
  const key = JSON.stringify([binding.url, binding.key ?? "", binding.view, binding.params]);
  let shared = live.get(key);
  if (!shared) {
    const listeners = new Set<SourceEvents>();
    const entry: Shared = {
      listeners,
      last: undefined,
      close: read(binding, {
        data: (data) => {
          entry.last = (e) => e.data(data);
          for (const listener of [...listeners]) listener.data(data);
        },
        error: (message, lasting) => {
          entry.last = (e) => e.error(message, lasting);
          for (const listener of [...listeners]) listener.error(message, lasting);
        },
      }).close,
    };
    live.set(key, (shared = entry));
  }
  const joined = shared;
  joined.listeners.add(events);
  if (joined.last) {
    const replay = joined.last;
    queueMicrotask(() => joined.listeners.has(events) && replay(events));
  }
  return {
    close() {
      joined.listeners.delete(events);
      if (joined.listeners.size > 0 || live.get(key) !== joined) return;
      live.delete(key);
      joined.close();
    },
  };
}

function read(binding: Binding, events: SourceEvents): { close(): void } {
  const transport = new Transport(binding.url, binding.key, undefined);
  const closed = new AbortController();
  const report = (error: unknown, lasting: boolean) => {
    if (!closed.signal.aborted) events.error(messageOf(error), lasting);
  };
  // Asked again after a failure: in dev a view is briefly away while its file reloads.
  let columns: Promise<readonly Column[] | undefined> | undefined;
  const columnsOf = () =>
    (columns ??= describe(transport, binding.view, closed.signal).catch((error: unknown) => {
      columns = undefined;
      throw error;
    }));
  const deliver = async (rows: readonly Row[]) => {
    try {
      const described = await columnsOf();
      if (!closed.signal.aborted) events.data({ rows, columns: described ?? inferColumns(rows) });
    } catch (error) {
      report(error, false);
    }
  };

  if (binding.live) {
    const subscription = channelFor(transport, binding.key).subscribe<Row>(binding.view, binding.params, (rows) => void deliver(rows), { onError: (error, willRetry) => report(error, !willRetry) });
    closed.signal.addEventListener("abort", () => subscription.close(), { once: true });
  } else {
    readView(transport, binding.view, binding.params, { signal: closed.signal }).then(
      (rows) => deliver(rows as Row[]),
      (error: unknown) => report(error, !(error instanceof IglooError) || error.code !== "E_NETWORK"),
    );
  }
  return { close: () => closed.abort() };
}
