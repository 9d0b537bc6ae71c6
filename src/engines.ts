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
import { loadConfig, type ProductionConfig } from "./config.ts";
import { IglooError } from "../conventions/errors.ts";

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

/**
 * The ClickHouse server; with `reads`, also its query user, for clients' reads. Several
 * URLs are replicas of one shard: a ReplicaStore fails over between them, each with the
 * query user's URL of the same position.
 */
export async function openStore(config: ProductionConfig, options: { reads?: boolean; logger?: Logger } = {}): Promise<Store> {
  const { ClickHouseStore } = await import("../runtime/store/clickhouse/clickhouseStore.ts");
  const urls = splitUrls(config.clickhouseUrl);
  const readers = config.clickhouseQueryUrl === undefined ? [] : splitUrls(config.clickhouseQueryUrl);
  if (options.reads && readers.length > 0 && readers.length !== urls.length && readers.length !== 1) {
    throw new IglooError("E_CONFIG", `IGLOO_CLICKHOUSE_QUERY_URL lists ${readers.length} URLs and IGLOO_CLICKHOUSE_URL ${urls.length}: give the query user's URL once per replica, in the same order.`);
  }
  const replica = (url: string, i: number) => {
    const reader = options.reads && readers.length > 0 ? { url: readers[readers.length === 1 ? 0 : i]! } : undefined;
    return { url, ...(config.clickhouseCluster ? { cluster: config.clickhouseCluster } : {}), ...(reader ? { reader, readConcurrency: config.limits.query.concurrency } : {}) };
  };
  if (urls.length <= 1) return await ClickHouseStore.connect(replica(urls[0] ?? config.clickhouseUrl, 0));
  const { ReplicaStore } = await import("../runtime/store/clickhouse/replicaStore.ts");
  return await ReplicaStore.connect(urls.map(replica), (health) =>
    options.logger?.warn(`ClickHouse replicas: ${health.map((h) => `${h.replica} ${h.up ? "up" : "DOWN"}${h.current ? " (in use)" : ""}`).join(", ")}`),
  );
}

/**
 * Igloo's own ClickHouse store for a command run in `dir` (plan, migrate, deploy, rollback,
 * status): only IGLOO_CLICKHOUSE_URL is required. Closed when `work` is done.
 */
export async function withStore<T>(dir: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(loadConfig(dir, process.env, ["IGLOO_CLICKHOUSE_URL"]));
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function splitUrls(text: string): string[] {
  return text
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
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
