/**
 * Production configuration: `igloo.config.json` in the project (copied into the build),
 * overridden by `IGLOO_*` environment variables. Every setting is listed in SETTINGS with
 * its variable, config key and default; the README's table is this table.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IglooError } from "../conventions/errors.ts";

export interface ProductionConfig {
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly partitions: number;
    readonly replicationFactor: number;
    readonly sessionTimeoutMs: number;
  };
  /** `http(s)://user:password@host:port/database`. */
  readonly clickhouseUrl: string;
  /** `role:hash` entries; see `igloo keys create`. */
  readonly keys: string;
  readonly port: number;
  readonly host: string;
  readonly maxBodyBytes: number;
  readonly corsOrigins: readonly string[];
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
  { env: "IGLOO_KAFKA_REPLICATION", key: "kafka.replicationFactor", fallback: 3, kind: "int", doc: "replicas of each topic Igloo creates (1 for a single broker)" },
  { env: "IGLOO_KAFKA_SESSION_TIMEOUT_MS", key: "kafka.sessionTimeoutMs", fallback: 30000, kind: "int", doc: "how long a silent worker keeps its partitions before another takes over" },
  { env: "IGLOO_CLICKHOUSE_URL", key: "clickhouse.url", fallback: undefined, kind: "string", doc: "http(s)://user:password@host:port/database" },
  { env: "IGLOO_KEYS", key: "keys", fallback: undefined, kind: "string", doc: "comma-separated role:hash entries from `igloo keys create` (required)" },
  { env: "IGLOO_PORT", key: "port", fallback: 4000, kind: "int", doc: "HTTP port" },
  { env: "IGLOO_HOST", key: "host", fallback: "0.0.0.0", kind: "string", doc: "interface to listen on" },
  { env: "IGLOO_MAX_BODY_BYTES", key: "maxBodyBytes", fallback: 16 * 1024 * 1024, kind: "int", doc: "largest ingest body" },
  { env: "IGLOO_CORS_ORIGINS", key: "corsOrigins", fallback: undefined, kind: "list", doc: "origins browser pages may call the API from, comma-separated, or *" },
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

export function loadConfig(dir: string, env: Record<string, string | undefined> = process.env, required: readonly string[] = REQUIRED): ProductionConfig {
  const path = join(dir, CONFIG_FILE);
  let file: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      file = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new IglooError("E_CONFIG", `${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
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
      replicationFactor: get("IGLOO_KAFKA_REPLICATION") as number,
      sessionTimeoutMs: get("IGLOO_KAFKA_SESSION_TIMEOUT_MS") as number,
    },
    clickhouseUrl: (get("IGLOO_CLICKHOUSE_URL") as string | undefined) ?? "",
    keys: (get("IGLOO_KEYS") as string | undefined) ?? "",
    port: get("IGLOO_PORT") as number,
    host: get("IGLOO_HOST") as string,
    maxBodyBytes: get("IGLOO_MAX_BODY_BYTES") as number,
    corsOrigins: (get("IGLOO_CORS_ORIGINS") as string[] | undefined) ?? [],
  };
}
