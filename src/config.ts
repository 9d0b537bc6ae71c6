/**
 * Production configuration: `igloo.config.json` in the project (copied into the build),
 * overridden by `IGLOO_*` environment variables. Every setting is listed in SETTINGS with
 * its variable, config key and default; the README's table is this table.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IglooError } from "../conventions/errors.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "../runtime/limits.ts";

export interface ProductionConfig {
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly partitions: number;
    /** Unset: 3, or the number of brokers when fewer (runtime/stream/kafka/kafkaStream.ts). */
    readonly replicationFactor: number | undefined;
    readonly sessionTimeoutMs: number;
  };
  /** `http(s)://user:password@host:port/database`; several, comma-separated, are replicas to fail over between. */
  readonly clickhouseUrl: string;
  /** The read-only user for clients' queries, same form (one per replica, in the same order); required where the API is served. */
  readonly clickhouseQueryUrl: string | undefined;
  /** A cluster's name: DDL ON CLUSTER, replicated tables. */
  readonly clickhouseCluster: string | undefined;
  /** `role:hash` entries; see `igloo keys create`. */
  readonly keys: string;
  readonly port: number;
  readonly host: string;
  readonly corsOrigins: readonly string[];
  readonly limits: ServerLimits;
}

export const CONFIG_FILE = "igloo.config.json";

interface Setting {
  readonly env: string;
  /** Path in igloo.config.json. */
  readonly key: string;
  readonly fallback: string | number | undefined;
  readonly kind: "string" | "int" | "list";
  readonly doc: string;
}

export const SETTINGS: readonly Setting[] = [
  { env: "IGLOO_KAFKA_BROKERS", key: "kafka.brokers", fallback: undefined, kind: "list", doc: "Kafka or Redpanda bootstrap brokers, comma-separated host:port" },
  { env: "IGLOO_KAFKA_CLIENT_ID", key: "kafka.clientId", fallback: "igloo", kind: "string", doc: "Kafka client id" },
  { env: "IGLOO_KAFKA_PARTITIONS", key: "kafka.partitions", fallback: 6, kind: "int", doc: "partitions of each topic Igloo creates" },
  { env: "IGLOO_KAFKA_REPLICATION", key: "kafka.replicationFactor", fallback: undefined, kind: "int", doc: "replicas of each topic Igloo creates (unset: 3, or the number of brokers if fewer, with a warning)" },
  { env: "IGLOO_KAFKA_SESSION_TIMEOUT_MS", key: "kafka.sessionTimeoutMs", fallback: 30000, kind: "int", doc: "how long a silent worker keeps its partitions before another takes over" },
  {
    env: "IGLOO_CLICKHOUSE_URL",
    key: "clickhouse.url",
    fallback: undefined,
    kind: "string",
    doc: "http(s)://user:password@host:port/database; several, comma-separated, are replicas of one shard that Igloo fails over between",
  },
  {
    env: "IGLOO_CLICKHOUSE_CLUSTER",
    key: "clickhouse.cluster",
    fallback: undefined,
    kind: "string",
    doc: "the name of a ClickHouse cluster (remote_servers): every DDL runs ON CLUSTER and tables use the Replicated engines",
  },
  {
    env: "IGLOO_CLICKHOUSE_QUERY_URL",
    key: "clickhouse.queryUrl",
    fallback: undefined,
    kind: "string",
    doc: "the same for the read-only user that runs clients' queries (required by roles ingest and all; see the query user); one per replica of IGLOO_CLICKHOUSE_URL, in its order",
  },
  { env: "IGLOO_KEYS", key: "keys", fallback: undefined, kind: "string", doc: "comma-separated role:hash entries from `igloo keys create` (required)" },
  { env: "IGLOO_PORT", key: "port", fallback: 4000, kind: "int", doc: "HTTP port" },
  { env: "IGLOO_HOST", key: "host", fallback: "0.0.0.0", kind: "string", doc: "interface to listen on" },
  { env: "IGLOO_CORS_ORIGINS", key: "corsOrigins", fallback: undefined, kind: "list", doc: "origins browser pages may call the API from, comma-separated, or *" },
];

