/**
 * The environment `igloo start` / `igloo migrate` need in a test: Kafka brokers, a
 * ClickHouse server (the writer and the read-only query user), an ingest and an admin key.
 */
import { serverUrl, type ClickHouseServer } from "./clickhouseServer.ts";
import { createKey } from "./igloo.ts";

export interface ProductionEnv {
  readonly keys: { readonly ingest: { key: string; entry: string }; readonly admin: { key: string; entry: string } };
  readonly env: Record<string, string>;
}

/** `name` tells this test's Kafka client apart; `settings` adds or overrides variables (partitions, replication...). */
export function productionEnv(brokers: readonly string[], clickhouse: ClickHouseServer, name: string, settings: Record<string, string> = {}): ProductionEnv {
  const keys = { ingest: createKey("ingest"), admin: createKey("admin") };
  const env: Record<string, string> = {
    IGLOO_KAFKA_BROKERS: brokers.join(","),
    IGLOO_KAFKA_PARTITIONS: "2",
    IGLOO_KAFKA_SESSION_TIMEOUT_MS: "6000",
    IGLOO_KAFKA_CLIENT_ID: `igloo-${name}-${process.pid}`,
    IGLOO_CLICKHOUSE_URL: serverUrl(clickhouse, clickhouse),
    IGLOO_CLICKHOUSE_QUERY_URL: serverUrl(clickhouse, clickhouse.reader),
    IGLOO_KEYS: [keys.ingest.entry, keys.admin.entry].join(","),
    IGLOO_HOST: "127.0.0.1",
    ...settings,
  };
  return { keys, env };
}
