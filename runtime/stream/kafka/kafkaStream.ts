import type { ConnectionOptions } from "node:tls";
import { Kafka, logLevel } from "kafkajs";
import type { Admin, LogEntry, Message, SASLOptions } from "kafkajs";
import { IglooError } from "../../../conventions/errors.ts";
import type { Logger } from "../../observability/logger.ts";
import { checkStreamName, checkSubscribeOptions, checkValue, messageOf, positiveInteger } from "../checks.ts";
import { StreamUnavailableError } from "../stream.ts";
import type { AppendResult, CommittedOffset, ProducerRecord, Stream, SubscribeOptions, Subscription, TopicOptions } from "../stream.ts";
import { streamError } from "./errors.ts";
import { readCommitted } from "./intents.ts";
import { murmur2, toPositive } from "./murmur2.ts";
import { AppendProducer } from "./producer.ts";
import { KafkaSubscription } from "./subscription.ts";
// Before any connection: without it every connection wakes up every millisecond.
import "./requestQueueFix.ts";

export interface KafkaStreamOptions {
  /** Bootstrap brokers, as "host:port". */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Partitions of a topic `ensureTopic` creates without being told. Default 3. */
  readonly partitions?: number;
  /**
   * Replicas of each topic `ensureTopic` creates. Unset: 3, or as many as the cluster has
   * brokers when fewer (with a warning). Set: exactly that many, and creating a topic on a
   * cluster with fewer brokers fails naming the setting.
   */
  readonly replicationFactor?: number;
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
  /** An append not acknowledged by then rejects with StreamUnavailableError. Default 5000. */
  readonly appendTimeoutMs?: number;
  /** A group member not heard from this long loses its partitions. Default 30000 (brokers accept 6000 to 300000). */
  readonly sessionTimeoutMs?: number;
  /** Receives the stream's warnings. Default: printed to stderr. */
  readonly logger?: Logger;
  /** Also give `logger` kafkajs's own warnings and errors, most of which it retries. Default false. */
  readonly logClient?: boolean;
}

/** Kafka's longest topic name. */
const MAX_TOPIC_LENGTH = 249;
/** How long `ensureTopic` waits for another caller's new topic to get its partition leaders. */
const LEADER_WAIT_MS = 10_000;
/** Replicas of a new topic when none is configured: what production Kafka clusters keep. */
const DEFAULT_REPLICATION_FACTOR = 3;
/** Where the replication factor is configured (src/config.ts). */
const REPLICATION_SETTING = "IGLOO_KAFKA_REPLICATION (kafka.replicationFactor in igloo.config.json)";

/**
 * The `Stream` seam on Apache Kafka (or anything speaking its protocol: only plain
 * produce, fetch, consumer-group and offset-commit APIs are used, which Redpanda
 * implements too), through kafkajs.
 *
 * - append: an idempotent producer, acks from all in-sync replicas, see producer.ts.
 * - subscribe: one kafkajs consumer per subscription, batching per partition, see
 *   subscription.ts and partitionConsumer.ts.
 * - intents: stored in the group's committed offset metadata, see intents.ts.
 */
export class KafkaStream implements Stream {
  /** Any Kafka client can produce into a model's topic. */
  readonly external = true;
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #partitions = new Map<string, Promise<number>>();
  #nextPartition = Math.floor(Math.random() * 1024);
  readonly #producer: AppendProducer;
  readonly #options: KafkaStreamOptions;
  readonly #subscriptions = new Set<KafkaSubscription>();
  #closing: Promise<void> | undefined;

  private constructor(kafka: Kafka, admin: Admin, producer: AppendProducer, options: KafkaStreamOptions) {
    this.#kafka = kafka;
    this.#admin = admin;
    this.#producer = producer;
    this.#options = options;
  }

