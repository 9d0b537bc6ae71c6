/**
 * Everything a client can make a server hold (memory, time, connections, queries) has a
 * limit here, with a default a laptop and a production node both live with. The CLI reads
 * them from the environment and `igloo.config.json` (src/config.ts, where each has its
 * variable); every limit a client meets answers with a message naming that variable.
 */
import type { ReadLimits } from "./store/store.ts";

export interface QueryLimits extends ReadLimits {
  /** Longest a read waits for one of the `concurrency` slots before a 503. */
  readonly queueWaitMs: number;
}

export interface ServerLimits {
  /** Largest request body. */
  readonly maxBodyBytes: number;
  /** Longest a client may take to send a request body, however slowly it trickles. */
  readonly bodyTimeoutMs: number;
  /** Records in one ingest request. */
  readonly maxRecords: number;
  /**
   * Invalid records one ingest request may hold; past this the whole request is refused
   * (nothing stored), instead of a dead letter for each, since a sender that gets most of
   * a batch wrong has a bug that dead letters would only bury.
   */
  readonly maxInvalidRecords: number;
  /** Largest `x-igloo-wait-ms`. */
  readonly maxWaitMs: number;
  /** Live subscriptions held by this process, and by one client (one key, or one address). */
  readonly maxSubscriptions: number;
  readonly maxSubscriptionsPerClient: number;
  /** The share of the machine's CPU, in percent, that live subscriptions' reads may take (less while ingest is under pressure). */
  readonly liveCpuPercent: number;
  readonly query: QueryLimits;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: ServerLimits = {
  maxBodyBytes: 16 * MiB,
  bodyTimeoutMs: 30_000,
  maxRecords: 100_000,
  maxInvalidRecords: 1_000,
  maxWaitMs: 60_000,
  maxSubscriptions: 1_000,
  maxSubscriptionsPerClient: 100,
  liveCpuPercent: 50,
  query: {
    timeoutMs: 30_000,
    maxMemoryBytes: 1024 * MiB,
    maxResultRows: 1_000_000,
    maxResultBytes: 256 * MiB,
    concurrency: 4,
    queueWaitMs: 10_000,
  },
};

/** `16 MiB`, `512 KiB`, `200 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB && bytes % (MiB / 16) === 0) return `${bytes / MiB} MiB`;
  if (bytes >= 1024 && bytes % 64 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
