import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ProducerRecord, RecordBatch, Stream, StreamRecord, SubscribeOptions } from "../../runtime/stream/stream.ts";

/**
 * The `Stream` conformance suite, written once against the interface: every
 * implementation (embedded log, Kafka) registers it with its own factory. Each test uses
 * its own topic and group names, so one stream instance serves the whole suite.
 */
export function streamConformance(
  name: string,
  factory: () => Promise<{ stream: Stream; cleanup(): Promise<void> }>,
): void {
  describe(`Stream conformance: ${name}`, () => {
    let stream: Stream;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const made = await factory();
      stream = made.stream;
      cleanup = () => made.cleanup();
    });

    afterAll(async () => {
      await cleanup?.();
    });

    test("offsets are dense from 0 and order is preserved", async () => {
      const topic = uniqueName("dense");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 3));
      await stream.append(topic, values(3, 1));
      await stream.append(topic, values(4, 6));
      expect(await stream.endOffsets(topic)).toEqual(new Map([[0, 10]]));

      const batches = await consume(stream, { topic, group: uniqueName("g"), maxBatchRecords: 100, maxWaitMs: 20 }, 10);
      const records = batches.flatMap((batch) => batch.records);
      expect(records.map((record) => record.offset)).toEqual(range(0, 10));
      expect(records.map(text)).toEqual(range(0, 10).map(json));
      for (const batch of batches) {
        expect(batch.topic).toBe(topic);
        expect(batch.partition).toBe(0);
        expect(batch.firstOffset).toBe(batch.records[0]?.offset ?? -1);
        expect(batch.nextOffset).toBe(batch.firstOffset + batch.records.length);
        expect(batch.replayedIntent).toBeUndefined();
      }
    });

    test("keys are preserved, string and byte values are both stored", async () => {
      const topic = uniqueName("keys");
      await stream.ensureTopic(topic);
      await stream.append(topic, [
        { key: "user-1", value: '{"a":1}' },
        { value: new TextEncoder().encode('{"a":2}') },
        { key: "ключ-ü", value: '{"a":"ü"}' },
        { key: undefined, value: "{}" },
      ]);
      const records = (await consume(stream, { topic, group: uniqueName("g"), maxBatchRecords: 10, maxWaitMs: 20 }, 4)).flatMap(
        (batch) => batch.records,
      );
      expect(records.map((record) => record.key)).toEqual(["user-1", undefined, "ключ-ü", undefined]);
      expect(records.map(text)).toEqual(['{"a":1}', '{"a":2}', '{"a":"ü"}', "{}"]);
    });

    test("batches hold at most maxBatchRecords", async () => {
      const topic = uniqueName("batching");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 25));
      const batches = await consume(stream, { topic, group: uniqueName("g"), maxBatchRecords: 10, maxWaitMs: 30 }, 25);
      expect(batches.length).toBeGreaterThanOrEqual(3);
      for (const batch of batches) expect(batch.records.length).toBeLessThanOrEqual(10);
      expect(batches.flatMap((batch) => batch.records).map(text)).toEqual(range(0, 25).map(json));
    });

    test("a small batch is delivered once maxWaitMs has passed", async () => {
      const topic = uniqueName("wait");
      await stream.ensureTopic(topic);
      const group = uniqueName("g");
      const received = collector(3);
      const subscription = await stream.subscribe({ topic, group, maxBatchRecords: 1000, maxWaitMs: 150, handle: received.handle });
      try {
        await stream.append(topic, values(0, 3));
        const batches = await received.done;
        expect(batches).toHaveLength(1);
        expect(batches[0]?.records.map(text)).toEqual(range(0, 3).map(json));
      } finally {
        await subscription.close();
      }
    });

    test("a new subscription of the same group resumes after the committed offset", async () => {
      const topic = uniqueName("resume");
      const group = uniqueName("g");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 12));

      const first: RecordBatch[] = [];
      const { promise: gotOne, resolve } = Promise.withResolvers<void>();
      const subscription = await stream.subscribe({
        topic,
        group,
        maxBatchRecords: 4,
        maxWaitMs: 20,
        handle: async (batch) => {
          first.push(batch);
          resolve();
        },
      });
      await withTimeout(gotOne, "the first batch");
      await subscription.close(); // waits for the batch in hand and its commit
      const handledUpTo = first[first.length - 1]?.nextOffset ?? -1;
      expect((await stream.committed(topic, group)).get(0)).toEqual({ offset: handledUpTo, intent: undefined });

      const rest = await consume(stream, { topic, group, maxBatchRecords: 4, maxWaitMs: 20 }, 12 - handledUpTo);
      if (handledUpTo < 12) expect(rest[0]?.firstOffset).toBe(handledUpTo);
      const all = [...first, ...rest].flatMap((batch) => batch.records);
      expect(all.map((record) => record.offset)).toEqual(range(0, 12));
      expect((await stream.committed(topic, group)).get(0)?.offset).toBe(12);
    });

    test("two groups consume independently", async () => {
      const topic = uniqueName("groups");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 6));
      const [a, b] = [uniqueName("a"), uniqueName("b")];

      const aBatches = await consume(stream, { topic, group: a, maxBatchRecords: 100, maxWaitMs: 20 }, 6);
      expect((await stream.committed(topic, a)).get(0)?.offset).toBe(6);
      expect((await stream.committed(topic, b)).get(0)).toEqual({ offset: 0, intent: undefined });

      const bBatches = await consume(stream, { topic, group: b, maxBatchRecords: 2, maxWaitMs: 20 }, 6);
      expect(aBatches.flatMap((batch) => batch.records).map(text)).toEqual(range(0, 6).map(json));
      expect(bBatches.flatMap((batch) => batch.records).map(text)).toEqual(range(0, 6).map(json));
      expect((await stream.committed(topic, b)).get(0)?.offset).toBe(6);
    });

    test("a handler that throws gets the same batch again and nothing is skipped", async () => {
      const topic = uniqueName("retry");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 5));
      const attempts: RecordBatch[] = [];
      const errors: { error: unknown; batch: RecordBatch }[] = [];
      let failuresLeft = 2;
      const batches = await consume(
        stream,
        {
          topic,
          group: uniqueName("g"),
          maxBatchRecords: 3,
          maxWaitMs: 20,
          retryDelayMs: 20,
          onError: (error, batch) => errors.push({ error, batch }),
          handle: async (batch) => {
            attempts.push(batch);
            if (batch.firstOffset === 0 && failuresLeft > 0) {
              failuresLeft--;
              await batch.saveIntent(`attempt-${attempts.length}`);
              throw new Error("insert failed");
            }
          },
        },
        5,
      );
      expect(errors).toHaveLength(2);
      for (const { error, batch } of errors) {
        expect(error).toBeInstanceOf(Error);
        expect(batch.firstOffset).toBe(0);
      }
      const [first, second, third] = attempts;
      expect(first?.records.map(text)).toEqual(range(0, 3).map(json));
      expect(second?.records.map(text)).toEqual(first?.records.map(text) ?? []);
      expect(third?.records.map(text)).toEqual(first?.records.map(text) ?? []);
      // A retry replays the batch: the intent the failed attempt saved comes along.
      expect(first?.replayedIntent).toBeUndefined();
      expect(second?.replayedIntent).toBe("attempt-1");
      expect(third?.replayedIntent).toBe("attempt-2");
      expect(batches.flatMap((batch) => batch.records).map((record) => record.offset)).toEqual(range(0, 5));
    });

    test("a saved intent not committed before close is replayed as exactly the same batch", async () => {
      const topic = uniqueName("intent");
      const group = uniqueName("g");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 5));

      const { promise: failed, resolve } = Promise.withResolvers<RecordBatch>();
      const interrupted = await stream.subscribe({
        topic,
        group,
        maxBatchRecords: 10,
        maxWaitMs: 20,
        retryDelayMs: 60_000,
        handle: async (batch) => {
          await batch.saveIntent("token-1");
          throw new Error("crash before commit");
        },
        onError: (_error, batch) => resolve(batch),
      });
      const original = await withTimeout(failed, "the failing batch");
      await interrupted.close();
      expect((await stream.committed(topic, group)).get(0)).toEqual({ offset: 0, intent: "token-1" });

      await stream.append(topic, values(5, 5));
      const batches = await consume(stream, { topic, group, maxBatchRecords: 2, maxWaitMs: 20 }, 10);
      const [replay, ...rest] = batches;
      expect(replay?.replayedIntent).toBe("token-1");
      expect(replay?.firstOffset).toBe(original.firstOffset);
      expect(replay?.nextOffset).toBe(original.nextOffset);
      expect(replay?.records.map(text)).toEqual(original.records.map(text));
      for (const batch of rest) {
        expect(batch.replayedIntent).toBeUndefined();
        expect(batch.records.length).toBeLessThanOrEqual(2);
      }
      expect(batches.flatMap((batch) => batch.records).map(text)).toEqual(range(0, 10).map(json));
      expect((await stream.committed(topic, group)).get(0)).toEqual({ offset: 10, intent: undefined });
    });

    test("endOffsets and committed report per partition", async () => {
      const topic = uniqueName("offsets");
      const group = uniqueName("g");
      await stream.ensureTopic(topic);
      expect(await stream.endOffsets(topic)).toEqual(new Map([[0, 0]]));
      expect(await stream.committed(topic, group)).toEqual(new Map([[0, { offset: 0, intent: undefined }]]));
      await stream.append(topic, values(0, 3));
      expect(await stream.endOffsets(topic)).toEqual(new Map([[0, 3]]));
      await consume(stream, { topic, group, maxBatchRecords: 10, maxWaitMs: 20 }, 3);
      expect(await stream.committed(topic, group)).toEqual(new Map([[0, { offset: 3, intent: undefined }]]));
    });

    test("append says where its records went: per partition, the offset after its last record, also for appends made at once", async () => {
      const topic = uniqueName("ends");
      await stream.ensureTopic(topic);
      // Appends of varied sizes, concurrently, so that they share flushes or requests.
      const sizes = Array.from({ length: 24 }, (_, i) => 1 + ((i * 7) % 11));
      const answers = await Promise.all(
        sizes.map((size, a) => stream.append(topic, Array.from({ length: size }, (_, k) => ({ value: JSON.stringify({ a, k }) })))),
      );
      const total = sizes.reduce((sum, n) => sum + n, 0);
      const records = (await consume(stream, { topic, group: uniqueName("g"), maxBatchRecords: 1000, maxWaitMs: 20 }, total)).flatMap((b) => b.records);
      const lastOffset = new Map<number, number>();
      for (const record of records) lastOffset.set((JSON.parse(text(record)) as { a: number }).a, record.offset);
      sizes.forEach((_, a) => expect({ a, ends: answers[a] }).toEqual({ a, ends: new Map([[0, lastOffset.get(a)! + 1]]) }));
      expect(await stream.append(topic, [])).toEqual(new Map());
    });

    test("bad names, values with a newline and bad subscription settings are refused alike", async () => {
      const topic = uniqueName("checks");
      await stream.ensureTopic(topic);
      for (const bad of ["", ".", "..", "a/b", "a b"]) {
        await expect(stream.ensureTopic(bad)).rejects.toThrow("Invalid topic name");
      }
      await expect(stream.append(topic, [{ value: '{"a":\n1}' }])).rejects.toThrow("newline");
      await expect(stream.append(topic, [{ value: new Uint8Array([0x7b, 0x0a, 0x7d]) }])).rejects.toThrow("newline");
      const handle = async () => {};
      const settings = { topic, group: uniqueName("g"), handle };
      await expect(stream.subscribe({ ...settings, maxBatchRecords: 0, maxWaitMs: 1 })).rejects.toThrow("maxBatchRecords must be a positive integer");
      await expect(stream.subscribe({ ...settings, maxBatchRecords: 1.5, maxWaitMs: 1 })).rejects.toThrow(RangeError);
      await expect(stream.subscribe({ ...settings, maxBatchRecords: 1, maxWaitMs: -1 })).rejects.toThrow("maxWaitMs must be >= 0");
      await expect(stream.subscribe({ ...settings, maxBatchRecords: 1, maxWaitMs: 1, retryDelayMs: Number.NaN })).rejects.toThrow("retryDelayMs must be >= 0");
      expect(await stream.endOffsets(topic)).toEqual(new Map([[0, 0]]));
    });

    test("an onError that throws stops nothing: the batch is retried and consumption goes on", async () => {
      const topic = uniqueName("reporter");
      await stream.ensureTopic(topic);
      await stream.append(topic, values(0, 3));
      let failuresLeft = 1;
      const batches = await consume(
        stream,
        {
          topic,
          group: uniqueName("g"),
          maxBatchRecords: 10,
          maxWaitMs: 20,
          retryDelayMs: 20,
          onError: () => {
            throw new Error("the reporter is broken too");
          },
          handle: async () => {
            if (failuresLeft-- > 0) throw new Error("insert failed");
          },
        },
        3,
      );
      expect(batches.flatMap((batch) => batch.records).map(text)).toEqual(range(0, 3).map(json));
    });

    test("ensureTopic is idempotent and keeps existing records", async () => {
      const topic = uniqueName("ensure");
      await Promise.all([stream.ensureTopic(topic), stream.ensureTopic(topic)]);
      await stream.append(topic, values(0, 2));
      await stream.ensureTopic(topic);
      expect(await stream.endOffsets(topic)).toEqual(new Map([[0, 2]]));
      await stream.append(topic, values(2, 1));
      expect(await stream.endOffsets(topic)).toEqual(new Map([[0, 3]]));
    });
  });
}

