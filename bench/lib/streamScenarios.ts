import type { ProducerRecord, Stream } from "../../runtime/stream/stream.ts";

/** ~150 bytes of JSON, like a small event: the record the stream benchmarks append. */
export function benchRecord(id: number): ProducerRecord {
  const value = JSON.stringify({
    id,
    ts: "2025-01-01T00:00:00.000Z",
    user: `user-${id % 1000}`,
    event: "page_view",
    path: "/products/some-product-slug",
    props: { a: 1, b: "xyzxyzxyz" },
  });
  return { key: `user-${id % 1000}`, value: new TextEncoder().encode(value) };
}

/**
 * `callers` concurrent appenders, each appending the same batch of `batchSize` records
 * again and again for `seconds`: the append figures both stream benchmarks print.
 */
export async function appendScenario(stream: Stream, topic: string, callers: number, batchSize: number, seconds: number) {
  await stream.ensureTopic(topic);
  const batch = Array.from({ length: batchSize }, (_, i) => benchRecord(i));
  let records = 0;
  let appends = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        await stream.append(topic, batch);
        records += batch.length;
        appends++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { recordsPerSecond: Math.round(records / elapsed), appendsPerSecond: Math.round(appends / elapsed), msPerAppend: (elapsed * 1000 * callers) / appends };
}
