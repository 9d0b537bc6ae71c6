import { BatchWait } from "../batchWait.ts";
import { messageOf, retryDelayMs } from "../checks.ts";
import { handleUntilCommitted } from "../handleBatch.ts";
import type { RecordBatch, StreamRecord, SubscribeOptions } from "../stream.ts";
import { PartitionRevokedError } from "./errors.ts";
import { encodeIntent } from "./intents.ts";
import type { CommittedPosition } from "./intents.ts";

/** Fetching pauses while this many bytes wait, whatever maxBatchRecords allows. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** What a partition consumer needs from its subscription. */
export interface PartitionHost {
  readonly options: SubscribeOptions;
  readonly closing: boolean;
  readCommitted(partition: number): Promise<CommittedPosition>;
  /** Commits for a partition this member owns; throws PartitionRevokedError when it no longer does. */
  commit(partition: number, offset: number, metadata: string | null): Promise<void>;
  /** Lets kafkajs fetch the partition again after `feed` asked for a pause. */
  resume(partition: number): void;
  report(error: unknown, batch: RecordBatch): void;
  warn(message: string): void;
  /** Waits `ms`, or less once the subscription closes. */
  delay(ms: number): Promise<void>;
}

/**
 * One partition, for one assignment: kafkajs fetches and `feed`s records in; this loop
 * cuts them into batches (maxBatchRecords or maxWaitMs, whichever comes first), hands one
 * batch at a time to `handle`, commits, and repeats. The same loop as the embedded log's
 * consumer, with Kafka's fetches in place of the log's reads.
 *
 * It starts from the committed offset, replaying a saved intent first, once the previous
 * consumer of the partition in this process (from before a rebalance) has finished its
 * batch in hand, so two never commit for one partition at once.
 */
export class PartitionConsumer {
  readonly partition: number;
  readonly done: Promise<void>;
  readonly #host: PartitionHost;
  /** Fed records not handed out yet: #records[#head...]. */
  #records: StreamRecord[] = [];
  #head = 0;
  #bytes = 0;
  /** Offset after the last record fed: a record below it is a refetch and dropped. */
  #end = -1;
  /** The committed offset: records below it are done and dropped. */
  #floor = -1;
  /** When the records below `end` were fed, oldest first: drives maxWaitMs. */
  /** Records to hold before pausing the fetch: a batch's worth, or a replayed batch's. */
  #limit: number;
  #paused = false;
  readonly #wait = new BatchWait();

  constructor(partition: number, host: PartitionHost, predecessor: PartitionConsumer | undefined) {
    this.partition = partition;
    this.#host = host;
    this.#limit = host.options.maxBatchRecords;
    this.done = this.#run(predecessor);
  }