let nameCounter = 0;

/** Topic and group names unique across runs, valid for every engine. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${nameCounter++}`;
}

function values(from: number, count: number): ProducerRecord[] {
  return range(from, from + count).map((i) => ({ value: json(i) }));
}

function json(i: number): string {
  return JSON.stringify({ i });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function text(record: StreamRecord): string {
  return new TextDecoder().decode(record.value);
}

type ConsumeOptions = Omit<SubscribeOptions, "handle"> & { readonly handle?: SubscribeOptions["handle"] };

/**
 * Subscribes until `count` records were handled without error, closes, returns the
 * batches handled without error. Fails after `timeoutMs` saying what it got.
 */
async function consume(stream: Stream, options: ConsumeOptions, count: number, timeoutMs = 10_000): Promise<RecordBatch[]> {
  const received = collector(count, options.handle);
  const subscription = await stream.subscribe({ ...options, handle: received.handle });
  try {
    return await withTimeout(received.done, `${count} records from ${options.topic}`, timeoutMs, () => received.describe());
  } finally {
    await subscription.close();
  }
}

function collector(count: number, inner?: SubscribeOptions["handle"]) {
  const batches: RecordBatch[] = [];
  let records = 0;
  const { promise: done, resolve } = Promise.withResolvers<RecordBatch[]>();
  if (count === 0) resolve(batches);
  return {
    done,
    describe: () => `got ${records} records in ${batches.length} batches`,
    handle: async (batch: RecordBatch) => {
      await inner?.(batch);
      batches.push(batch);
      records += batch.records.length;
      if (records >= count) resolve(batches);
    },
  };
}

async function withTimeout<T>(promise: Promise<T>, what: string, ms = 10_000, detail?: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `: ${detail()}` : ""}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
