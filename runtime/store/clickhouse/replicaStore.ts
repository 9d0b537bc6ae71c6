/**
 * Several replicas of one ClickHouse shard (IGLOO_CLICKHOUSE_URL lists them, comma-
 * separated) as one store that fails over. Everything goes to the first replica in the
 * list that is up; when a call finds it unreachable, it is marked down and the call is
 * made again on the next one. A probe asks the replicas that are down once a second, and
 * traffic returns to an earlier one in the list as soon as it answers.
 *
 * Retrying is safe for what Igloo sends: reads; DDL, which is idempotent (IF NOT EXISTS,
 * IF EXISTS) or planned from the live schema just before; and inserts, because a
 * replicated table drops a block it already has, whichever replica took it first (the
 * writer resends the same bytes; ClickHouse keeps the hashes of recent blocks in
 * ZooKeeper, shared by the replicas).
 *
 * A read that already streamed rows when its replica died fails; its client retries.
 */
import { StoreError, type ColumnInfo, type InsertOptions, type QueryParams, type QueryResult, type ReadOptions, type ReplicaHealth, type RowStream, type Store, type StoreCapabilities } from "../store.ts";
import { classifyEngineError } from "../engineErrors.ts";
import { ClickHouseStore, type ClickHouseStoreOptions } from "./clickhouseStore.ts";
import { resolveConnection } from "./connectionOptions.ts";
import { ClusterDdl } from "./clusterDdl.ts";

/** How often replicas that are down are asked again. */
const PROBE_MS = 1_000;

interface Member {
  readonly replica: string;
  readonly options: ClickHouseStoreOptions;
  store: ClickHouseStore | undefined;
  up: boolean;
  /** Why it is down, for the message when every replica is. */
  error: string;
}

export class ReplicaStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly database: string;
  readonly backgroundReads: number;
  readonly #members: Member[];
  readonly #probe: ReturnType<typeof setInterval>;
  #probing = false;
  readonly #onChange: ((health: readonly ReplicaHealth[]) => void) | undefined;

  private constructor(members: Member[], first: ClickHouseStore, onChange: ((health: readonly ReplicaHealth[]) => void) | undefined) {
    this.#members = members;
    this.capabilities = first.capabilities;
    this.database = first.database;
    this.backgroundReads = first.backgroundReads;
    this.#onChange = onChange;
    this.#probe = setInterval(() => void this.#probeDown(), PROBE_MS);
    this.#probe.unref?.();
  }

  /**
   * Connects to every replica it can; one must answer. `onChange` hears of each replica
   * going down or coming back (for logs).
   */
  static async connect(replicas: readonly ClickHouseStoreOptions[], onChange?: (health: readonly ReplicaHealth[]) => void): Promise<ReplicaStore> {
    // One ClusterDdl for all: a staging table made on one replica is dropped locally on another.
    const cluster = replicas[0]?.cluster;
    const ddl = typeof cluster === "string" ? new ClusterDdl(cluster, resolveConnection(replicas[0]!).database) : cluster;
    const members: Member[] = replicas.map((options) => ({
      replica: new URL(resolveConnection(options).url).host,
      options: { ...options, ...(ddl ? { cluster: ddl } : {}) },
      store: undefined,
      up: false,
      error: "not connected yet",
    }));
    await Promise.all(
      members.map(async (member) => {
        try {
          member.store = await ClickHouseStore.connect(member.options);
          member.up = true;
        } catch (error) {
          member.error = error instanceof Error ? error.message : String(error);
        }
      }),
    );
    const first = members.find((m) => m.up)?.store;
    if (first === undefined) {
      throw new StoreError(`no ClickHouse replica answers: ${members.map((m) => `${m.replica}: ${m.error}`).join("; ")}`, { kind: "unavailable" });
    }
    const database = first.database;
    const other = members.find((m) => m.store !== undefined && m.store.database !== database);
    if (other !== undefined) throw new StoreError(`the replicas in IGLOO_CLICKHOUSE_URL name different databases (${database}, ${other.store!.database}): they must be one`);
    return new ReplicaStore(members, first, onChange);
  }

  health(): readonly ReplicaHealth[] {
    const current = this.#members.find((m) => m.up);
    return this.#members.map((m) => ({ replica: m.replica, up: m.up, current: m === current }));
  }

  replicaStores(): readonly { readonly replica: string; readonly store: Store }[] {
    return this.#members.filter((m) => m.up && m.store !== undefined).map((m) => ({ replica: m.replica, store: m.store! }));
  }

  /** Runs `call` on the first replica that is up, moving on while replicas turn out unreachable. */
  async #run<T>(call: (store: ClickHouseStore) => Promise<T>): Promise<T> {
    let failure: unknown;
    for (const member of this.#members) {
      if (!member.up || member.store === undefined) continue;
      try {
        return await call(member.store);
      } catch (error) {
        if (classifyEngineError(error) !== "unavailable") throw error;
        failure = error;
        this.#mark(member, false, error instanceof Error ? error.message : String(error));
      }
    }
    throw failure ?? new StoreError(`no ClickHouse replica answers: ${this.#members.map((m) => `${m.replica}: ${m.error}`).join("; ")}`, { kind: "unavailable", publicMessage: "the database cannot be reached right now; retry later" });
  }

  #mark(member: Member, up: boolean, error = ""): void {
    if (member.up === up) return;
    member.up = up;
    member.error = error;
    this.#onChange?.(this.health());
  }

  async #probeDown(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      await Promise.all(
        this.#members
          .filter((m) => !m.up)
          .map(async (member) => {
            try {
              if (member.store === undefined) member.store = await ClickHouseStore.connect(member.options);
              else await member.store.query("SELECT 1");
              this.#mark(member, true);
            } catch (error) {
              member.error = error instanceof Error ? error.message : String(error);
            }
          }),
      );
    } finally {
      this.#probing = false;
    }
  }

  exec(sql: string, params?: QueryParams): Promise<void> {
    return this.#run((store) => store.exec(sql, params));
  }

  query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
    return this.#run((store) => store.query<Row>(sql, params));
  }

  read(sql: string, params: QueryParams | undefined, options?: ReadOptions): Promise<RowStream> {
    return this.#run((store) => store.read(sql, params, options));
  }

  explainAst(sql: string, params: QueryParams | undefined): Promise<string[]> {
    return this.#run((store) => store.explainAst(sql, params));
  }

  insertJsonEachRow(table: string, body: Uint8Array, options?: InsertOptions): Promise<void> {
    return this.#run((store) => store.insertJsonEachRow(table, body, options));
  }

  listTables(): Promise<string[]> {
    return this.#run((store) => store.listTables());
  }

  describeTable(table: string): Promise<ColumnInfo[] | undefined> {
    return this.#run((store) => store.describeTable(table));
  }

  async close(): Promise<void> {
    clearInterval(this.#probe);
    await Promise.all(this.#members.map((m) => m.store?.close()));
  }
}
