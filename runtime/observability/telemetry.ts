/**
 * Igloo measuring itself with Igloo. Its own operational events (a reload and how long it
 * took, a function that threw, ingest and rejection counts per minute, query latencies,
 * start-up time, CLI commands) are records of a built-in model, `igloo_events`, ingested
 * through the same path as any model's (validated, appended to its topic, written by its
 * table writer), and read through built-in views with the same components any project
 * uses. They stay on the machine; only when `IGLOO_TELEMETRY_URL` is set (and
 * `DO_NOT_TRACK` is not) are the same records also sent to that Igloo deployment, with
 * Igloo's own client, whose `igloo_events` model takes them.
 *
 * Events are buffered and written once a second; counts (records ingested, reads...)
 * are summed meanwhile and written as one event per kind and subject, its `count` the
 * number since the last (a view sums them per minute). The
 * buffer holds at most MAX_PENDING events: past that the oldest go, and the next flush
 * says how many were dropped, since telemetry must never hold memory a busy process
 * needs.
 */
import { BUILTIN_SOURCE, builtinField } from "../../conventions/datamodels/builtin.ts";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { parseViews } from "../../conventions/views/parse.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import { createIglooClient, type IglooClient } from "../../packages/client/client.ts";

export const EVENTS_MODEL_NAME = "igloo_events";


/** The events table, described like a model so it is validated, created and written the same way. */
export const EVENTS_MODEL: ModelIR = {
  name: EVENTS_MODEL_NAME,
  table: EVENTS_MODEL_NAME,
  fields: [
    builtinField("ts", { kind: "datetime", precision: 3 }),
    builtinField("kind", { kind: "string", lowCardinality: true }),
    builtinField("subject", { kind: "string", lowCardinality: false }),
    builtinField("detail", { kind: "string", lowCardinality: false }),
    builtinField("durationMs", { kind: "float", bits: 64 }, true),
    // 1 for an event; for a count, how many since the last one of its kind and subject.
    builtinField("count", { kind: "int", bits: 32, signed: false }),
  ],
  id: [],
  orderBy: ["kind", "ts"],
  engine: { kind: "MergeTree" },
  source: BUILTIN_SOURCE,
};

/** Views over the events, served like a project's (`GET /views/igloo_activity`). */
const VIEW_SQL: Readonly<Record<string, string>> = {
  // Events per minute and kind over the last hour, with their total duration.
  igloo_activity: `SELECT toStartOfMinute(ts) AS minute, kind, sum(count) AS events, sum(ifNull(durationMs, 0)) AS totalMs
FROM ${EVENTS_MODEL_NAME}
WHERE ts > now() - INTERVAL 1 HOUR
GROUP BY minute, kind
ORDER BY minute, kind`,
  // The newest events first.
  igloo_recent_events: `SELECT ts, kind, subject, detail, durationMs, count
FROM ${EVENTS_MODEL_NAME}
ORDER BY ts DESC
LIMIT 200`,
};

export function eventViews(): ViewIR[] {
  // Parsed under a plain name: `igloo_` names are reserved for Igloo's own, which these are.
  return Object.entries(VIEW_SQL).map(([name, text]) => {
    const parsed = parseViews([{ path: `<igloo>/${name.slice("igloo_".length)}.sql`, text }]);
    if (parsed.errors.length > 0) throw parsed.errors[0]!;
    return { ...parsed.views[0]!, name, file: `<igloo>/${name}.sql` };
  });
}

export type EventKind = "start" | "reload" | "function_error" | "ingest" | "rejected" | "query" | "command" | "telemetry";

export interface IglooEvent {
  readonly ts: string;
  readonly kind: EventKind;
  readonly subject: string;
  readonly detail: string;
  readonly durationMs: number | null;
  readonly count: number;
}

