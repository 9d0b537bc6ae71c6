import { Partitioners } from "kafkajs";
import type { Kafka, Message, Producer, RecordMetadata, TopicMessages } from "kafkajs";
import { streamError } from "./errors.ts";
import { StreamUnavailableError, type AppendResult } from "../stream.ts";

/** A message with the partition it goes to, chosen before sending (see KafkaStream.append). */
export type PartitionedMessage = Message & { readonly partition: number };

/**
 * Payload bytes per produce request. Each partition's share becomes one record batch,
 * which the broker refuses above `message.max.bytes` (1 MiB by default): half of that
 * leaves room for framing. A bigger append is sent in several requests.
 */
const MAX_REQUEST_BYTES = 512 * 1024;

interface PendingAppend {
  readonly topic: string;
  readonly messages: PartitionedMessage[];
  readonly bytes: number;
  /** Per partition, the offset after this append's last record there, filled in as requests succeed. */
  readonly ends: Map<number, number>;
  readonly resolve: (ends: AppendResult) => void;
  readonly reject: (error: Error) => void;
  /** Set once its group is taken for sending, so that its deadline can cut the connection. */
  connection: Connection | undefined;
  settled: boolean;
}

interface Connection {
  readonly producer: Producer;
  readonly ready: Promise<void>;
}

/**
 * Appends through kafkajs's idempotent producer: every record is acknowledged by all
 * in-sync replicas (acks -1), and a retried request is deduplicated by the broker through
 * the producer id and per-partition sequence numbers.
 *
 * kafkajs sends one request per broker at a time for an idempotent producer and does not
 * linger, so concurrent appends would each wait for a whole round trip. Instead, appends
 * that arrive while a request is in flight are sent together in the next one (a group
 * commit, as the embedded log does with its flushes); they succeed or fail together.
 *
 * kafkajs rolls a partition's sequence number back when a produce request fails, so once
 * it gives up on a request, its next batch reuses that number. Had the failed request in
 * fact been written (only the answer was lost), a next batch of the same size would look
 * like a retry to the broker and be acknowledged without being stored. So a producer that
 * failed once is retired and the next request gets a new one: a new producer id, fresh
 * sequence numbers. A failed append may still have stored some or all of its records; the
 * caller's retry then stores them twice (at least once), never zero times.
 */
export class AppendProducer {
  readonly #kafka: Kafka;
  readonly #timeoutMs: number;
  #current: Connection | undefined;
  #queue: PendingAppend[] = [];
  #pumping = false;
  readonly #waiting = new Set<Promise<unknown>>();

  constructor(kafka: Kafka, timeoutMs: number) {
    this.#kafka = kafka;
    this.#timeoutMs = timeoutMs;
  }

  /** Connects now, so that a wrong address fails at startup rather than on the first append. */
  async connect(): Promise<void> {
    await this.#connection().ready;
  }

