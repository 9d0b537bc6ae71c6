/**
 * Throughput of KafkaStream (kafkajs) against a local single-node broker (not a test).
 *
 *   bun bench/kafka.ts [seconds-per-scenario]
 *
 * Starts its own broker with scripts/kafka/kafka.sh (Java 17+ and Maven needed), appends
 * from concurrent callers, each awaiting its append before the next as the ingest server
 * does, then consumes everything back through one subscription. Broker and benchmark
 * share this machine's cores, so the numbers are a floor for a real cluster.
 */
import { KafkaStream } from "../runtime/stream/kafka/kafkaStream.ts";
import { appendScenario } from "./lib/streamScenarios.ts";
import { startKafka } from "../test/helpers/kafka.ts";

const seconds = Number(process.argv[2] ?? 3);

async function consumeAll(stream: KafkaStream, topic: string) {
  const ends = await stream.endOffsets(topic);
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  let records = 0;
  const start = performance.now();
  const { promise, resolve } = Promise.withResolvers<void>();
  const subscription = await stream.subscribe({
    topic,
    group: `bench-${Date.now()}`,
    maxBatchRecords: 10_000,
    maxWaitMs: 10,
    handle: async (batch) => {
      records += batch.records.length;
      if (records >= total) resolve();
    },
  });
  await promise;
  const elapsed = (performance.now() - start) / 1000;
  await subscription.close();
  return { records, recordsPerSecond: Math.round(records / elapsed) };
}

const broker = await startKafka();
// One broker: one replica, said explicitly (unset, Igloo warns that it took fewer than 3).
const stream = await KafkaStream.connect({ brokers: broker.brokers, partitions: 3, replicationFactor: 1 });
try {
  const format = (n: number) => n.toLocaleString("en-US");
  const one = await appendScenario(stream, `bench-one-${Date.now()}`, 1, 100, seconds);
  console.log(`batches of 100 x ~150 B, 1 caller: ${format(one.recordsPerSecond)} records/s (${one.msPerAppend.toFixed(1)} ms per append)`);
  const manyTopic = `bench-many-${Date.now()}`;
  const many = await appendScenario(stream, manyTopic, 50, 100, seconds);
  console.log(
    `batches of 100 x ~150 B, 50 callers: ${format(many.recordsPerSecond)} records/s (${format(many.appendsPerSecond)} appends/s, ${many.msPerAppend.toFixed(1)} ms each)`,
  );
  const single = await appendScenario(stream, `bench-single-${Date.now()}`, 64, 1, seconds);
  console.log(`single-record appends, 64 callers: ${format(single.appendsPerSecond)} appends/s`);
  const consumed = await consumeAll(stream, manyTopic);
  console.log(`consume ${format(consumed.records)} records (3 partitions): ${format(consumed.recordsPerSecond)} records/s`);
} finally {
  await stream.close();
  await broker.stop();
}
