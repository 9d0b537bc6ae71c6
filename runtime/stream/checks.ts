/**
 * What both engines check of their callers (names, subscriptions, record values, numeric
 * settings) and how both treat an error reporter that throws: one home, so the embedded
 * log and Kafka refuse the same mistakes with the same words.
 */
import { IglooError } from "../../conventions/errors.ts";
import type { ProducerRecord, RecordBatch, SubscribeOptions } from "./stream.ts";

/** How long a batch whose handling threw waits before it is offered again, unless `retryDelayMs` says. */
const DEFAULT_RETRY_DELAY_MS = 1000;
const NAME = /^[A-Za-z0-9_.-]+$/;
const NEWLINE = 0x0a;

/**
 * A name the engine can use for a topic (or, in the embedded log, a group): it is a file
 * name there, so "." and ".." are out. Kafka also caps topic names at 249 characters.
 */
export function isStreamName(name: string, maxLength = Infinity): boolean {
  return NAME.test(name) && name.length <= maxLength && name !== "." && name !== "..";
}

export function checkStreamName(kind: "topic" | "group", name: string, maxLength = Infinity): void {
  if (typeof name === "string" && isStreamName(name, maxLength)) return;
  const rule = maxLength === Infinity ? `use letters, digits, "_", "." and "-" only` : `use 1 to ${maxLength} letters, digits, "_", "." and "-"`;
  throw new IglooError("E_STREAM_NAME", `Invalid ${kind} name ${JSON.stringify(name)}: ${rule} (not "." or "..").`);
}

/** The batching and retry settings of a subscription; names are the engine's to check. */
export function checkSubscribeOptions(options: SubscribeOptions): void {
  if (!Number.isSafeInteger(options.maxBatchRecords) || options.maxBatchRecords < 1) {
    throw new RangeError(`maxBatchRecords must be a positive integer, got ${options.maxBatchRecords}`);
  }
  if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
  if (options.retryDelayMs !== undefined && !(options.retryDelayMs >= 0)) {
    throw new RangeError(`retryDelayMs must be >= 0, got ${options.retryDelayMs}`);
  }
}

export function retryDelayMs(options: SubscribeOptions): number {
  return options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
}

/** Gives a batch's error to the subscriber's `onError`; a reporter that throws is warned about and never stops the consume loop. */
export function reportBatchError(options: SubscribeOptions, error: unknown, batch: RecordBatch, warn: (message: string) => void): void {
  try {
    options.onError?.(error, batch);
  } catch (reporterError) {
    warn(`onError for group "${options.group}" threw: ${messageOf(reporterError)}`);
  }
}

/**
 * Values are single JSON documents: the table writer joins them with newlines, so a value
 * holding one would split into two rows.
 */
export function checkValue(value: ProducerRecord["value"]): void {
  const hasNewline = typeof value === "string" ? value.includes("\n") : value.indexOf(NEWLINE) !== -1;
  if (hasNewline) {
    throw new TypeError(
      "A stream record value contains a newline byte (0x0A). Values are single JSON documents; serialize them with JSON.stringify, which escapes newlines.",
    );
  }
}

/** An engine option that must be a positive integer when given. */
export function positiveInteger(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
