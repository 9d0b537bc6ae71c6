/**
 * Igloo's DDL on a replicated ClickHouse cluster (`IGLOO_CLICKHOUSE_CLUSTER`): every
 * statement that makes, changes or drops a table or view runs `ON CLUSTER`, so each
 * replica gets it, and each MergeTree-family engine becomes its Replicated twin, which
 * copies inserts between the replicas and deduplicates a block inserted twice on any of
 * them (what keeps a writer's replayed batch exactly-once when it is retried on another
 * replica).
 *
 * One home for it, in the adapter: the runtime's thirty-odd statements stay as they are
 * for chDB and a single server, and this rewrites their heads. It reads only what Igloo's
 * own SQL looks like (clickhouseSql.ts and the statements in runtime/): it is not a
 * parser, and a statement it does not recognise passes unchanged.
 *
 * Memory tables (the writers' and EarlierShapes' staging tables) live for one operation
 * on the replica that made them: they stay local, and so does their DROP.
 *
 * A replicated table's ZooKeeper path is its database and name, the same on every replica
 * whenever it is made: `CREATE TABLE IF NOT EXISTS` run again for a replica that lost its
 * table makes it a replica of the others again, not a table of its own.
 */
import { StoreError } from "../store.ts";

const IDENT = String.raw`(?:\x60(?:[^\x60\\]|\\.)*\x60|[A-Za-z_][A-Za-z0-9_]*)`;
const HEAD = new RegExp(
  String.raw`^(\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|MATERIALIZED\s+VIEW)(?:\s+IF\s+NOT\s+EXISTS)?|ALTER\s+TABLE|DROP\s+(?:TABLE|VIEW|DATABASE)(?:\s+IF\s+EXISTS)?)\s+)(${IDENT})(?:\.(${IDENT}))?`,
  "i",
);
const MERGE_TREE = /\bENGINE\s*=\s*(Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing|)MergeTree\b(?:\s*\(([^)]*)\))?/i;
const MEMORY = /\bENGINE\s*=\s*Memory\b/i;

const unquote = (ident: string): string => (ident.startsWith("`") ? ident.slice(1, -1).replace(/\\(.)/g, "$1") : ident);

export class ClusterDdl {
  readonly cluster: string;
  readonly #database: string;
  /** Memory tables made here, by name: their DROP stays local too. */
  readonly #local = new Set<string>();

  constructor(cluster: string, database: string) {
    this.cluster = cluster;
    this.#database = database;
  }

  /**
   * The table a `CREATE TABLE IF NOT EXISTS` makes, if the statement is one: the store asks
   * its replica first and skips the statement when the table is there. An ON CLUSTER
   * statement waits for every replica, so without this a process starting while one is
   * down would wait out the server's distributed DDL timeout for tables that exist.
   */
  createsIfMissing(sql: string): string | undefined {
    const head = HEAD.exec(sql);
    if (head === null || !/^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS/i.test(head[1]!) || MEMORY.test(sql)) return undefined;
    return unquote(head[3] ?? head[2]!);
  }

  /** The statement as it must run on the cluster. */
  rewrite(sql: string): string {
    const head = HEAD.exec(sql);
    if (head === null) return sql;
    const [whole, verb, first, second] = head as unknown as [string, string, string, string | undefined];
    const name = unquote(second ?? first);
    const isCreate = /^\s*CREATE/i.test(verb);
    const isDrop = /^\s*DROP/i.test(verb);
    if (isCreate && MEMORY.test(sql)) {
      this.#local.add(name);
      return sql;
    }
    if (isDrop && this.#local.delete(name)) return sql;
    // The cluster's servers run the statement in their default database unless told.
    const qualified = second !== undefined ? `${first}.${second}` : /^\s*DROP\s+DATABASE/i.test(verb) ? first : `\`${this.#database}\`.${first}`;
    let out = `${verb}${qualified} ON CLUSTER \`${this.cluster}\`${sql.slice(whole.length)}`;
    if (isCreate) {
      out = out.replace(MERGE_TREE, (_match, family: string, args: string | undefined) => {
        const path = `'/clickhouse/tables/{shard}/${this.#database}/${name}'`;
        const rest = args !== undefined && args.trim() !== "" ? `, ${args.trim()}` : "";
        return `ENGINE = Replicated${family}MergeTree(${path}, '{replica}'${rest})`;
      });
    }
    return out;
  }
}

/**
 * IGLOO_CLICKHOUSE_CLUSTER must name a cluster of this server's `remote_servers`. A
 * service that replicates by itself (ClickHouse Cloud's SharedMergeTree) wants no ON
 * CLUSTER and no Replicated engines: asked of the server, not assumed from its host name.
 */
export async function checkCluster(query: (sql: string) => Promise<Record<string, unknown>[]>, name: string, url: string): Promise<void> {
  const engines = new Set((await query("SELECT name FROM system.table_engines")).map((r) => String(r.name)));
  if (engines.has("SharedMergeTree")) {
    throw new StoreError(`IGLOO_CLICKHOUSE_CLUSTER is set, but the server at ${url} replicates its tables itself (it has SharedMergeTree, as ClickHouse Cloud does): unset IGLOO_CLICKHOUSE_CLUSTER there; its tables are replicated without ON CLUSTER`);
  }
  const clusters = (await query("SELECT DISTINCT cluster FROM system.clusters")).map((r) => String(r.cluster));
  if (!clusters.includes(name)) {
    throw new StoreError(
      `IGLOO_CLICKHOUSE_CLUSTER is \`${name}\`, which the server at ${url} does not know (its remote_servers: ${clusters.length > 0 ? clusters.join(", ") : "none"}). ` +
        "Name one of them, or configure the cluster (remote_servers, macros shard and replica, zookeeper, distributed_ddl) on every replica.",
    );
  }
}
