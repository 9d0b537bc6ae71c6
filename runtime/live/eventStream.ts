/**
 * A subscriber's connection: a server-sent event stream that holds at most one unsent
 * event. The socket pulls; when a subscriber reads slower than the rows change, each new
 * version replaces the one still waiting, so a slow or stalled client costs one frame of
 * memory (shared with every other subscriber of the view), never a queue, and gets the
 * latest rows when it catches up.
 */
import type { Sink } from "./feed.ts";

const encoder = new TextEncoder();
const KEEPALIVE = encoder.encode(": keepalive\n\n");
// Under Bun.serve's idle timeout, so a quiet subscription is not cut.
const KEEPALIVE_MS = 5_000;

export const EVENT_STREAM_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" } as const;

export interface EventConnection extends Sink {
  readonly body: ReadableStream<Uint8Array>;
  /** Called once when the client goes away or the stream ends. */
  onClose(listener: () => void): void;
}

export function eventConnection(signal: AbortSignal): EventConnection {
  let pending: Uint8Array | undefined;
  let wake: (() => void) | undefined;
  let ended = false;
  const listeners: (() => void)[] = [];
  const close = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    wake?.();
    for (const listener of listeners.splice(0)) listener();
  };
  const offer = (frame: Uint8Array) => {
    if (ended) return;
    pending = frame;
    wake?.();
  };
  const keepalive = setInterval(() => {
    if (pending === undefined) offer(KEEPALIVE);
  }, KEEPALIVE_MS);
  signal.addEventListener("abort", close, { once: true });
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        while (pending === undefined && !ended) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (ended) {
          try {
            controller.close();
          } catch {
            // the client closed it first
          }
          return;
        }
        controller.enqueue(pending!);
        pending = undefined;
      },
      cancel: close,
    },
    // Nothing is read ahead of the socket: what waits is `pending`, one frame.
    { highWaterMark: 0 },
  );
  return {
    body,
    offer,
    end: close,
    onClose(listener) {
      if (ended) listener();
      else listeners.push(listener);
    },
  };
}
