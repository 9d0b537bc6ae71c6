import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { messageOf, reportBatchError, retryDelayMs } from "../checks.ts";
import type { RecordBatch, StreamRecord, SubscribeOptions, Subscription } from "../stream.ts";
import { isGroupMovedError, PartitionRevokedError, streamError } from "./errors.ts";
import { readCommitted } from "./intents.ts";
import type { CommittedPosition } from "./intents.ts";
import { Membership } from "./membership.ts";
import { PartitionConsumer } from "./partitionConsumer.ts";
import type { PartitionHost } from "./partitionConsumer.ts";

export interface SubscriptionContext {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly sessionTimeoutMs: number;
  readonly warn: (message: string) => void;
}

/**
 * How long one fetch waits on the broker for new records. It also bounds how long a
 * resumed partition or a close waits for the fetch in flight, hence well under kafkajs's 5 s.
 */
const FETCH_WAIT_MS = 200;
/** A commit refused because the group moved is tried again after this, if no rejoin came first. */
const GROUP_MOVED_RETRY_MS = 500;
const EMPTY = new Uint8Array(0);

/**
 * One subscription: one kafkajs consumer, one member of the group. kafkajs fetches (and
 * heartbeats) in its own loop; `eachBatch` only feeds the fetched records to the
 * partition's PartitionConsumer and returns, so a slow `handle` on one partition neither
 * stalls the others nor the heartbeat. Offsets are resolved for kafkajs's fetch position
 * only; commits are explicit, after `handle`, with autocommit off.
 *
 * The compromise: kafkajs rejoins a rebalance without waiting for batches in hand (the Java
 * client would, in onPartitionsRevoked), so a partition's new owner may start on a batch
 * this member is still handling. This member then does not commit it (see membership.ts),
 * and the intent it saved gives the new owner's replay the same deduplication token.
 */
export class KafkaSubscription implements Subscription, PartitionHost {
  readonly options: SubscribeOptions;
  readonly #context: SubscriptionContext;
  readonly #consumer: Consumer;
  readonly #membership = new Membership();
  /** The current consumer of each partition assigned to this member. */
  readonly #partitions = new Map<number, PartitionConsumer>();
  /** Every partition consumer not finished yet, including those of revoked partitions. */
  readonly #running = new Set<PartitionConsumer>();
  /** Commits in flight, per partition, marked once kafkajs reports them sent and accepted. */
  readonly #confirmations = new Map<number, { offset: string; confirmed: boolean }>();
  readonly #stopListening: (() => void)[] = [];
  readonly #closingSignal = Promise.withResolvers<void>();
  #closing = false;
  #closed: Promise<void> | undefined;