const L = DEFAULT_LIMITS;
const Q = DEFAULT_LIMITS.query;

/** The limits (runtime/limits.ts), for `igloo dev` and `igloo start` alike. */
export const LIMIT_SETTINGS: readonly Setting[] = [
  { env: "IGLOO_MAX_BODY_BYTES", key: "maxBodyBytes", fallback: L.maxBodyBytes, kind: "int", doc: "largest request body, in bytes" },
  { env: "IGLOO_BODY_TIMEOUT_MS", key: "limits.bodyTimeoutMs", fallback: L.bodyTimeoutMs, kind: "int", doc: "longest a client may take to send a request body" },
  { env: "IGLOO_MAX_RECORDS", key: "limits.maxRecords", fallback: L.maxRecords, kind: "int", doc: "records in one ingest request" },
  { env: "IGLOO_MAX_INVALID_RECORDS", key: "limits.maxInvalidRecords", fallback: L.maxInvalidRecords, kind: "int", doc: "invalid records one ingest request may hold before it is refused whole" },
  { env: "IGLOO_MAX_WAIT_MS", key: "limits.maxWaitMs", fallback: L.maxWaitMs, kind: "int", doc: "largest x-igloo-wait-ms" },
  { env: "IGLOO_MAX_SUBSCRIPTIONS", key: "limits.maxSubscriptions", fallback: L.maxSubscriptions, kind: "int", doc: "live subscriptions one process holds" },
  { env: "IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT", key: "limits.maxSubscriptionsPerClient", fallback: L.maxSubscriptionsPerClient, kind: "int", doc: "live subscriptions of one client (key or address)" },
  { env: "IGLOO_LIVE_CPU_PERCENT", key: "limits.liveCpuPercent", fallback: L.liveCpuPercent, kind: "int", doc: "share of the machine's CPU, in percent, that re-reading views for live subscriptions may take (less while ingest is under pressure)" },
  { env: "IGLOO_QUERY_TIMEOUT_MS", key: "limits.query.timeoutMs", fallback: Q.timeoutMs, kind: "int", doc: "longest a query or view read may run" },
  { env: "IGLOO_QUERY_MAX_MEMORY_BYTES", key: "limits.query.maxMemoryBytes", fallback: Q.maxMemoryBytes, kind: "int", doc: "memory one query may use in the engine" },
  { env: "IGLOO_QUERY_MAX_ROWS", key: "limits.query.maxResultRows", fallback: Q.maxResultRows, kind: "int", doc: "rows one query may return" },
  { env: "IGLOO_QUERY_MAX_BYTES", key: "limits.query.maxResultBytes", fallback: Q.maxResultBytes, kind: "int", doc: "bytes one query may return" },
  { env: "IGLOO_QUERY_CONCURRENCY", key: "limits.query.concurrency", fallback: Q.concurrency, kind: "int", doc: "queries and view reads running at once" },
  { env: "IGLOO_QUERY_QUEUE_MS", key: "limits.query.queueWaitMs", fallback: Q.queueWaitMs, kind: "int", doc: "longest a query waits for its turn before a 503" },
];

function lookup(file: Record<string, unknown>, key: string): unknown {
  let value: unknown = file;
  for (const part of key.split(".")) value = (value as Record<string, unknown> | undefined)?.[part];
  return value;
}

function value(setting: Setting, file: Record<string, unknown>, env: Record<string, string | undefined>): string | number | string[] {
  const fromEnv = env[setting.env];
  const raw: unknown = fromEnv !== undefined && fromEnv !== "" ? fromEnv : (lookup(file, setting.key) ?? setting.fallback);
  const where = fromEnv !== undefined && fromEnv !== "" ? setting.env : `${CONFIG_FILE} ${setting.key}`;
  if (raw === undefined) {
    throw new IglooError("E_CONFIG", `${setting.env} is not set (nor ${setting.key} in ${CONFIG_FILE}): ${setting.doc}.`);
  }
  switch (setting.kind) {
    case "int": {
      const n = Number(raw);
      if (!Number.isInteger(n) || n <= 0) throw new IglooError("E_CONFIG", `${where} must be a positive integer, got ${JSON.stringify(raw)}.`);
      return n;
    }
    case "list": {
      const list = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
      const items = list.map((s) => s.trim()).filter((s) => s.length > 0);
      if (items.length === 0) throw new IglooError("E_CONFIG", `${where} is empty: ${setting.doc}.`);
      return items;
    }
    default:
      return String(raw);
  }
}