export interface TelemetryOptions {
  /** Writes events through the ingest path (the model's validation and topic). */
  readonly write: (events: readonly IglooEvent[]) => Promise<void>;
  /** Told when a flush fails (the events are dropped: telemetry never retries forever). */
  readonly onError?: (error: unknown) => void;
  /** `IGLOO_TELEMETRY_URL` and `IGLOO_TELEMETRY_KEY`; ignored under `DO_NOT_TRACK`. */
  readonly exportTo?: { readonly url: string; readonly key?: string };
  readonly now?: () => number;
  readonly flushMs?: number;
}

const MAX_PENDING = 10_000;

interface Count {
  readonly kind: EventKind;
  readonly subject: string;
  /** When its first count came. */
  readonly since: number;
  n: number;
  ms: number | undefined;
}

export class Telemetry {
  readonly #options: TelemetryOptions;
  readonly #now: () => number;
  #pending: IglooEvent[] = [];
  #dropped = 0;
  /** Counts of the minute in progress, by kind and subject. */
  #counts = new Map<string, Count>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #export: IglooClient<{ igloo_events: IglooEvent }, {}> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;

  constructor(options: TelemetryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => void this.flush(), options.flushMs ?? 1_000);
    this.#timer.unref?.();
    const target = options.exportTo;
    this.#export = target === undefined ? undefined : createIglooClient({ url: target.url, ...(target.key ? { key: target.key } : {}), ingest: { onError: () => {} } }, { models: [EVENTS_MODEL_NAME], views: [] });
  }

  /** One event, written at the next flush. */
  event(kind: EventKind, subject: string, detail = "", durationMs?: number): void {
    if (this.#pending.length >= MAX_PENDING) {
      this.#pending.shift();
      this.#dropped++;
    }
    this.#pending.push({ ts: new Date(this.#now()).toISOString(), kind, subject, detail, durationMs: durationMs ?? null, count: 1 });
  }

  /** Adds `n` (and `ms`, a duration) to the count of (kind, subject), written at the next flush as one event. */
  count(kind: EventKind, subject: string, n: number, ms?: number): void {
    if (n <= 0) return;
    const key = `${kind}\u0000${subject}`;
    const entry = this.#counts.get(key);
    if (entry === undefined) this.#counts.set(key, { kind, subject, n, since: this.#now(), ms });
    else {
      entry.n += n;
      if (ms !== undefined) entry.ms = (entry.ms ?? 0) + ms;
    }
  }

  /** Writes what is pending, the counts included. */
  flush(): Promise<void> {
    for (const c of this.#counts.values()) this.#pending.push({ ts: new Date(c.since).toISOString(), kind: c.kind, subject: c.subject, detail: "", durationMs: c.ms ?? null, count: c.n });
    this.#counts.clear();
    if (this.#dropped > 0) {
      this.#pending.push({ ts: new Date(this.#now()).toISOString(), kind: "telemetry", subject: "dropped", detail: "", durationMs: null, count: this.#dropped });
      this.#dropped = 0;
    }
    const events = this.#pending;
    if (events.length === 0) return this.#flushing;
    this.#pending = [];
    try {
      this.#export?.ingest.igloo_events.send(events);
    } catch {
      // The other deployment has been away long enough to fill the client's buffer: this
      // copy is lost, and the records are still written here.
    }
    this.#flushing = this.#flushing.then(() => this.#options.write(events)).catch((error: unknown) => this.#options.onError?.(error));
    return this.#flushing;
  }

  /** Writes what is pending and stops; later calls wait for the same. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      clearInterval(this.#timer);
      await this.flush();
      await this.#export?.close({ timeoutMs: 2_000 });
    })());
  }
}

/** Where to send a copy of the events, from the environment: nothing unless asked, and never under DO_NOT_TRACK. */
export function telemetryExport(env: Record<string, string | undefined> = process.env): { url: string; key?: string } | undefined {
  const url = env.IGLOO_TELEMETRY_URL?.trim();
  const optedOut = env.DO_NOT_TRACK !== undefined && env.DO_NOT_TRACK !== "" && env.DO_NOT_TRACK !== "0";
  if (!url || optedOut) return undefined;
  const key = env.IGLOO_TELEMETRY_KEY?.trim();
  return key ? { url, key } : { url };
}
