/**
 * A fix to kafkajs 2.2.4 (unmaintained): each broker connection's request queue, after
 * every response, schedules a check of its pending requests even when none is pending,
 * with a delay of `throttledUntil - Date.now()`. Unthrottled, that is about -Date.now():
 * Node and Bun print a `TimeoutNegativeWarning` for it, run it after 1 ms, and the check
 * schedules the next one, so every connection wakes up about a thousand times a second
 * for as long as it lives.
 *
 * The check exists for requests held back by client-side throttling; requests held back
 * by the in-flight limit are sent when a response arrives. So: schedule it only when a
 * request is pending, after the throttle ends (or 10 ms, kafkajs's own interval, when
 * the throttle is already over), never with a negative delay.
 */
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";

/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

interface QueueInternals {
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

const prototype = (RequestQueue as unknown as { prototype: QueueInternals }).prototype;
if (typeof prototype?.scheduleCheckPendingRequests !== "function" || typeof prototype.checkPendingRequests !== "function") {
  // A kafkajs whose internals differ: fail loudly rather than run with the busy loop.
  throw new Error("kafkajs's RequestQueue has no scheduleCheckPendingRequests/checkPendingRequests: runtime/stream/kafka/requestQueueFix.ts needs updating for this kafkajs version");
}

prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: QueueInternals): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS,
  );
};