  /**
   * Resolves once the broker acknowledged every message, with where they went; rejects
   * within the append timeout.
   */
  send(topic: string, messages: PartitionedMessage[]): Promise<AppendResult> {
    let bytes = 0;
    for (const { key, value } of messages) bytes += byteLength(key) + byteLength(value);
    const answered = new Promise<AppendResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Still queued: dropped, never sent. In flight: its connection is cut so the
        // request fails now rather than after kafkajs's own retries.
        this.#queue = this.#queue.filter((queued) => queued !== append);
        if (append.connection) this.#retire(append.connection);
        // Sent but not answered: the broker may have stored the records.
        settle(
          append,
          new StreamUnavailableError(`Kafka did not acknowledge ${messages.length} records for topic "${topic}" within ${this.#timeoutMs} ms.`, { maybeStored: append.connection !== undefined }),
        );
      }, this.#timeoutMs);
      const append: PendingAppend = {
        topic,
        messages,
        bytes,
        ends: new Map(),
        resolve: (ends) => (clearTimeout(timer), resolve(ends)),
        reject: (error) => (clearTimeout(timer), reject(error)),
        connection: undefined,
        settled: false,
      };
      this.#queue.push(append);
    });
    this.#waiting.add(answered);
    void answered.catch(() => {}).finally(() => this.#waiting.delete(answered));
    if (!this.#pumping) void this.#pump();
    return answered;
  }

  /** Waits until every append is answered (each is, by its deadline), then disconnects. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#waiting);
    if (this.#current) this.#retire(this.#current);
  }

  /** Sends what is queued, a request's worth at a time, until the queue is empty. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    // The flag drops in the same step as the last look at the queue: an append queued
    // after that starts a new pump, one queued before it is sent by this one.
    try {
      while (this.#queue.length > 0) {
        const group = this.#takeGroup();
        const connection = this.#connection();
        for (const append of group) append.connection = connection;
        let sending = false;
        try {
          await connection.ready;
          sending = true;
          for (const request of requests(group)) {
            const answer = await connection.producer.sendBatch({ topicMessages: request.topicMessages, acks: -1, timeout: this.#timeoutMs });
            noteOffsets(request, answer);
          }
          for (const append of group) settle(append);
        } catch (error) {
          this.#retire(connection);
          // A request that failed may have been written before its answer was lost.
          for (const append of group) {
            const failure = streamError(`store ${append.messages.length} records in topic "${append.topic}"`, append.topic, error);
            const unknown = sending && failure instanceof StreamUnavailableError;
            settle(append, unknown ? new StreamUnavailableError(failure.message, { cause: failure.cause, maybeStored: true }) : failure);
          }
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** The oldest appends that fit one request together (at least one, whatever its size). */
  #takeGroup(): PendingAppend[] {
    let bytes = 0;
    let count = 0;
    for (const append of this.#queue) {
      if (count > 0 && bytes + append.bytes > MAX_REQUEST_BYTES) break;
      bytes += append.bytes;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  #connection(): Connection {
    if (this.#current) return this.#current;
    const producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded, unlike kafkajs's idempotent default (retry forever): an append must answer
      // within the timeout. Safe only because a failed producer is retired, see above.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const connection: Connection = { producer, ready: producer.connect() };
    connection.ready.catch(() => this.#retire(connection));
    this.#current = connection;
    return connection;
  }

  #retire(connection: Connection): void {
    if (this.#current === connection) this.#current = undefined;
    connection.producer.disconnect().catch(() => {});
  }
}

function settle(append: PendingAppend, error?: Error): void {
  if (append.settled) return;
  append.settled = true;
  if (error) append.reject(error);
  else append.resolve(append.ends);
}

interface Request {
  readonly topicMessages: TopicMessages[];
  /** Per topic, whose message each of `topicMessages`' messages is, in the same order. */
  readonly sent: Map<string, { readonly append: PendingAppend; readonly partition: number }[]>;
}

/**
 * A partition's messages in one request are stored in order from the base offset the
 * broker answers with: each append learns the offset after its last message there.
 */
function noteOffsets(request: Request, answer: readonly RecordMetadata[]): void {
  const next = new Map<string, number>();
  for (const meta of answer) next.set(`${meta.partition}\u0000${meta.topicName}`, Number(meta.baseOffset));
  for (const [topic, sent] of request.sent) {
    for (const { append, partition } of sent) {
      const key = `${partition}\u0000${topic}`;
      const offset = next.get(key);
      if (offset === undefined || !Number.isSafeInteger(offset) || offset < 0) continue;
      next.set(key, offset + 1);
      append.ends.set(partition, offset + 1);
    }
  }
}

/**
 * The group's messages as produce requests of at most MAX_REQUEST_BYTES, in order: one
 * request for a group of small appends, several for one big append.
 */
function* requests(group: readonly PendingAppend[]): Generator<Request> {
  let request: Request = { topicMessages: [], sent: new Map() };
  let bytes = 0;
  let count = 0;
  const byTopic = new Map<string, Message[]>();
  const finish = (): Request => {
    const done: Request = { topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), sent: request.sent };
    byTopic.clear();
    request = { topicMessages: [], sent: new Map() };
    bytes = 0;
    count = 0;
    return done;
  };
  for (const append of group) {
    for (const message of append.messages) {
      const size = byteLength(message.key) + byteLength(message.value);
      if (count > 0 && bytes + size > MAX_REQUEST_BYTES) yield finish();
      let messages = byTopic.get(append.topic);
      if (!messages) byTopic.set(append.topic, (messages = []));
      messages.push(message);
      let sent = request.sent.get(append.topic);
      if (!sent) request.sent.set(append.topic, (sent = []));
      sent.push({ append, partition: message.partition });
      bytes += size;
      count++;
    }
  }
  if (count > 0) yield finish();
}

function byteLength(data: Message["key"] | Message["value"]): number {
  if (data === null || data === undefined) return 0;
  return typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.byteLength;
}
