/**
 * A replicated ClickHouse cluster for tests, on one machine: a ZooKeeper
 * (scripts/zookeeper/zookeeper.sh, jars from Maven Central) and two Debian 18.16 servers
 * (scripts/clickhouse/clickhouse.sh with its CLICKHOUSE_ZOOKEEPER_PORT family) as two
 * replicas of one shard of the cluster `igloo_cluster`. `ON CLUSTER igloo_cluster` DDL
 * reaches both; Replicated*MergeTree tables keyed `/clickhouse/tables/{shard}/...` and
 * `{replica}` replicate between them.
 *
 * `sharedClickHouseCluster()` starts one per test process, shared by every test (each owns
 * its tables); `startClickHouseCluster()` a private one, for tests that kill replicas or
 * ZooKeeper. Like the single servers of clickhouseServer.ts, everything is stopped and its
 * directories removed once the process is gone (the scripts' watchdogs: bun test runs no
 * exit hooks). Nothing is skipped: without Java, Maven or the server, the test fails with
 * the script's explanation.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { REPO, freePort, removeDir, tempDir } from "../../scripts/lib/igloo.ts";
import { freePorts, installClickHouse, serverUrl, startClickHouse, type ClickHouseServer } from "./clickhouseServer.ts";

const ZOOKEEPER_SCRIPT = join(REPO, "scripts", "zookeeper", "zookeeper.sh");
const CLUSTER_NAME = "igloo_cluster";

export interface ZooKeeperServer {
  readonly port: number;
  /** SIGKILL, keeping its data, as a crash would. */
  kill(): Promise<void>;
  /** Start again on the same data and port (after kill). */
  start(): Promise<void>;
}

export interface ClickHouseCluster {
  /** The name `ON CLUSTER` takes. */
  readonly name: string;
  readonly zookeeper: ZooKeeperServer;
  /** Two replicas of shard 01, named r1 and r2 (`{replica}`), each with kill/stop/start on its own data. */
  readonly replicas: readonly ClickHouseServer[];
  /** IGLOO_CLICKHOUSE_URL for both replicas: `http://default:<pw>@127.0.0.1:<port>/igloo,...`. */
  readonly urls: string;
  /** The same for the query user igloo_reader. */
  readonly readerUrls: string;
  /** Stops the replicas and ZooKeeper and removes their directories. */
  stop(): Promise<void>;
}

async function zookeeperSh(args: readonly string[], what: string): Promise<void> {
  const child = Bun.spawn(["bash", ZOOKEEPER_SCRIPT, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    // zookeeper.sh's watchdog kills the server once this process is gone, exit hooks or not.
    env: { ...process.env, IGLOO_ZOOKEEPER_OWNER_PID: String(process.pid) },
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) {
    throw new Error(
      `${what} failed (scripts/zookeeper/zookeeper.sh ${args.join(" ")} exited with ${code}). A ClickHouse cluster needs ` +
        `Java and Maven (apt-get install openjdk-17-jre-headless maven) and access to Maven Central.\n${err}${out}`,
    );
  }
}

async function startZooKeeper(prefix: string, taken: Set<number>): Promise<ZooKeeperServer & { stop(): Promise<void> }> {
  await zookeeperSh(["fetch"], "fetching ZooKeeper's jars from Maven Central");
  const dir = tempDir(`${prefix}-zookeeper`);
  const port = unusedPort(taken);
  process.on("exit", () => {
    Bun.spawnSync(["bash", ZOOKEEPER_SCRIPT, "stop", dir], { stdout: "ignore", stderr: "ignore" });
    removeDir(dir);
  });
  const start = () => zookeeperSh(["start", dir, String(port)], "starting ZooKeeper");
  await start();
  return {
    port,
    kill: () => zookeeperSh(["kill", dir], "killing ZooKeeper"),
    start,
    stop: async () => {
      await zookeeperSh(["stop", dir], "stopping ZooKeeper");
      removeDir(dir);
    },
  };
}

/** A free port that is none of `taken` (which it joins): ports are all picked before any server binds one. */
function unusedPort(taken: Set<number>): number {
  for (;;) {
    const port = freePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

/** A replica's HTTP port, whose native (+1) and HTTPS (+2) ports are none of `taken` either. */
function unusedServerPorts(taken: Set<number>): number {
  for (;;) {
    const port = freePorts();
    const range = [port, port + 1, port + 2];
    if (range.every((p) => !taken.has(p))) {
      for (const p of range) taken.add(p);
      return port;
    }
  }
}

export async function startClickHouseCluster(prefix = "clickhouse-cluster"): Promise<ClickHouseCluster> {
  const taken = new Set<number>();
  const [zookeeper] = await Promise.all([startZooKeeper(prefix, taken), installClickHouse()]);
  // Each replica's remote_servers lists both, so every port is chosen before either starts.
  const names = ["r1", "r2"];
  const httpPorts = names.map(() => unusedServerPorts(taken));
  const interserverPorts = names.map(() => unusedPort(taken));
  const password = randomBytes(12).toString("hex");
  const replicas = await Promise.all(
    names.map((name, i) =>
      startClickHouse(`${prefix}-${name}`, {
        port: httpPorts[i],
        password,
        env: {
          CLICKHOUSE_ZOOKEEPER_PORT: String(zookeeper.port),
          CLICKHOUSE_CLUSTER_NAME: CLUSTER_NAME,
          CLICKHOUSE_CLUSTER_REPLICAS: httpPorts.map((p) => `127.0.0.1:${p + 1}`).join(","),
          CLICKHOUSE_REPLICA_NAME: name,
          CLICKHOUSE_INTERSERVER_PORT: String(interserverPorts[i]),
        },
      }),
    ),
  );
  return {
    name: CLUSTER_NAME,
    zookeeper: { port: zookeeper.port, kill: zookeeper.kill, start: zookeeper.start },
    replicas,
    urls: replicas.map((r) => serverUrl(r, r)).join(","),
    readerUrls: replicas.map((r) => serverUrl(r, r.reader)).join(","),
    stop: async () => {
      await Promise.all(replicas.map((r) => r.stop()));
      for (const r of replicas) removeDir(r.dir);
      await zookeeper.stop();
    },
  };
}

let shared: Promise<ClickHouseCluster> | undefined;

export function sharedClickHouseCluster(): Promise<ClickHouseCluster> {
  shared ??= startClickHouseCluster("clickhouse-cluster-shared");
  return shared;
}
