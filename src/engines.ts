/**
 * The composition root's choice of engines. Only this file names adapters; the runtime
 * works against the Stream and Store seams. Adapters are imported lazily: production
 * never loads chDB's native library, dev never loads kafkajs.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../runtime/observability/logger.ts";
import type { ReadLimits, Store } from "../runtime/store/store.ts";
import type { Stream } from "../runtime/stream/stream.ts";
import type { ProductionConfig } from "./config.ts";

export interface Engines {
  readonly stream: Stream;
  readonly store: Store;
}

/**
 * `<project>/.igloo/`, private to its owner: it holds every event, and the generated
 * client and library a project's code runs.
 */
export function stateDir(projectRoot: string): string {
  const state = join(projectRoot, ".igloo");
  mkdirSync(state, { recursive: true, mode: 0o700 });
  chmodSync(state, 0o700);
  return state;
}

/** `igloo dev`: everything in-process, all state under `<project>/.igloo/`. */
export async function openEmbeddedEngines(projectRoot: string, limits: ReadLimits): Promise<Engines> {
  const state = stateDir(projectRoot);
  const { EmbeddedLog } = await import("../runtime/stream/embedded/embeddedLog.ts");
  // The log first: its lock file tells a second `igloo dev` on this project to stop
  // before it touches chDB's directory, which only one process may open.
  const stream = await EmbeddedLog.open({ dir: join(state, "stream") });
  try {
    const { ChdbStore } = await import("../runtime/store/chdb/chdbStore.ts");
    const store = await ChdbStore.open({ path: join(state, "chdb"), limits });
    return { stream, store };
  } catch (error) {
    await stream.close();
    throw error;
  }
}

/** The ClickHouse server; with `reads`, also its query user, for clients' reads. */
export async function openStore(config: ProductionConfig, options: { reads?: boolean } = {}): Promise<Store> {
  const { ClickHouseStore } = await import("../runtime/store/clickhouse/clickhouseStore.ts");
  const reader = options.reads && config.clickhouseQueryUrl !== undefined ? { url: config.clickhouseQueryUrl } : undefined;
  return await ClickHouseStore.connect({ url: config.clickhouseUrl, ...(reader ? { reader, readConcurrency: config.limits.query.concurrency } : {}) });
}

/** `igloo start`: Kafka (or Redpanda) and a ClickHouse server, as configured. */
export async function openProductionEngines(config: ProductionConfig, options: { reads: boolean; logger?: Logger }): Promise<Engines> {
  const store = await openStore(config, options);
  try {
    const { KafkaStream } = await import("../runtime/stream/kafka/kafkaStream.ts");
    const stream = await KafkaStream.connect({
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      partitions: config.kafka.partitions,
      ...(config.kafka.replicationFactor === undefined ? {} : { replicationFactor: config.kafka.replicationFactor }),
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return { stream, store };
  } catch (error) {
    await store.close();
    throw error;
  }
}
