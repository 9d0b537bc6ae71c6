import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { KafkaStream } from "../runtime/stream/kafka/kafkaStream.ts";
import { StreamUnavailableError } from "../runtime/stream/stream.ts";
import type { RecordBatch, Stream, StreamRecord, SubscribeOptions, Subscription } from "../runtime/stream/stream.ts";
import { streamConformance, uniqueName } from "./conformance/stream.ts";
import { loadConfig } from "../src/config.ts";
import { sharedKafka, startKafka } from "./helpers/kafka.ts";
import type { Logger } from "../runtime/observability/logger.ts";

// Before any suite is registered: starting a JVM broker outlasts bun's 5 s hook timeout.
const { brokers } = await sharedKafka();

streamConformance("Kafka", async () => {
  // The suite counts offsets in partition 0 only: one partition per topic, as in the embedded log.
  const stream = await KafkaStream.connect({ brokers, partitions: 1, replicationFactor: 1 });
  return { stream, cleanup: () => stream.close() };
});

describe("KafkaStream", () => {
  const streams: KafkaStream[] = [];

  async function connect(options: { partitions?: number; replicationFactor?: number | undefined; logger?: Logger } = {}): Promise<KafkaStream> {
    // One broker: one replica, said so (the default would warn that it has only one).
    const stream = await KafkaStream.connect({ brokers, replicationFactor: 1, ...options });
    streams.push(stream);
    return stream;
  }

  afterAll(async () => {
    await Promise.all(streams.map((stream) => stream.close()));
  });

  test("a topic with 3 partitions spreads keys and keeps each key's order", async () => {
    const stream = await connect();
    const topic = uniqueName("keyed");
    await stream.ensureTopic(topic, { partitions: 3 });
    const keys = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    for (let round = 0; round < 5; round++) {
      await stream.append(topic, keys.flatMap((key) => [0, 1].map((j) => ({ key, value: JSON.stringify({ key, seq: round * 2 + j }) }))));
    }
    const ends = await stream.endOffsets(topic);
    expect([...ends.keys()]).toEqual([0, 1, 2]);
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(120);
    expect([...ends.values()].filter((end) => end > 0).length).toBeGreaterThanOrEqual(2);

    const batches = await consumeAll(stream, { topic, group: uniqueName("g"), maxBatchRecords: 7, maxWaitMs: 20 }, 120);
    const partitionOf = new Map<string, number>();
    const seqs = new Map<string, number[]>();
    for (const batch of batches) {
      expect(batch.records.length).toBeLessThanOrEqual(7);
      for (const record of batch.records) {
        const { key, seq } = JSON.parse(text(record)) as { key: string; seq: number };
        expect(record.key).toBe(key);
        expect(partitionOf.get(key) ?? batch.partition).toBe(batch.partition);
        partitionOf.set(key, batch.partition);
        seqs.set(key, [...(seqs.get(key) ?? []), seq]);
      }
    }
    for (const key of keys) expect(seqs.get(key)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(new Set(partitionOf.values()).size).toBeGreaterThanOrEqual(2);
  });

  test("concurrent appends keep each caller's order, and a large append is split into requests the broker accepts", async () => {
    const stream = await connect();
    const topic = uniqueName("concurrent");
    await stream.ensureTopic(topic, { partitions: 2 });
    const callers = Array.from({ length: 20 }, (_, caller) => caller);
    // About 3 MB to a single partition: as one record batch the broker would refuse it (1 MiB).
    const large = Array.from({ length: 3000 }, (_, seq) => ({ key: "large", value: JSON.stringify({ caller: "large", seq, pad: "x".repeat(1000) }) }));
    await Promise.all([
      stream.append(topic, large),
      ...callers.map(async (caller) => {
        for (let round = 0; round < 10; round++) {
          const records = Array.from({ length: 10 }, (_, i) => ({ key: `caller-${caller}`, value: JSON.stringify({ caller, seq: round * 10 + i }) }));
          await stream.append(topic, records);
        }
      }),
    ]);
    expect([...(await stream.endOffsets(topic)).values()].reduce((a, b) => a + b, 0)).toBe(5000);
    const records = (await consumeAll(stream, { topic, group: uniqueName("g"), maxBatchRecords: 1000, maxWaitMs: 20 }, 5000)).flatMap(
      (batch) => batch.records,
    );
    const seqs = new Map<string, number[]>();
    for (const record of records) {
      const { caller, seq } = JSON.parse(text(record)) as { caller: number | string; seq: number };
      seqs.set(String(caller), [...(seqs.get(String(caller)) ?? []), seq]);
    }
    expect(seqs.get("large")).toEqual(range(0, 3000));
    for (const caller of callers) expect(seqs.get(String(caller))).toEqual(range(0, 100));
  });

  test("two members of one group share the partitions and together see every record once", async () => {
    const [a, b] = [await connect(), await connect()];
    const topic = uniqueName("shared");
    const group = uniqueName("g");
    await a.ensureTopic(topic, { partitions: 3 });
    const seen = { a: [] as string[], b: [] as string[] };
    const options = (into: string[]) => ({
      topic,
      group,
      maxBatchRecords: 50,
      maxWaitMs: 20,
      handle: async (batch: RecordBatch) => {
        for (const record of batch.records) into.push(`${batch.partition}/${record.offset}`);
      },
    });
    // Both have joined (and the group settled) before any record exists: no rebalance in between.
    const first = await a.subscribe(options(seen.a));
    const second = await b.subscribe(options(seen.b));
    try {
      for (let i = 0; i < 6; i++) await a.append(topic, values(i * 100, 100).map((record, j) => ({ ...record, key: `k${(i * 100 + j) % 37}` })));
      await waitFor(() => seen.a.length + seen.b.length >= 600, () => `a saw ${seen.a.length}, b saw ${seen.b.length}`);
      await waitFor(async () => sameOffsets(await a.committed(topic, group), await a.endOffsets(topic)), () => "commits to reach the end");
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
    expect(seen.a.length).toBeGreaterThan(0);
    expect(seen.b.length).toBeGreaterThan(0);
    const all = [...seen.a, ...seen.b];
    expect(new Set(all).size).toBe(600);
    expect(all.length).toBe(600);
    const partitionsOf = (seenBy: string[]) => new Set(seenBy.map((id) => id.split("/")[0]));
    expect([...partitionsOf(seen.a)].filter((partition) => partitionsOf(seen.b).has(partition))).toEqual([]);
  });

  test("a member that loses a partition mid-batch does not commit it afterwards", async () => {
    const [a, b] = [await connect(), await connect()];
    const topic = uniqueName("revoked");
    const group = uniqueName("g");
    await a.ensureTopic(topic, { partitions: 2 });
    const gate = Promise.withResolvers<void>();
    const inHand = new Set<number>();
    const bothInHand = Promise.withResolvers<void>();
    const first = await a.subscribe({
      topic,
      group,
      maxBatchRecords: 3,
      maxWaitMs: 20,
      handle: async (batch) => {
        inHand.add(batch.partition);
        if (inHand.size === 2) bothInHand.resolve();
        await gate.promise;
      },
    });
    const bSaw: RecordBatch[] = [];
    let second: Subscription | undefined;
    try {
      // Six records in each partition: a holds [0, 3) of both when b joins.
      for (const partition of [0, 1]) await appendTo(a, topic, partition, 6);
      await withTimeout(bothInHand.promise, "a to hold a batch of each partition");
      second = await b.subscribe({ topic, group, maxBatchRecords: 3, maxWaitMs: 20, handle: async (batch) => void bSaw.push(batch) });
      await waitFor(() => bSaw.flatMap((batch) => batch.records).length >= 6, () => `b to handle its partition, got ${bSaw.length} batches`);
      const taken = bSaw[0]?.partition ?? -1;
      const kept = 1 - taken;
      expect(bSaw.every((batch) => batch.partition === taken)).toBe(true);
      await waitFor(async () => (await a.committed(topic, group)).get(taken)?.offset === 6, () => "b's commit");

      gate.resolve();
      await waitFor(async () => (await a.committed(topic, group)).get(kept)?.offset === 6, () => "a to finish the partition it kept");
      await Bun.sleep(300);
      // a's batch [0, 3) of the partition b took was handled, but its commit would move b's offset back.
      expect(await a.committed(topic, group)).toEqual(
        new Map([
          [0, { offset: 6, intent: undefined }],
          [1, { offset: 6, intent: undefined }],
        ]),
      );
    } finally {
      gate.resolve();
      await Promise.all([first.close(), second?.close()]);
    }
  });

  test("a member that closes mid-batch hands its saved intent to the member that takes over", async () => {
    const [a, b] = [await connect({ partitions: 1 }), await connect({ partitions: 1 })];
    const topic = uniqueName("handover");
    const group = uniqueName("g");
    await a.ensureTopic(topic);
    await a.append(topic, values(0, 9));
    const failed = Promise.withResolvers<RecordBatch>();
    const interrupted = await a.subscribe({
      topic,
      group,
      maxBatchRecords: 6,
      maxWaitMs: 20,
      retryDelayMs: 60_000,
      handle: async (batch) => {
        await batch.saveIntent("from-a");
        throw new Error("insert failed");
      },
      onError: (_error, batch) => failed.resolve(batch),
    });
    const original = await withTimeout(failed.promise, "a's failing batch");
    const taken = collector(9);
    // b joins while a still owns the only partition, so b gets it through a rebalance.
    const takeover = await b.subscribe({ topic, group, maxBatchRecords: 2, maxWaitMs: 20, handle: taken.handle });
    try {
      await interrupted.close();
      const batches = await withTimeout(taken.done, "b to take over", 20_000);
      const [replay, ...rest] = batches;
      expect(replay?.replayedIntent).toBe("from-a");
      expect([replay?.firstOffset, replay?.nextOffset]).toEqual([original.firstOffset, original.nextOffset]);
      expect(replay?.records.map(text)).toEqual(original.records.map(text));
      for (const batch of rest) expect(batch.replayedIntent).toBeUndefined();
      expect(batches.flatMap((batch) => batch.records).map((record) => record.offset)).toEqual(range(0, 9));
    } finally {
      await takeover.close();
    }
    expect((await b.committed(topic, group)).get(0)).toEqual({ offset: 9, intent: undefined });
  });

  test("after a member is killed mid-batch, the next member replays its intent once the session expires", async () => {
    const stream = await connect({ partitions: 1 });
    const topic = uniqueName("killed");
    const group = uniqueName("g");
    await stream.ensureTopic(topic);
    await stream.append(topic, values(0, 12));
    const child = Bun.spawn([process.execPath, "-e", killedMember(brokers, topic, group)], { stdout: "pipe", stderr: "pipe" });
    let started: { first: number; next: number };
    try {
      const line = await withTimeout(firstLine(child.stdout), "the child's first batch", 20_000);
      started = JSON.parse(line) as { first: number; next: number };
    } finally {
      child.kill("SIGKILL");
    }
    await child.exited;
    expect(started).toEqual({ first: 0, next: 4 });

    const taken = collector(12);
    const subscription = await stream.subscribe({ topic, group, maxBatchRecords: 10, maxWaitMs: 20, handle: taken.handle });
    try {
      // The killed member keeps its partition until its 6 s session times out.
      const [replay, ...rest] = await withTimeout(taken.done, "the takeover after the session timeout", 30_000);
      expect(replay?.replayedIntent).toBe("child-0-4");
      expect(replay?.records.map((record) => record.offset)).toEqual([0, 1, 2, 3]);
      expect(rest.flatMap((batch) => batch.records).map((record) => record.offset)).toEqual(range(4, 12));
    } finally {
      await subscription.close();
    }
    expect((await stream.committed(topic, group)).get(0)).toEqual({ offset: 12, intent: undefined });
  }, 60_000);

  test("without a configured replication factor, a topic gets one replica per broker up to 3, and a warning says what that means and what sets it", async () => {
    const warnings: string[] = [];
    const logger: Logger = { info() {}, error: (message) => void warnings.push(message), warn: (message) => void warnings.push(message) };
    // What `igloo start` passes when IGLOO_KAFKA_REPLICATION is unset (src/config.ts).
    const replicationFactor = loadConfig(join(import.meta.dir, "no-project-here"), { IGLOO_KAFKA_BROKERS: brokers.join(","), IGLOO_CLICKHOUSE_URL: "http://x", IGLOO_KEYS: "k" }).kafka.replicationFactor;
    expect(replicationFactor).toBeUndefined();
    const stream = await connect({ logger, replicationFactor });
    const topic = uniqueName("replicas");
    await stream.ensureTopic(topic, { partitions: 2 });
    const admin = new Kafka({ clientId: "replicas-check", brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(topics[0]!.partitions.map((p) => p.replicas.length)).toEqual([1, 1]);
    } finally {
      await admin.disconnect();
    }
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^topic "${topic}" was created with 1 replica, not 3, because the Kafka cluster has 1 broker: .*lost.*IGLOO_KAFKA_REPLICATION`))]);
    // A topic that exists already is not created again, nor warned about.
    await stream.ensureTopic(topic);
    expect(warnings.length).toBe(1);
    await stream.append(topic, values(0, 3));
    expect([...(await stream.endOffsets(topic)).values()].reduce((a, b) => a + b, 0)).toBe(3);
  });

  test("a configured replication factor above the broker count fails naming the setting; an existing topic is still usable", async () => {
    const stream = await connect({ replicationFactor: 3 });
    const topic = uniqueName("too-many-replicas");
    const error = await stream.ensureTopic(topic).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      new RegExp(`^Cannot create topic "${topic}" with 3 replicas: IGLOO_KAFKA_REPLICATION \\(kafka.replicationFactor in igloo.config.json\\) is 3, but the Kafka cluster at 127.0.0.1:\\d+ has 1 broker\\. Set .* to 1 or less`),
    );
    expect((error as Error).message).not.toContain("Topic creation errors");
    const existing = uniqueName("existing");
    await (await connect()).ensureTopic(existing);
    await stream.ensureTopic(existing);
    await stream.append(existing, values(0, 1));
  });

  test("records from a plain Kafka producer are consumed like any other", async () => {
    const stream = await connect();
    const topic = uniqueName("external");
    await stream.ensureTopic(topic, { partitions: 2 });
    const kafka = new Kafka({ clientId: "external-producer", brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const events = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `événement ${i}`, at: new Date(0).toISOString() }));
    try {
      await producer.send({ topic, messages: events.map((event) => ({ key: `device-${event.id % 3}`, value: JSON.stringify(event) })) });
    } finally {
      await producer.disconnect();
    }
    const records = (await consumeAll(stream, { topic, group: uniqueName("g"), maxBatchRecords: 100, maxWaitMs: 20 }, 20)).flatMap(
      (batch) => batch.records,
    );
    const received = records.map((record) => ({ key: record.key, event: JSON.parse(text(record)) as (typeof events)[number] }));
    expect(received.sort((x, y) => x.event.id - y.event.id)).toEqual(events.map((event) => ({ key: `device-${event.id % 3}`, event })));
  });

  test("append rejects with StreamUnavailableError within seconds once the broker is gone", async () => {
    const broker = await startKafka();
    const stream = await KafkaStream.connect({ brokers: broker.brokers, partitions: 1, replicationFactor: 1, appendTimeoutMs: 2000 });
    try {
      const topic = uniqueName("unavailable");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 3));
      await broker.stop();
      const started = performance.now();
      const error = await stream.append(topic, values(3, 3)).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(error).toBeInstanceOf(StreamUnavailableError);
      expect(performance.now() - started).toBeLessThan(4000);
      // And again, with a producer that never reached the broker.
      await expect(stream.append(topic, values(6, 1))).rejects.toBeInstanceOf(StreamUnavailableError);
    } finally {
      await broker.stop();
      await stream.close();
    }
  }, 60_000);
});

/** A group member in a child process: saves an intent for its first batch, says so, and hangs until killed. */
function killedMember(brokers: string[], topic: string, group: string): string {
  const module = join(import.meta.dir, "../runtime/stream/kafka/kafkaStream.ts");
  return `
    const { KafkaStream } = await import(${JSON.stringify(module)});
    const stream = await KafkaStream.connect({ brokers: ${JSON.stringify(brokers)}, partitions: 1, replicationFactor: 1, sessionTimeoutMs: 6000 });
    await stream.subscribe({
      topic: ${JSON.stringify(topic)},
      group: ${JSON.stringify(group)},
      maxBatchRecords: 4,
      maxWaitMs: 20,
      handle: async (batch) => {
        await batch.saveIntent("child-" + batch.firstOffset + "-" + batch.nextOffset);
        console.log(JSON.stringify({ first: batch.firstOffset, next: batch.nextOffset }));
        await new Promise(() => {});
      },
    });
  `;
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const newline = buffered.indexOf("\n");
    if (newline !== -1) return buffered.slice(0, newline);
  }
  throw new Error(`the child exited without a line; it printed ${JSON.stringify(buffered)}`);
}

/** Appends `count` records to one partition of a 2-partition topic, choosing keys the producer's partitioner sends there. */
async function appendTo(stream: KafkaStream, topic: string, partition: number, count: number): Promise<void> {
  const partitionOf = Partitioners.DefaultPartitioner();
  const partitionMetadata = [0, 1].map((partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (partitionOf({ topic, partitionMetadata, message: { key: `key-${i}`, value: null } }) === partition) keys.push(`key-${i}`);
  }
  await stream.append(topic, keys.map((key) => ({ key, value: JSON.stringify({ partition, key }) })));
}

function sameOffsets(committed: ReadonlyMap<number, { offset: number }>, ends: ReadonlyMap<number, number>): boolean {
  return [...ends].every(([partition, end]) => committed.get(partition)?.offset === end);
}

async function consumeAll(stream: Stream, options: Omit<SubscribeOptions, "handle">, count: number): Promise<RecordBatch[]> {
  const received = collector(count);
  const subscription: Subscription = await stream.subscribe({ ...options, handle: received.handle });
  try {
    return await withTimeout(received.done, `${count} records from ${options.topic}`);
  } finally {
    await subscription.close();
  }
}

function collector(count: number) {
  const batches: RecordBatch[] = [];
  let records = 0;
  const { promise: done, resolve } = Promise.withResolvers<RecordBatch[]>();
  return {
    done,
    handle: async (batch: RecordBatch) => {
      batches.push(batch);
      records += batch.records.length;
      if (records >= count) resolve(batches);
    },
  };
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: () => string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await Bun.sleep(20);
  }
}

async function withTimeout<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function values(from: number, count: number): { value: string }[] {
  return range(from, from + count).map((i) => ({ value: JSON.stringify({ i }) }));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function text(record: StreamRecord): string {
  return new TextDecoder().decode(record.value);
}