  private constructor(context: SubscriptionContext, options: SubscribeOptions) {
    this.#context = context;
    this.options = options;
    const sessionTimeout = context.sessionTimeoutMs;
    this.#consumer = context.kafka.consumer({
      groupId: options.group,
      sessionTimeout,
      // kafkajs heartbeats between fetches; a short interval also makes this member notice
      // (and so finish) a rebalance sooner.
      heartbeatInterval: Math.min(1000, Math.floor(sessionTimeout / 3)),
      maxWaitTimeInMs: FETCH_WAIT_MS,
      allowAutoTopicCreation: false,
    });
    this.#listen();
  }

  /** Joins the group; resolves once the first assignment arrived. */
  static async start(context: SubscriptionContext, options: SubscribeOptions): Promise<KafkaSubscription> {
    const subscription = new KafkaSubscription(context, options);
    try {
      await subscription.#consumer.connect();
      await subscription.#consumer.subscribe({ topics: [options.topic], fromBeginning: options.startAt !== "latest" });
      await subscription.#run();
    } catch (error) {
      await subscription.close();
      throw streamError(`subscribe group "${options.group}" to topic "${options.topic}"`, options.topic, error);
    }
    return subscription;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Stops once every partition's batch in hand is handled and committed (batches waiting
   * for a retry are dropped uncommitted), then leaves the group.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      this.#closingSignal.resolve();
      this.#membership.wake();
      for (const partition of this.#running) partition.stop();
      await Promise.all([...this.#running].map((partition) => partition.done));
      await this.#consumer.disconnect().catch((error: unknown) => this.warn(`leaving group "${this.options.group}" failed: ${messageOf(error)}`));
      for (const stop of this.#stopListening) stop();
    })();
    return this.#closed;
  }

  async readCommitted(partition: number): Promise<CommittedPosition> {
    const committed = await readCommitted(this.#context.admin, this.options.topic, this.options.group);
    return committed.get(partition) ?? { offset: undefined, intent: undefined };
  }

  async commit(partition: number, offset: number, metadata: string | null): Promise<void> {
    const { topic } = this.options;
    const membership = this.#membership;
    for (;;) {
      if (!membership.assigned.has(partition)) throw new PartitionRevokedError(topic, partition);
      if (!membership.stable) {
        if (this.#closing) throw new Error(`not committed: the group "${this.options.group}" is rebalancing while closing`);
        await membership.changed();
        continue;
      }
      const generation = membership.generation;
      const expected = { offset: String(offset), confirmed: false };
      this.#confirmations.set(partition, expected);
      try {
        await this.#consumer.commitOffsets([{ topic, partition, offset: expected.offset, metadata }]);
      } catch (error) {
        if (!isGroupMovedError(error) && membership.generation === generation && membership.stable) throw error;
      } finally {
        if (this.#confirmations.get(partition) === expected) this.#confirmations.delete(partition);
      }
      // kafkajs returns without committing while its consumer stops (e.g. after a crash),
      // hence the confirmation from its COMMIT_OFFSETS event rather than the promise.
      if (expected.confirmed) return;
      if (this.#closing) throw new Error(`not committed: the group "${this.options.group}" changed while closing`);
      if (membership.generation === generation) await Promise.race([membership.changed(), Bun.sleep(GROUP_MOVED_RETRY_MS)]);
    }
  }

  resume(partition: number): void {
    try {
      this.#consumer.resume([{ topic: this.options.topic, partitions: [partition] }]);
    } catch {
      // The consumer is between runs (restarting after a crash); a new run starts unpaused.
    }
  }

  report(error: unknown, batch: RecordBatch): void {
    reportBatchError(this.options, error, batch, (message) => this.warn(message));
  }

  warn(message: string): void {
    this.#context.warn(message);
  }

  delay(ms: number): Promise<void> {
    return Promise.race([Bun.sleep(ms), this.#closingSignal.promise]);
  }

  #run(): Promise<void> {
    return this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => this.#feed(payload),
    });
  }

  #feed({ batch, resolveOffset, pause }: EachBatchPayload): void {
    const partition = this.#partitions.get(batch.partition);
    const last = batch.messages[batch.messages.length - 1];
    if (this.#closing || partition === undefined) {
      // Not resolved, so fetched again by whoever owns the partition next.
      pause();
      return;
    }
    if (last === undefined) return;
    const full = partition.feed(batch.messages.map(toStreamRecord));
    resolveOffset(last.offset);
    if (full) pause();
  }

  #joined(assigned: readonly number[]): void {
    this.#membership.joined(assigned);
    const previous = new Map(this.#partitions);
    this.#partitions.clear();
    for (const partition of previous.values()) partition.stop();
    if (this.#closing) return;
    // Every partition starts over from its committed offset after a rebalance, even one
    // this member keeps: in between, another member may have owned it and saved an intent.
    for (const number of assigned) {
      const partition = new PartitionConsumer(number, this, previous.get(number));
      this.#partitions.set(number, partition);
      this.#running.add(partition);
      void partition.done.finally(() => this.#running.delete(partition));
    }
  }

  #listen(): void {
    const consumer = this.#consumer;
    const { events } = consumer;
    const { topic } = this.options;
    const unsettled = () => this.#membership.unsettled();
    this.#stopListening.push(
      consumer.on(events.GROUP_JOIN, ({ payload }) => this.#joined(payload.memberAssignment[topic] ?? [])),
      consumer.on(events.REBALANCING, unsettled),
      consumer.on(events.STOP, unsettled),
      // The JoinGroup answer comes before kafkajs switches to the new generation: from here
      // on a commit could land under it, for a partition that may be another member's now.
      consumer.on(events.REQUEST, ({ payload }) => {
        if (payload.apiName === "JoinGroup") unsettled();
      }),
      consumer.on(events.COMMIT_OFFSETS, ({ payload }) => {
        for (const committed of payload.topics) {
          if (committed.topic !== topic) continue;
          for (const { partition, offset } of committed.partitions) {
            const expected = this.#confirmations.get(Number(partition));
            if (expected && expected.offset === String(offset)) expected.confirmed = true;
          }
        }
      }),
      consumer.on(events.CRASH, ({ payload }) => {
        unsettled();
        if (payload.restart || this.#closing) return;
        // kafkajs gives up on errors it deems permanent (a deleted topic, refused
        // credentials); keep trying, as the embedded log does, so that fixing the cause
        // is enough.
        this.warn(`the consumer of group "${this.options.group}" on "${topic}" crashed: ${messageOf(payload.error)}; restarting`);
        void this.delay(retryDelayMs(this.options)).then(() => {
          if (!this.#closing) this.#run().catch((error: unknown) => this.warn(`restarting the consumer failed: ${messageOf(error)}`));
        });
      }),
    );
  }
}

function toStreamRecord(message: KafkaMessage): StreamRecord {
  return {
    offset: Number(message.offset),
    key: message.key === null ? undefined : message.key.toString("utf8"),
    value: message.value ?? EMPTY,
  };
}