  /** Connects an admin client and the producer; rejects with StreamUnavailableError when the brokers cannot be reached. */
  static async connect(options: KafkaStreamOptions): Promise<KafkaStream> {
    if (options.brokers.length === 0) throw new RangeError("KafkaStream needs at least one broker address");
    positiveInteger("partitions", options.partitions);
    positiveInteger("replicationFactor", options.replicationFactor);
    positiveInteger("appendTimeoutMs", options.appendTimeoutMs);
    positiveInteger("sessionTimeoutMs", options.sessionTimeoutMs);
    const kafka = new Kafka({
      clientId: options.clientId ?? "igloo",
      brokers: [...options.brokers],
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
      ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
      // Explicit, because kafkajs picks other defaults when NODE_ENV is "test".
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 8 },
      logLevel: options.logger && options.logClient ? logLevel.WARN : logLevel.NOTHING,
      logCreator: () => (entry) => forwardLog(options.logger, entry),
    });
    const admin = kafka.admin();
    const producer = new AppendProducer(kafka, options.appendTimeoutMs ?? 5000);
    try {
      await admin.connect();
      await producer.connect();
    } catch (error) {
      await Promise.allSettled([admin.disconnect(), producer.close()]);
      throw new StreamUnavailableError(`Could not connect to Kafka at ${options.brokers.join(", ")}: ${messageOf(error)}`, { cause: error });
    }
    return new KafkaStream(kafka, admin, producer, options);
  }

  async ensureTopic(topic: string, options: TopicOptions = {}): Promise<void> {
    checkTopic(topic);
    const numPartitions = options.partitions ?? this.#options.partitions ?? 3;
    positiveInteger("partitions", numPartitions);
    this.#checkOpen();
    try {
      // A topic cannot have more replicas than the cluster has brokers: the broker would
      // refuse it with nothing but "Topic creation errors".
      const brokers = (await this.#admin.describeCluster()).brokers.length;
      const configured = this.#options.replicationFactor;
      if (configured !== undefined && configured > brokers) {
        // One that exists already was made with what the cluster had then.
        if ((await this.#admin.listTopics()).includes(topic)) return await this.#waitForLeaders(topic);
        throw new IglooError(
          "E_KAFKA_REPLICATION",
          `Cannot create topic "${topic}" with ${configured} replicas: ${REPLICATION_SETTING} is ${configured}, but the Kafka cluster at ${this.#options.brokers.join(", ")} has ${plural(brokers, "broker")}.`,
          { hint: `Set ${REPLICATION_SETTING} to ${brokers} or less, or leave it unset to get min(3, number of brokers).` },
        );
      }
      const replicationFactor = configured ?? Math.min(DEFAULT_REPLICATION_FACTOR, brokers);
      const created = await this.#admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor }], waitForLeaders: true });
      // Created by someone else, maybe a moment ago: its leaders may not be elected yet.
      if (!created) await this.#waitForLeaders(topic);
      else if (configured === undefined && replicationFactor < DEFAULT_REPLICATION_FACTOR) {
        this.#warn(
          `topic "${topic}" was created with ${plural(replicationFactor, "replica")}, not ${DEFAULT_REPLICATION_FACTOR}, because the Kafka cluster has ${plural(brokers, "broker")}: ` +
            (replicationFactor === 1
              ? "each record is kept on that one broker only: while it is down the topic can be neither written nor read, and acknowledged records are lost with its disk. "
              : `each record is kept on ${replicationFactor} brokers, so the topic survives ${plural(replicationFactor - 1, "broker failure")}, not 2 as with 3 replicas. `) +
            `Add brokers and raise the topic's replicas, or set ${REPLICATION_SETTING} to choose the replication factor.`,
        );
      }
    } catch (error) {
      throw streamError(`create topic "${topic}"`, topic, error);
    }
  }

  /**
   * Partitions are chosen here rather than by kafkajs, so that the broker's answer says
   * exactly where each append's records went: keyed records by the key's murmur2 hash,
   * as Kafka's own clients do (the same key lands in the same partition whoever writes
   * it); an append's unkeyed records all go to one partition, the next append's to the
   * next (a sticky round robin: fewer, bigger record batches).
   */
  async append(topic: string, records: readonly ProducerRecord[]): Promise<AppendResult> {
    checkTopic(topic);
    this.#checkOpen();
    const messages = records.map(toMessage);
    if (messages.length === 0) return new Map();
    const partitions = await this.#partitionCount(topic);
    const sticky = (this.#nextPartition = (this.#nextPartition + 1) % partitions);
    const partitioned = messages.map((message) => ({
      ...message,
      partition: message.key === null || message.key === undefined ? sticky : toPositive(murmur2(message.key)) % partitions,
    }));
    return await this.#producer.send(topic, partitioned);
  }

  /** The topic's partitions, asked of the cluster once per topic. */
  #partitionCount(topic: string): Promise<number> {
    let known = this.#partitions.get(topic);
    if (!known) {
      known = this.#admin.fetchTopicMetadata({ topics: [topic] }).then(
        ({ topics }) => {
          const count = topics[0]?.partitions.length ?? 0;
          if (count < 1) throw new StreamUnavailableError(`Topic "${topic}" has no partitions (does it exist? ensureTopic creates it).`);
          return count;
        },
        (error: unknown) => {
          throw streamError(`look up the partitions of topic "${topic}"`, topic, error);
        },
      );
      this.#partitions.set(topic, known);
      known.catch(() => this.#partitions.delete(topic));
    }
    return known;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    checkTopic(options.topic);
    if (typeof options.group !== "string" || options.group === "") throw new RangeError("group must be a non-empty string");
    checkSubscribeOptions(options);
    this.#checkOpen();
    const subscription = await KafkaSubscription.start(
      {
        kafka: this.#kafka,
        admin: this.#admin,
        sessionTimeoutMs: this.#options.sessionTimeoutMs ?? 30_000,
        warn: (message) => this.#warn(message),
      },
      options,
    );
    this.#subscriptions.add(subscription);
    return {
      close: async () => {
        await subscription.close();
        this.#subscriptions.delete(subscription);
      },
    };
  }

  async committed(topic: string, group: string): Promise<ReadonlyMap<number, CommittedOffset>> {
    checkTopic(topic);
    try {
      const [positions, offsets] = await Promise.all([readCommitted(this.#admin, topic, group), this.#admin.fetchTopicOffsets(topic)]);
      const committed = new Map<number, CommittedOffset>();
      for (const { partition, low } of offsets.sort((a, b) => a.partition - b.partition)) {
        const position = positions.get(partition);
        // Without a commit (or below what retention kept) the group starts at the earliest record.
        const start = Number(low);
        committed.set(partition, { offset: Math.max(position?.offset ?? start, start), intent: position?.intent?.intent });
      }
      return committed;
    } catch (error) {
      throw streamError(`read the offsets group "${group}" committed for topic "${topic}"`, topic, error);
    }
  }

  async endOffsets(topic: string): Promise<ReadonlyMap<number, number>> {
    checkTopic(topic);
    try {
      const offsets = await this.#admin.fetchTopicOffsets(topic);
      return new Map(offsets.sort((a, b) => a.partition - b.partition).map(({ partition, high }) => [partition, Number(high)]));
    } catch (error) {
      throw streamError(`read the end offsets of topic "${topic}"`, topic, error);
    }
  }

  /** Closes subscriptions (after their batches in hand), waits for appends in flight, disconnects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
      await this.#producer.close();
      await this.#admin.disconnect().catch(() => {});
    })();
    return this.#closing;
  }

  #warn(message: string): void {
    if (this.#options.logger) this.#options.logger.warn(message);
    else console.error(`igloo stream: ${message}`);
  }

  #checkOpen(): void {
    if (this.#closing) throw new StreamUnavailableError("The stream is closed.");
  }

  async #waitForLeaders(topic: string): Promise<void> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      const { topics } = await this.#admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((partition) => partition.leader >= 0)) return;
      if (Date.now() > deadline) throw new StreamUnavailableError(`Topic "${topic}" has partitions without a leader after ${LEADER_WAIT_MS} ms.`);
      await Bun.sleep(50);
    }
  }
}

function checkTopic(topic: string): void {
  checkStreamName("topic", topic, MAX_TOPIC_LENGTH);
}

function toMessage(record: ProducerRecord): Message {
  const { key, value } = record;
  checkValue(value);
  return {
    key: key ?? null,
    value: typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** kafkajs logs retried errors at ERROR level, so everything it says is a warning to us. */
function forwardLog(logger: Logger | undefined, { namespace, log }: LogEntry): void {
  const { message, timestamp: _timestamp, ...fields } = log;
  // producer.ts explains why limited retries are safe here.
  if (!logger || message.startsWith("Limiting retries for the idempotent producer")) return;
  logger.warn(`kafka ${namespace}: ${message}`, fields);
}
