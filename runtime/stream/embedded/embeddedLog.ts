import { mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { IglooError } from "../../../conventions/errors.ts";
import { checkStreamName, checkSubscribeOptions, isStreamName, positiveInteger } from "../checks.ts";
import { StreamUnavailableError, type AppendResult } from "../stream.ts";
import type {
  CommittedOffset,
  ProducerRecord,
  Stream,
  SubscribeOptions,
  Subscription,
  TopicOptions,
} from "../stream.ts";
import { TopicSubscription } from "./consumer.ts";
import { fsyncDirectory } from "./files.ts";
import { DirectoryLock } from "./lock.ts";
import { OffsetStore } from "./offsets.ts";
import { PendingBudget, TopicLog } from "./topicLog.ts";

export { joinValues } from "../joinValues.ts";

export interface EmbeddedLogOptions {
  /** Directory of the log: `topics/`, `groups/` and `LOCK` live here. */
  readonly dir: string;
  /** A topic's last segment is rolled once a flush would take it past this. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Per topic; consumed whole segments beyond it are deleted. Default 1 GiB. */
  readonly retentionBytes?: number;
  /** Appends are refused (StreamUnavailableError) while this much waits to be written. Default 256 MiB. */
  readonly maxPendingBytes?: number;
}

const MiB = 1024 * 1024;

/**
 * The embedded, in-process durable log behind `igloo dev`: the `Stream` seam without a
 * server. Layout under `dir`:
 *
 *   LOCK                                  pid of the process that has the log open
 *   topics/<topic>/<base offset>.log      segment files, see topicLog.ts and segment.ts
 *   groups/<group>/<topic>.json           committed offset and intent, see offsets.ts
 *
 * One partition (0) per topic.
 */
export class EmbeddedLog implements Stream {
  /** Only this process writes to it, and only through ingest or functions, which validate. */
  readonly external = false;
  readonly #topics = new Map<string, TopicLog>();
  readonly #creating = new Map<string, Promise<TopicLog>>();
  readonly #subscriptions = new Map<string, TopicSubscription>();
  #closing: Promise<void> | undefined;
  readonly #lock: DirectoryLock;
  readonly #offsets: OffsetStore;
  readonly #pending: PendingBudget;
  readonly #segmentBytes: number;
  readonly #retentionBytes: number;

  private constructor(
    readonly dir: string,
    lock: DirectoryLock,
    offsets: OffsetStore,
    pending: PendingBudget,
    segmentBytes: number,
    retentionBytes: number,
  ) {
    this.#lock = lock;
    this.#offsets = offsets;
    this.#pending = pending;
    this.#segmentBytes = segmentBytes;
    this.#retentionBytes = retentionBytes;
  }

  /** Opens (creating if needed) the log at `dir`, recovering every topic. */
  static async open(options: EmbeddedLogOptions): Promise<EmbeddedLog> {
    const dir = resolve(options.dir);
    const segmentBytes = positiveInteger("segmentBytes", options.segmentBytes) ?? 64 * MiB;
    const retentionBytes = positiveInteger("retentionBytes", options.retentionBytes) ?? 1024 * MiB;
    const maxPendingBytes = positiveInteger("maxPendingBytes", options.maxPendingBytes) ?? 256 * MiB;
    await mkdir(dir, { recursive: true });
    const lock = await DirectoryLock.acquire(dir);
    let log: EmbeddedLog | undefined;
    try {
      await mkdir(join(dir, "topics"), { recursive: true });
      const offsets = await OffsetStore.open(join(dir, "groups"));
      await fsyncDirectory(dir); // the entries of topics/ and groups/
      log = new EmbeddedLog(dir, lock, offsets, new PendingBudget(maxPendingBytes), segmentBytes, retentionBytes);
      for (const name of await readdir(join(dir, "topics"))) {
        if (isStreamName(name)) log.#topics.set(name, await log.#openTopic(name));
      }
      for (const topic of log.#topics.values()) topic.scheduleRetention();
      return log;
    } catch (error) {
      await Promise.all([...(log ? log.#topics.values() : [])].map((topic) => topic.close()));
      await lock.release();
      throw error;
    }
  }

  async ensureTopic(topic: string, options: TopicOptions = {}): Promise<void> {
    checkStreamName("topic", topic);
    if (options.partitions !== undefined && options.partitions !== 1) {
      throw new IglooError(
        "E_STREAM_PARTITIONS",
        `The embedded stream has one partition per topic; topic "${topic}" asked for ${options.partitions}.`,
      );
    }
    if (this.#closing) throw new StreamUnavailableError("The stream is closed.");
    if (this.#topics.has(topic)) return;
    let creating = this.#creating.get(topic);
    if (!creating) {
      creating = this.#openTopic(topic)
        .then((log) => {
          this.#topics.set(topic, log);
          return log;
        })
        .finally(() => this.#creating.delete(topic));
      this.#creating.set(topic, creating);
    }
    await creating;
  }

  append(topic: string, records: readonly ProducerRecord[]): Promise<AppendResult> {
    if (this.#closing) return Promise.reject(new StreamUnavailableError("The stream is closed."));
    let log: TopicLog;
    try {
      log = this.#topic(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    return records.length === 0 ? Promise.resolve(new Map()) : log.append(records).then((end) => new Map([[0, end]]));
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closing) throw new StreamUnavailableError("The stream is closed.");
    const topic = this.#topic(options.topic);
    checkStreamName("group", options.group);
    checkSubscribeOptions(options);
    const key = `${options.topic}\u0000${options.group}`;
    if (this.#subscriptions.has(key)) {
      throw new IglooError(
        "E_STREAM_SUBSCRIBED",
        `Group "${options.group}" already has an active subscription to topic "${options.topic}" in this process.`,
        { hint: "Close it before subscribing again." },
      );
    }
    const subscription = new TopicSubscription(topic, this.#offsets, options, () => {
      if (this.#subscriptions.get(key) === subscription) this.#subscriptions.delete(key);
    });
    this.#subscriptions.set(key, subscription);
    return subscription;
  }

  async committed(topic: string, group: string): Promise<ReadonlyMap<number, CommittedOffset>> {
    const log = this.#topic(topic);
    checkStreamName("group", group);
    const position = this.#offsets.get(topic, group);
    return new Map([[0, { offset: Math.max(position?.offset ?? 0, log.startOffset), intent: position?.intent?.intent }]]);
  }

  async endOffsets(topic: string): Promise<ReadonlyMap<number, number>> {
    return new Map([[0, this.#topic(topic).endOffset]]);
  }

  /** Stops subscriptions (after their batch in hand), finishes flushes, closes files, releases the lock. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions.values()].map((subscription) => subscription.close()));
      await Promise.allSettled(this.#creating.values());
      await Promise.all([...this.#topics.values()].map((topic) => topic.close()));
      await this.#lock.release();
    })();
    return this.#closing;
  }

  #topic(name: string): TopicLog {
    const topic = this.#topics.get(name);
    if (topic) return topic;
    checkStreamName("topic", name);
    throw new IglooError("E_STREAM_UNKNOWN_TOPIC", `Topic "${name}" does not exist in ${this.dir}.`, {
      hint: "Create it with ensureTopic first.",
    });
  }

  #openTopic(name: string): Promise<TopicLog> {
    return TopicLog.open(join(this.dir, "topics"), name, {
      segmentBytes: this.#segmentBytes,
      retentionBytes: this.#retentionBytes,
      pending: this.#pending,
      retentionFloor: () => this.#retentionFloor(name),
    });
  }

  /** The lowest offset a known group (committed, or subscribed now) still needs. */
  #retentionFloor(topic: string): number | undefined {
    let floor: number | undefined;
    for (const position of this.#offsets.groups(topic)) floor = Math.min(floor ?? Infinity, position.offset);
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.topicName === topic) floor = Math.min(floor ?? Infinity, subscription.position);
    }
    return floor;
  }
}
