/**
 * Real Kafka brokers for tests. scripts/kafka/kafka.sh fetches Apache Kafka's jars from
 * Maven Central once (into .cache/kafka) and runs a single-node KRaft broker; this file
 * starts one on free ports and stops it when the process exits. Needs Java 17+ and
 * Maven: without them the Kafka tests fail, they never skip.
 *
 * `bun test` runs no exit handlers, so there the broker is stopped (and its directory
 * deleted) by kafka.sh's watchdog, which sees this process gone; the exit hook covers
 * `bun run`, e.g. bench/kafka.ts failing halfway.
 */
import { join } from "node:path";
import { freePort, removeDir, tempDir } from "../../scripts/lib/igloo.ts";

const SCRIPT = join(import.meta.dir, "../../scripts/kafka/kafka.sh");

export interface KafkaBroker {
  readonly brokers: string[];
  /** Stops the broker now (tests of an unreachable Kafka); it is stopped at exit anyway. */
  stop(): Promise<void>;
  /** Kills the broker with SIGKILL, keeping its data, as a crash would. */
  kill9(): Promise<void>;
  /** Starts a killed broker again on its data and ports. */
  restart(): Promise<void>;
}

let shared: Promise<KafkaBroker> | undefined;

/** One broker for the whole test process; each test uses topics and groups of its own. */
export async function sharedKafka(): Promise<{ brokers: string[] }> {
  shared ??= startKafka();
  const { brokers } = await shared;
  return { brokers };
}

/** A broker of one's own, in a temporary directory. */
export async function startKafka(): Promise<KafkaBroker> {
  await kafkaSh(["fetch"], "fetching Kafka's jars from Maven Central");
  const dir = tempDir("kafka");
  const port = freePort();
  const controllerPort = freePort();
  let stopped = false;
  // "exit" handlers must be synchronous, hence spawnSync.
  const stopAtExit = () => {
    if (stopped) return;
    stopped = true;
    Bun.spawnSync(["bash", SCRIPT, "stop", dir]);
    removeDir(dir);
  };
  process.on("exit", stopAtExit);
  try {
    await kafkaSh(["start", dir, String(port), String(controllerPort)], "starting a Kafka broker");
  } catch (error) {
    stopAtExit();
    throw error;
  }
  return {
    brokers: [`127.0.0.1:${port}`],
    kill9: async () => {
      const pid = Number(await Bun.file(join(dir, "kafka.pid")).text());
      process.kill(pid, "SIGKILL");
      while (isAlive(pid)) await Bun.sleep(20);
    },
    restart: () => kafkaSh(["start", dir, String(port), String(controllerPort)], "restarting a Kafka broker"),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      process.off("exit", stopAtExit);
      await kafkaSh(["stop", dir], "stopping a Kafka broker");
      removeDir(dir);
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function kafkaSh(args: string[], what: string): Promise<void> {
  const child = Bun.spawn(["bash", SCRIPT, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    // kafka.sh's watchdog stops the broker once this process is gone, exit hooks or not.
    env: { ...process.env, IGLOO_KAFKA_OWNER_PID: String(process.pid) },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) {
    throw new Error(
      `${what} failed (scripts/kafka/kafka.sh ${args.join(" ")} exited with ${code}). The Kafka tests need Java 17+ and Maven ` +
        `(apt-get install openjdk-17-jre-headless maven) and access to Maven Central.\n${stderr}${stdout}`,
    );
  }
}
