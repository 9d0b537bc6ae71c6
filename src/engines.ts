/**
 * The composition root's choice of engines. Only this file names adapters; the runtime
 * works against the Stream and Store seams. Adapters are imported lazily: production
 * never loads chDB's native library, dev never loads kafkajs.
 */
import { join } from "node:path";
import type { Store } from "../runtime/store/store.ts";
import type { Stream } from "../runtime/stream/stream.ts";
import type { ProductionConfig } from "./config.ts";

export interface Engines {
  readonly stream: Stream;
  readonly store: Store;
}

/** `igloo dev`: everything in-process, all state under `<project>/.igloo/`. */
export async function openEmbeddedEngines(projectRoot: string): Promise<Engines> {
  const state = join(projectRoot, ".igloo");
  const { EmbeddedLog } = await import("../runtime/stream/embedded/embeddedLog.ts");
  // The log first: its lock file tells a second `igloo dev` on this project to stop
  // before it touches chDB's directory, which only one process may open.
  const stream = await EmbeddedLog.open({ dir: join(state, "stream") });
  try {
    const { ChdbStore } = await import("../runtime/store/chdb/chdbStore.ts");
    const store = await ChdbStore.open({ path: join(state, "chdb") });
    return { stream, store };
  } catch (error) {
    await stream.close();
    throw error;
  }
}

export async function openStore(config: ProductionConfig): Promise<Store> {
  const { ClickHouseStore } = await import("../runtime/store/clickhouse/clickhouseStore.ts");
  return await ClickHouseStore.connect({ url: config.clickhouseUrl });
}

/** `igloo start`: Kafka (or Redpanda) and a ClickHouse server, as configured. */
export async function openProductionEngines(config: ProductionConfig): Promise<Engines> {
  const store = await openStore(config);
  try {
    const { KafkaStream } = await import("../runtime/stream/kafka/kafkaStream.ts");
    const stream = await KafkaStream.connect({
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      partitions: config.kafka.partitions,
      replicationFactor: config.kafka.replicationFactor,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    });
    return { stream, store };
  } catch (error) {
    await store.close();
    throw error;
  }
}
