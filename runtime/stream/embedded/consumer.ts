import { BatchWait } from "../batchWait.ts";
import { messageOf, reportBatchError, retryDelayMs } from "../checks.ts";
import { handleUntilCommitted } from "../handleBatch.ts";
import type { RecordBatch, StreamRecord, SubscribeOptions, Subscription } from "../stream.ts";
import type { OffsetStore, StoredIntent } from "./offsets.ts";
import { READ_CHUNK_BYTES } from "./segmentFile.ts";
import type { ReadCursor, TopicLog } from "./topicLog.ts";

/**
 * One consumer group's subscription to a topic: a loop that waits for a batch, hands it
 * to `handle`, commits, and repeats; one batch in flight at a time.
 *
 * Waiting is event driven: the topic calls back after each durable flush, and a timer
 * covers `maxWaitMs`. Records are decoded from large reads into a buffer and handed out
 * as zero-copy views of the bytes read.
 */
export class TopicSubscription implements Subscription {
  #position: number;
  /** Decoded records [bufferedEnd - (buffered.length - head), bufferedEnd) not yet handed out. */
  #buffered: StreamRecord[] = [];
  #head = 0;
  #bufferedEnd: number;
  #cursor: ReadCursor | undefined;
  /** When the records below `end` became available, oldest first: drives `maxWaitMs`. */
  readonly #wait = new BatchWait();
  readonly #stopListening: () => void;
  readonly #done: Promise<void>;
  #closed: Promise<void> | undefined;
  readonly #topic: TopicLog;
  readonly #offsets: OffsetStore;
  readonly #options: SubscribeOptions;
  readonly #onClosed: () => void;

