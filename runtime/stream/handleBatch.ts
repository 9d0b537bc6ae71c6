import { failpoint } from "../failpoints.ts";
import type { RecordBatch, StreamRecord } from "./stream.ts";

/** What an engine's consumer gives `handleUntilCommitted` for one batch. */
export interface BatchDelivery {
  readonly topic: string;
  readonly partition: number;
  readonly records: StreamRecord[];
  readonly firstOffset: number;
  readonly nextOffset: number;
  /** How the batch's place is named in errors, e.g. `"events" partition 3`. */
  readonly where: string;
  /** The intent saved by an earlier attempt that did not commit, if any. */
  readonly replayedIntent: string | undefined;
  readonly handle: (batch: RecordBatch) => Promise<void>;
  /** Stores a handler's intent durably, the engine's way. */
  readonly saveIntent: (intent: string) => Promise<void>;
  /** Commits the handled batch; false when it could not be (the consumer stops or lost it). */
  readonly commit: (batch: RecordBatch) => Promise<boolean>;
  readonly report: (error: unknown, batch: RecordBatch) => void;
  readonly stopping: () => boolean;
  /** Waits before the next attempt (waking early when the consumer stops). */
  readonly pause: () => Promise<void>;
}

/**
 * Handles a batch until it succeeds and is committed, or the consumer stops: the loop
 * both engines' consumers share. An in-process retry is a replay too, so each attempt is
 * given the intent the previous one saved.
 */
export async function handleUntilCommitted(delivery: BatchDelivery): Promise<void> {
  const { topic, partition, records, firstOffset, nextOffset } = delivery;
  let savedIntent = delivery.replayedIntent;
  let committed = false;
  let attempt = 0;
  for (;;) {
    const batch: RecordBatch = {
      topic,
      partition,
      records,
      firstOffset,
      nextOffset,
      replayedIntent: savedIntent,
      saveIntent: async (intent: string) => {
        if (committed) throw new Error(`batch [${firstOffset}, ${nextOffset}) of ${delivery.where} is already committed`);
        await delivery.saveIntent(intent);
        savedIntent = intent;
      },
    };
    let handled = false;
    try {
      await delivery.handle(batch);
      handled = true;
    } catch (error) {
      delivery.report(error, batch);
    }
    if (handled) {
      committed = await delivery.commit(batch);
      if (committed) failpoint("stream.afterCommit");
      return;
    }
    // Backoff: 1, 2, 4, then 5 pauses between attempts, so a fault that lasts (a full
    // disk, a dead engine) is not hammered, and its end is noticed within 5 pauses.
    for (let i = 0; i < Math.min(2 ** attempt, 5); i++) {
      if (delivery.stopping()) return;
      await delivery.pause();
    }
    attempt++;
    if (delivery.stopping()) return;
  }
}