/** Settings that must be given; the others have defaults or are optional. */
const REQUIRED = ["IGLOO_KAFKA_BROKERS", "IGLOO_CLICKHOUSE_URL", "IGLOO_KEYS"];

function readConfigFile(dir: string): Record<string, unknown> {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new IglooError("E_CONFIG", `${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The limits from the environment, else `igloo.config.json` in `dir`, else the defaults. */
export function loadLimits(dir: string, env: Record<string, string | undefined> = process.env): ServerLimits {
  const file = readConfigFile(dir);
  const get = (envName: string) => value(LIMIT_SETTINGS.find((s) => s.env === envName)!, file, env) as number;
  return {
    maxBodyBytes: get("IGLOO_MAX_BODY_BYTES"),
    bodyTimeoutMs: get("IGLOO_BODY_TIMEOUT_MS"),
    maxRecords: get("IGLOO_MAX_RECORDS"),
    maxInvalidRecords: get("IGLOO_MAX_INVALID_RECORDS"),
    maxWaitMs: get("IGLOO_MAX_WAIT_MS"),
    maxSubscriptions: get("IGLOO_MAX_SUBSCRIPTIONS"),
    maxSubscriptionsPerClient: get("IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT"),
    liveCpuPercent: get("IGLOO_LIVE_CPU_PERCENT"),
    query: {
      timeoutMs: get("IGLOO_QUERY_TIMEOUT_MS"),
      maxMemoryBytes: get("IGLOO_QUERY_MAX_MEMORY_BYTES"),
      maxResultRows: get("IGLOO_QUERY_MAX_ROWS"),
      maxResultBytes: get("IGLOO_QUERY_MAX_BYTES"),
      concurrency: get("IGLOO_QUERY_CONCURRENCY"),
      queueWaitMs: get("IGLOO_QUERY_QUEUE_MS"),
    },
  };
}

export function loadConfig(dir: string, env: Record<string, string | undefined> = process.env, required: readonly string[] = REQUIRED): ProductionConfig {
  const file = readConfigFile(dir);
  const get = (envName: string): string | number | string[] | undefined => {
    const setting = SETTINGS.find((s) => s.env === envName)!;
    if (!required.includes(envName) && env[envName] === undefined && lookup(file, setting.key) === undefined && setting.fallback === undefined) return undefined;
    return value(setting, file, env);
  };
  return {
    kafka: {
      brokers: (get("IGLOO_KAFKA_BROKERS") as string[] | undefined) ?? [],
      clientId: get("IGLOO_KAFKA_CLIENT_ID") as string,
      partitions: get("IGLOO_KAFKA_PARTITIONS") as number,
      replicationFactor: get("IGLOO_KAFKA_REPLICATION") as number | undefined,
      sessionTimeoutMs: get("IGLOO_KAFKA_SESSION_TIMEOUT_MS") as number,
    },
    clickhouseUrl: (get("IGLOO_CLICKHOUSE_URL") as string | undefined) ?? "",
    clickhouseQueryUrl: get("IGLOO_CLICKHOUSE_QUERY_URL") as string | undefined,
    clickhouseCluster: get("IGLOO_CLICKHOUSE_CLUSTER") as string | undefined,
    keys: (get("IGLOO_KEYS") as string | undefined) ?? "",
    port: get("IGLOO_PORT") as number,
    host: get("IGLOO_HOST") as string,
    corsOrigins: (get("IGLOO_CORS_ORIGINS") as string[] | undefined) ?? [],
    limits: loadLimits(dir, env),
  };
}