  constructor(topic: TopicLog, offsets: OffsetStore, options: SubscribeOptions, onClosed: () => void) {
    this.#topic = topic;
    this.#offsets = offsets;
    this.#options = options;
    this.#onClosed = onClosed;
    const committed = offsets.get(topic.name, options.group);
    this.#position = Math.max(committed?.offset ?? (options.startAt === "latest" ? topic.endOffset : 0), topic.startOffset);
    this.#bufferedEnd = this.#position;
    // Records already in the log waited long enough: a backlog is delivered at once.
    this.#wait.arrived(topic.endOffset, -Infinity);
    this.#stopListening = topic.onAppend(() => {
      this.#wait.arrived(topic.endOffset);
    });
    // A group that starts at the end remembers where, so a restart does not move it on.
    const pin = committed === undefined && options.startAt === "latest" ? this.#position : undefined;
    this.#done = this.#run(committed?.intent, pin);
  }

  get topicName(): string {
    return this.#options.topic;
  }

  /** The lowest offset this group still needs: retention keeps it. */
  get position(): number {
    return this.#position;
  }

  /**
   * Stops once the batch in hand (if any) is handled and committed; a batch waiting for a
   * retry is dropped uncommitted and comes back next time. Awaiting this from inside
   * `handle` would wait for itself.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#wait.stop();
      await this.#done;
      this.#onClosed();
    })();
    return this.#closed;
  }

  async #run(intent: StoredIntent | undefined, pin: number | undefined): Promise<void> {
    try {
      if (pin !== undefined && !(await this.#withRetry(async () => (await this.#offsets.commit(this.#options.topic, this.#options.group, pin), true)))) return;
      if (intent) {
        // Replay the interrupted batch exactly, whatever maxBatchRecords is now.
        while (!this.#wait.stopped && this.#topic.endOffset < intent.end) await this.#wait.sleep(undefined, true);
        if (this.#wait.stopped) return;
        const records = await this.#withRetry(() => this.#take(intent.offset, intent.end - intent.offset));
        if (!records) return;
        await this.#handleBatch(records, intent.intent);
      }
      while (!this.#wait.stopped) {
        const count = await this.#waitForBatch();
        if (count === 0) return;
        const records = await this.#withRetry(() => this.#take(this.#position, count));
        if (!records) return;
        await this.#handleBatch(records, undefined);
      }
    } finally {
      this.#stopListening();
    }
  }

  /** How many records to deliver next (BatchWait.nextBatch); 0 on close. */
  #waitForBatch(): Promise<number> {
    return this.#wait.nextBatch(this.#options, () => ({ count: this.#topic.endOffset - this.#position, first: this.#position }));
  }

  /** Exactly `count` records from `from`, which the log holds durably. */
  async #take(from: number, count: number): Promise<StreamRecord[]> {
    if (this.#bufferedEnd - (this.#buffered.length - this.#head) !== from) {
      this.#buffered = [];
      this.#head = 0;
      this.#bufferedEnd = from;
      this.#cursor = undefined;
    }
    while (this.#buffered.length - this.#head < count) {
      const cursor = this.#cursor ?? (await this.#topic.seek(this.#bufferedEnd));
      const read = await this.#topic.read(cursor, READ_CHUNK_BYTES, this.#bufferedEnd);
      this.#cursor = read.cursor;
      const first = read.records[0];
      if (first === undefined) {
        if (read.cursor.offset > cursor.offset) continue; // skipped records before bufferedEnd
        throw new Error(`topic "${this.#topic.name}" ends at offset ${this.#bufferedEnd}, before ${from + count}`);
      }
      if (first.offset !== this.#bufferedEnd) {
        throw new Error(`topic "${this.#topic.name}": read offset ${first.offset} where ${this.#bufferedEnd} was expected`);
      }
      this.#buffered = this.#head === 0 ? this.#buffered.concat(read.records) : this.#buffered.slice(this.#head).concat(read.records);
      this.#head = 0;
      this.#bufferedEnd += read.records.length;
    }
    const records = this.#buffered.slice(this.#head, this.#head + count);
    this.#head += count;
    return records;
  }

  /** Handles a batch until it succeeds and is committed, or the subscription closes. */
  async #handleBatch(records: StreamRecord[], replayedIntent: string | undefined): Promise<void> {
    const { topic, group, handle } = this.#options;
    const firstOffset = records[0]?.offset ?? this.#position;
    const nextOffset = firstOffset + records.length;
    await handleUntilCommitted({
      topic,
      partition: 0,
      records,
      firstOffset,
      nextOffset,
      where: `"${topic}"`,
      replayedIntent,
      handle,
      saveIntent: (intent) => this.#offsets.saveIntent(topic, group, { offset: firstOffset, end: nextOffset, intent }),
      commit: (batch) => this.#commit(batch),
      report: (error, batch) => this.#report(error, batch),
      stopping: () => this.#wait.stopped,
      pause: () => this.#wait.sleep(retryDelayMs(this.#options), false),
    });
  }

  /** Commits durably, retrying on I/O errors until it works or the subscription closes. */
  async #commit(batch: RecordBatch): Promise<boolean> {
    for (;;) {
      try {
        await this.#offsets.commit(batch.topic, this.#options.group, batch.nextOffset);
        this.#position = batch.nextOffset;
        this.#topic.scheduleRetention();
        return true;
      } catch (error) {
        this.#report(error, batch);
        if (this.#wait.stopped) return false;
        await this.#wait.sleep(retryDelayMs(this.#options), false);
      }
    }
  }

  /** Runs a read, retrying after `retryDelayMs` on errors; undefined once closing. */
  async #withRetry<T>(read: () => Promise<T>): Promise<T | undefined> {
    while (!this.#wait.stopped) {
      try {
        return await read();
      } catch (error) {
        this.#cursor = undefined;
        this.#buffered = [];
        this.#head = 0;
        console.error(`igloo stream: reading "${this.#topic.name}" for group "${this.#options.group}" failed: ${messageOf(error)}`);
        await this.#wait.sleep(retryDelayMs(this.#options), false);
      }
    }
    return undefined;
  }

  #report(error: unknown, batch: RecordBatch): void {
    reportBatchError(this.#options, error, batch, (message) => console.error(`igloo stream: ${message}`));
  }
}