  /** Takes fetched records in; returns true when the partition's fetching should pause. */
  feed(records: readonly StreamRecord[]): boolean {
    const before = this.#end;
    for (const record of records) {
      if (record.offset < this.#end || record.offset < this.#floor) continue;
      this.#records.push(record);
      this.#bytes += record.value.byteLength;
      this.#end = record.offset + 1;
    }
    if (this.#end !== before) {
      this.#wait.arrived(this.#end);
    }
    if (this.#full()) this.#paused = true;
    return this.#paused;
  }

  /** Stops after the batch in hand, if any, is handled and committed; a batch waiting for a retry is dropped. */
  stop(): void {
    this.#wait.stop();
  }

  async #run(predecessor: PartitionConsumer | undefined): Promise<void> {
    try {
      await predecessor?.done;
      const committed = await this.#retrying(() => this.#host.readCommitted(this.partition));
      if (committed === undefined) return;
      this.#startAt(committed.offset);
      const stored = committed.intent;
      if (stored) {
        // Replay the interrupted batch exactly, whatever maxBatchRecords is now.
        this.#limit = Math.max(this.#limit, stored.end - (committed.offset ?? 0));
        this.#resumeIfRoom();
        while (!this.#wait.stopped && this.#end < stored.end) await this.#wait.sleep(undefined, true);
        if (this.#wait.stopped) return;
        this.#limit = this.#host.options.maxBatchRecords;
        const records = this.#takeBelow(stored.end);
        if (records.length > 0) await this.#handleBatch(records, stored.intent);
      }
      while (!this.#wait.stopped) {
        const count = await this.#waitForBatch();
        if (count === 0) return;
        await this.#handleBatch(this.#take(count), undefined);
      }
    } catch (error) {
      this.#host.warn(`consuming partition ${this.partition} of "${this.#host.options.topic}" stopped: ${messageOf(error)}`);
    }
  }

  #startAt(offset: number | undefined): void {
    if (offset !== undefined) {
      this.#floor = offset;
      while (this.#head < this.#records.length && (this.#records[this.#head]?.offset ?? Infinity) < offset) {
        this.#bytes -= this.#records[this.#head]?.value.byteLength ?? 0;
        this.#head++;
      }
    }
    // The partition may still be paused by its consumer from before a rebalance.
    this.#paused = true;
    this.#resumeIfRoom();
  }

  /** How many records to deliver next (BatchWait.nextBatch); 0 on stop. */
  #waitForBatch(): Promise<number> {
    return this.#wait.nextBatch(this.#host.options, () => ({ count: this.#records.length - this.#head, first: this.#records[this.#head]?.offset ?? 0 }));
  }

  #take(count: number): StreamRecord[] {
    const records = this.#records.slice(this.#head, this.#head + count);
    this.#head += records.length;
    for (const record of records) this.#bytes -= record.value.byteLength;
    if (this.#head > 4096 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
    this.#resumeIfRoom();
    return records;
  }

  #takeBelow(end: number): StreamRecord[] {
    let count = 0;
    while ((this.#records[this.#head + count]?.offset ?? Infinity) < end) count++;
    return this.#take(count);
  }

  #full(): boolean {
    return this.#records.length - this.#head >= this.#limit || this.#bytes >= MAX_BUFFERED_BYTES;
  }

  #resumeIfRoom(): void {
    if (!this.#paused || this.#full()) return;
    this.#paused = false;
    this.#host.resume(this.partition);
  }

  /** Handles a batch until it succeeds and is committed, or this consumer stops. */
  async #handleBatch(records: StreamRecord[], replayedIntent: string | undefined): Promise<void> {
    const { topic, handle } = this.#host.options;
    const partition = this.partition;
    const firstOffset = records[0]?.offset ?? 0;
    const nextOffset = (records[records.length - 1]?.offset ?? -1) + 1;
    await handleUntilCommitted({
      topic,
      partition,
      records,
      firstOffset,
      nextOffset,
      where: `"${topic}" partition ${partition}`,
      replayedIntent,
      handle,
      saveIntent: (intent) => this.#host.commit(partition, firstOffset, encodeIntent(intent, nextOffset)),
      commit: (batch) => this.#commit(batch),
      report: (error, batch) => this.#host.report(error, batch),
      stopping: () => this.#wait.stopped,
      pause: () => this.#wait.sleep(retryDelayMs(this.#host.options), false),
    });
  }

  /**
   * Commits the handled batch, retrying on errors until it works, the partition is lost, or
   * the subscription closes. A rebalance does not stop it: if the partition stays ours,
   * the batch is committed under the new assignment.
   */
  async #commit(batch: RecordBatch): Promise<boolean> {
    for (;;) {
      try {
        await this.#host.commit(this.partition, batch.nextOffset, null);
        return true;
      } catch (error) {
        if (error instanceof PartitionRevokedError) return false;
        this.#host.report(error, batch);
        if (this.#host.closing) return false;
        await this.#host.delay(retryDelayMs(this.#host.options));
      }
    }
  }

  /** Runs a read, retrying after `retryDelayMs` on errors; undefined once stopping. */
  async #retrying<T>(read: () => Promise<T>): Promise<T | undefined> {
    while (!this.#wait.stopped) {
      try {
        return await read();
      } catch (error) {
        this.#host.warn(`reading the committed offset of partition ${this.partition} of "${this.#host.options.topic}" failed: ${messageOf(error)}; retrying`);
        await this.#wait.sleep(retryDelayMs(this.#host.options), false);
      }
    }
    return undefined;
  }
}
