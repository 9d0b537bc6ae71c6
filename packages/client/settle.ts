/**
 * Handing outcomes to callers: each call's promise is resolved or rejected, and what
 * `send()` records come to goes to the onRejected and onError handlers (through
 * `Outcomes`, which the batcher guards so a throwing handler cannot stop it).
 */
import { IglooError } from "./errors.js";
import { isRun, One, type Call, type Item, type Run } from "./packing.js";
import type { IglooIngestOptions, IglooRejection } from "./ingestTypes.js";
import type { Rejection } from "./verdicts.js";

/** Where what `send()` records come to is reported. */
export interface Outcomes {
  /** A record the server rejected, as its JSON. */
  rejected(text: string, message: string): void;
  /** A failure of `send()` records, once per failed batch. */
  lost(error: IglooError): void;
}

/**
 * The onRejected and onError handlers of `options` (read when called), each guarded: a
 * handler's own error must not stop the batcher, so it is logged and sending goes on.
 */
export function handlers(model: string, options: IglooIngestOptions): Outcomes {
  const report = (handler: () => void) => {
    try {
      handler();
    } catch (error) {
      console.error(`igloo client: an ingest ${model} handler threw (${error instanceof Error ? error.message : String(error)}); sending goes on`);
    }
  };
  return {
    rejected: (text, message) => report(() => (options.onRejected ?? defaultOnRejected)({ model, record: JSON.parse(text) as unknown, message })),
    lost: (error) => report(() => (options.onError ?? defaultOnError)(error)),
  };
}

function defaultOnRejected(rejection: IglooRejection): void {
  console.warn(`igloo client: ingest ${rejection.model} rejected a record given to send(): ${rejection.message}`);
}

function defaultOnError(error: IglooError): void {
  console.error(`igloo client: ${error.message}`);
}

/**
 * A stored request's verdict, given to its segments' callers (see `rejectionsBySegment`
 * for `rejections`). A call spanning several requests is answered with the last one.
 */
export function settleStored(segments: readonly (Run | Call)[], counts: readonly number[], ones: number, rejections: readonly (Rejection[] | undefined)[] | undefined, token: string, outcomes: Outcomes): void {
  for (let s = 0; s < segments.length; s++) {
    const item = segments[s]!;
    const errors = rejections?.[s];
    if (!isRun(item)) settleCall(item, counts[s]!, errors, token, outcomes);
    // A run of send() records with nothing rejected has nobody to tell.
    else if (errors !== undefined || ones > 0) settleRun(item, errors ?? [], token, outcomes);
  }
}

function settleRun(run: Run, errors: readonly Rejection[], token: string, outcomes: Outcomes): void {
  let next = 0;
  for (let i = 0; i < run.length; i++) {
    const one = run[i]!;
    const reason = errors[next]?.index === i ? errors[next++]!.message : undefined;
    if (typeof one !== "string") {
      const own = reason === undefined ? [] : [{ index: 0, message: reason }];
      one.resolve({ accepted: 1 - own.length, rejected: own.length, errors: own, token });
    } else if (reason !== undefined) outcomes.rejected(one, reason);
  }
}

function settleCall(call: Call, count: number, errors: readonly Rejection[] | undefined, token: string, outcomes: Outcomes): void {
  const rejected = errors?.length ?? 0;
  if (errors !== undefined) (call.errors ??= []).push(...errors);
  call.accepted += count - rejected;
  call.rejected += rejected;
  // Batches of one model go one after another, so the last token covers the earlier ones.
  call.token = token;
  call.unanswered -= count;
  if (call.unanswered !== 0 || call.settled) return;
  call.settled = true;
  if (call.resolve) call.resolve({ accepted: call.accepted, rejected: call.rejected, errors: call.errors ?? [], token });
  else if (call.errors) for (const { index, message } of call.errors) outcomes.rejected(call.texts[index]!, message);
}

/** Rejects every call among `items` not yet answered; `send()` records are reported once, together. */
export function rejectAll(items: readonly (Item | Run)[], error: IglooError, outcomes: Outcomes): void {
  let sent = 0;
  const single = (item: One | string) => {
    if (typeof item === "string") sent++;
    else item.reject(error);
  };
  for (const item of items) {
    if (typeof item === "string" || item instanceof One) {
      single(item);
      continue;
    }
    if (isRun(item)) {
      item.forEach(single);
      continue;
    }
    if (item.settled) continue;
    item.settled = true;
    const { accepted, rejected } = item;
    const size = item.texts.length;
    if (!item.reject) sent += size - accepted - rejected;
    else if (accepted + rejected === 0) item.reject(error);
    else item.reject(restated(error, `${error.message} (of this call's ${size} records, ${accepted} had already been accepted and ${rejected} rejected in earlier batches)`));
  }
  if (sent > 0) outcomes.lost(restated(error, `${error.message} (${sent} records given to send())`));
}

/** The same failure in other words: its code and status kept, the original as its cause. */
function restated(error: IglooError, message: string): IglooError {
  return new IglooError(error.code, message, error.status === undefined ? { cause: error } : { status: error.status, cause: error });
}
