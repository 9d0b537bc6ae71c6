/**
 * The stream seam: durable, ordered topics with consumer groups. Two implementations
 * pass one conformance suite (test/conformance/stream.ts): the embedded segment log
 * (`embedded/`) for `igloo dev`, and Kafka for production.
 *
 * Offsets are per partition, dense and start at 0, as in Kafka. Values are bytes; Igloo
 * stores one JSON document per record, so a value never contains a newline (JSON.stringify
 * escapes them), which lets the table writer join values into a JSONEachRow body.
 */

import { IglooError } from "../../conventions/errors.ts";

export interface StreamRecord {
  readonly offset: number;
  readonly key: string | undefined;
  readonly value: Uint8Array;
}

export interface ProducerRecord {
  readonly key?: string | undefined;
  readonly value: Uint8Array | string;
}

/** A run of consecutive records of one partition, delivered to a subscriber. */
export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly StreamRecord[];
  /** Offset of the first record. */
  readonly firstOffset: number;
  /** Offset after the last record: what the group commits once the batch is handled. */
  readonly nextOffset: number;
  /**
   * Set when this batch replays one whose handling was interrupted: the intent the
   * handler saved with `saveIntent` before the crash. The batch then holds exactly the
   * records it held the first time.
   */
  readonly replayedIntent: string | undefined;
  /**
   * Durably records, before any side effect, that this exact batch is being handled. If
   * the process dies before the batch is committed, the group's next consumer gets the
   * same records again, as one batch, with `replayedIntent` set. This is what lets the
   * table writer retry an insert with the same deduplication token.
   */
  saveIntent(intent: string): Promise<void>;
}

export interface SubscribeOptions {
  readonly topic: string;
  readonly group: string;
  /** Deliver a batch once this many records are waiting... */
  readonly maxBatchRecords: number;
  /** ...or once the oldest waiting record has waited this long. */
  readonly maxWaitMs: number;
  /**
   * Called with each batch; the group's offset is committed after it resolves. A throw
   * stops nothing: the batch is offered again after `retryDelayMs` (at-least-once).
   */
  readonly handle: (batch: RecordBatch) => Promise<void>;
  /** Called when `handle` throws, before the retry. */
  readonly onError?: (error: unknown, batch: RecordBatch) => void;
  readonly retryDelayMs?: number;
  /**
   * Where a group that has committed nothing yet starts: the topic's first record
   * (default), or its end (only records appended from now on).
   */
  readonly startAt?: "earliest" | "latest";
}

export interface Subscription {
  /** Stops after the batch in hand, if any, is handled and committed. */
  close(): Promise<void>;
}

/**
 * Where an append's records went: for each partition it wrote to, the offset after its
 * last record there. Once a consumer group committed past these, it has them all: this is
 * what read-your-writes tokens are made of.
 */
export type AppendResult = ReadonlyMap<number, number>;

export interface TopicOptions {
  readonly partitions?: number;
}

export interface CommittedOffset {
  readonly offset: number;
  readonly intent: string | undefined;
}

export interface Stream {
  /**
   * Whether programs other than Igloo may write to the topics (any Kafka client can). Then
   * consumers check each record against its model instead of trusting that ingest did.
   */
  readonly external: boolean;
  /** Creates the topic if it does not exist; a no-op when it does. */
  ensureTopic(topic: string, options?: TopicOptions): Promise<void>;
  /**
   * Appends records; resolves once they are durable (survive a crash of this process and,
   * where the engine allows, of the machine). Rejects with `StreamUnavailableError` when
   * the stream cannot take writes. The embedded log then stored none of the records; with
   * Kafka a timed-out append may still have been stored, so a retry is at-least-once.
   */
  append(topic: string, records: readonly ProducerRecord[]): Promise<AppendResult>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** The offset the group will resume from, per partition. */
  committed(topic: string, group: string): Promise<ReadonlyMap<number, CommittedOffset>>;
  /** Offset after the last record, per partition. */
  endOffsets(topic: string): Promise<ReadonlyMap<number, number>>;
  /** Stops subscriptions, flushes and releases files or connections. */
  close(): Promise<void>;
}

export class StreamUnavailableError extends IglooError {
  /**
   * The records may have been stored all the same: the request reached the engine and
   * its answer did not come back (a Kafka produce that timed out). When false, nothing
   * of the append was stored.
   */
  readonly maybeStored: boolean;
  constructor(message: string, options: { cause?: unknown; maybeStored?: boolean } = {}) {
    super("E_STREAM_UNAVAILABLE", message, { cause: options.cause, kind: options.maybeStored ? "unknown_outcome" : "unavailable" });
    this.name = "StreamUnavailableError";
    this.maybeStored = options.maybeStored ?? false;
  }
}
