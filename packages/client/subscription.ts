/**
 * Live view results over `GET /views/<name>/events`. The server sends the rows at once
 * and again whenever the data under the view changed; nothing here polls. A dropped
 * connection is reopened with backoff and jitter (the server sends the current rows on
 * every connect, so nothing is missed, and an unchanged answer is not passed on twice).
 * A connection that stays silent past three of the server's keepalives is taken for
 * dead and reopened too: a half-open TCP connection otherwise waits forever.
 */
import { errorFromResponse, IglooError } from "./errors.js";
import { EventStreamParser, type ServerEvent } from "./eventStream.js";
import { nextDelay, retryAfterMs, sleep, type BackoffOptions, type Transport } from "./http.js";

export interface IglooSubscription {
  /** Stops for good: aborts the connection and any reconnection. */
  close(): void;
}

export interface IglooSubscribeOptions {
  /**
   * Told of every problem: the server failing to run the view, a dropped connection, an
   * `onRows` that threw. `willRetry` is false only when the server refused the request
   * itself (400, 401, 403): the subscription is then closed. Without `onError`, such a
   * final error is logged with `console.error` and the others are ignored.
   */
  readonly onError?: (error: IglooError, willRetry: boolean) => void;
}

export interface SubscriptionContext {
  readonly transport: Transport;
  readonly backoff: BackoffOptions | undefined;
  /** Silence after which a connection is taken for dead. */
  readonly idleTimeoutMs: number;
  /** Aborts when the client is closed. */
  readonly closed: AbortSignal;
}

/** Refusals that a retry would get again. 404 is not one: in dev a view is briefly away while it reloads. */
function permanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 404 && status !== 408 && status !== 429;
}

export function subscribe<Row>(context: SubscriptionContext, name: string, path: string, onRows: (rows: Row[]) => void, options: IglooSubscribeOptions = {}): IglooSubscription {
  const what = `subscription to ${name}`;
  const stop = new AbortController();
  const onClientClose = () => stop.abort();
  context.closed.addEventListener("abort", onClientClose, { once: true });
  const report = (error: IglooError, willRetry: boolean) => {
    if (stop.signal.aborted) return;
    if (options.onError) options.onError(error, willRetry);
    else if (!willRetry) console.error(error);
  };
  let last: string | undefined;
  /** The id of the rows last received: sent on reconnect, so the server does not send them again. */
  let lastId = "";
  const deliver = (event: ServerEvent) => {
    if (event.type === "error") {
      let message = event.data;
      try {
        message = String((JSON.parse(event.data) as { error?: unknown }).error ?? event.data);
      } catch {
        // not JSON: pass the text on as it is
      }
      return report(new IglooError("E_HTTP", `${what}: the server could not run the view: ${message}`), true);
    }
    if (event.type !== "rows") return;
    lastId = event.id;
    if (event.data === last) return;
    last = event.data;
    const rows = (JSON.parse(event.data) as { data: Row[] }).data;
    try {
      onRows(rows);
    } catch (error) {
      report(new IglooError("E_CALLBACK", `${what}: onRows threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error }), true);
    }
  };

  void followEvents(context, stop.signal, {
    what,
    path,
    headers: (): Record<string, string> => (lastId === "" ? {} : { "last-event-id": lastId }),
    onEvent: deliver,
    report,
  }).then(close);

  function close(): void {
    context.closed.removeEventListener("abort", onClientClose);
    stop.abort();
  }
  return { close };
}

/** What a follower of an event stream says and does (followEvents). */
export interface EventFollower {
  /** Names the stream in errors: `subscription to top_pages`. */
  readonly what: string;
  readonly path: string;
  /** Headers of each (re)connection, besides `accept`. */
  headers?(): Record<string, string>;
  /** Sees each answer first; true when it dealt with it and following should end. */
  intercept?(response: Response): boolean;
  onEvent(event: ServerEvent): void;
  report(error: IglooError, willRetry: boolean): void;
}

/**
 * Follows an event stream until `stop` aborts: connects, reads events, and on a dropped
 * connection, a silence past the idle timeout or a refusal worth retrying, reconnects
 * with backoff (honouring Retry-After). Resolves when it stops: `stop` aborted, or a
 * refusal a retry would get again (reported with willRetry false), or `intercept`.
 */
export async function followEvents(context: SubscriptionContext, stop: AbortSignal, follower: EventFollower): Promise<void> {
  const { what } = follower;
  for (let attempt = 0; !stop.aborted; attempt++) {
    let retryAfter: number | undefined;
    const connection = new AbortController();
    const abortConnection = () => connection.abort();
    stop.addEventListener("abort", abortConnection, { once: true });
    try {
      const response = await context.transport.request(follower.path, { headers: { accept: "text/event-stream", ...follower.headers?.() }, signal: connection.signal });
      if (follower.intercept?.(response)) return;
      if (response.status !== 200 || response.body === null) {
        const error = await errorFromResponse(response, what);
        if (permanent(response.status)) return follower.report(error, false);
        retryAfter = retryAfterMs(response.headers.get("retry-after"));
        follower.report(error, true);
      } else {
        await readEvents(response.body, connection, context.idleTimeoutMs, (event) => {
          attempt = 0;
          follower.onEvent(event);
        });
        follower.report(new IglooError("E_NETWORK", `${what}: the server ended the stream; reconnecting`), true);
      }
    } catch (error) {
      if (stop.aborted) return;
      const reason = connection.signal.aborted ? `no data for ${context.idleTimeoutMs} ms` : error instanceof Error ? error.message : String(error);
      follower.report(new IglooError("E_NETWORK", `${what}: the connection failed (${reason}); reconnecting`, { cause: error }), true);
    } finally {
      stop.removeEventListener("abort", abortConnection);
    }
    try {
      await sleep(nextDelay(attempt, retryAfter, context.backoff), stop);
    } catch {
      return;
    }
  }
}

/** Reads events until the body ends; aborts `connection` after `idleMs` without a byte. */
async function readEvents(body: ReadableStream<Uint8Array>, connection: AbortController, idleMs: number, onEvent: (event: ServerEvent) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new EventStreamParser();
  let idle: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      connection.abort();
      reader.cancel().catch(() => {});
    }, idleMs);
  };
  try {
    for (watch(); ; watch()) {
      const { value, done } = await reader.read();
      if (done) {
        if (connection.signal.aborted) throw new Error("aborted");
        return;
      }
      for (const event of parser.push(decoder.decode(value, { stream: true }))) onEvent(event);
    }
  } finally {
    clearTimeout(idle);
    reader.cancel().catch(() => {});
  }
}
