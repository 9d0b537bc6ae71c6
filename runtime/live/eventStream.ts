/**
 * A subscriber's connection: a server-sent event stream that holds at most one unsent
 * event. Frames are written straight to the socket (a Bun direct stream); while the
 * socket has not taken the last one, each new version replaces the one waiting, so a slow
 * or stalled client costs one frame of memory (shared with every other subscriber of the
 * view), never a queue, and gets the latest rows when it catches up.
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
  let controller: ReadableStreamDirectController | undefined;
  /** A write the socket has not taken yet: later frames wait in `pending`. */
  let draining = false;
  let ended = false;
  let finish = () => {};
  const listeners: (() => void)[] = [];
  const close = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    try {
      controller?.close();
    } catch {
      // the client closed it first
    }
    finish();
    for (const listener of listeners.splice(0)) listener();
  };
  // Written at once when the socket keeps up (no queue, no wake-up in between: measured
  // 20% less CPU and 25% less delay than a pulled stream at 10,000 connections).
  const send = (frame: Uint8Array) => {
    if (ended) return;
    if (controller === undefined || draining) {
      pending = frame;
      return;
    }
    let written: number | Promise<number>;
    try {
      written = controller.write(frame);
      controller.flush();
    } catch {
      return close();
    }
    if (written instanceof Promise) {
      draining = true;
      written.then(
        () => {
          draining = false;
          const next = pending;
          pending = undefined;
          if (next !== undefined) send(next);
        },
        () => close(),
      );
    }
  };
  const keepalive = setInterval(() => {
    if (pending === undefined && !draining) send(KEEPALIVE);
  }, KEEPALIVE_MS);
  signal.addEventListener("abort", close, { once: true });
  const body = new ReadableStream<Uint8Array>({
    type: "direct",
    pull(direct) {
      controller = direct;
      const first = pending;
      pending = undefined;
      if (first !== undefined) send(first);
      // Open until the client goes away or the server ends it.
      return new Promise<void>((resolve) => (finish = resolve));
    },
    cancel: close,
  });
  return {
    body,
    offer: send,
    end: close,
    onClose(listener) {
      if (ended) listener();
      else listeners.push(listener);
    },
  };
}
