/**
 * The `igloo` command line: the composition root. It reads flags and environment,
 * picks engines, and hands them to the runtime.
 */
import { defineCommand, runMain } from "citty";
import { IglooError } from "../conventions/errors.ts";
import { consoleLogger, type Logger } from "../runtime/observability/logger.ts";
import { startDev } from "./commands/dev.ts";
import { initMessage, initProject } from "./commands/init.ts";
import { formatTable, runQuery } from "./commands/query.ts";
import { VERSION } from "./version.ts";
import { buildProject } from "./commands/build.ts";
import { checkProject, formatCheckSummary } from "./commands/check.ts";
import { formatReplay, replayDeadLetters } from "./commands/deadLetters.ts";
import { DEFAULT_CLIENT_OUT, writeClient } from "./commands/generate.ts";
import { dirname } from "node:path";
import { isProject, loadProject } from "../conventions/project.ts";
import { readViewDescriptions, writeProjectLib } from "./generate/projectLib.ts";
import { runPlan } from "./commands/migrate.ts";
import { startProduction } from "./commands/start.ts";
import { deployProject, deploymentStatus, formatRollout, formatStatus, rollbackProject, type DeployOptions } from "./commands/deploy.ts";
import { generateKey, isRole } from "../runtime/server/auth.ts";
import { loadLimits } from "./config.ts";

function listSetting(flag: string | undefined, env: string | undefined): string[] {
  return (flag ?? env ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

const DEFAULT_PORT = 4000;
/** After SIGINT/SIGTERM, the longest a stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 30_000;

/**
 * Runs the server `start` gives until SIGINT/SIGTERM, then `stop()`s it once; a second
 * signal, or a stop that takes longer than STOP_DEADLINE_MS (an engine that hangs), exits
 * at once. What was acknowledged is in the log either way, and written into the tables on
 * the next start. The handlers go in before anything starts, so a signal during start-up
 * still stops the server cleanly once it is up.
 */
async function serveUntilSignal(logger: Pick<Logger, "info" | "error">, start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  let server: Promise<{ stop(): Promise<void> }> | undefined;
  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) process.exit(130);
    logger.info(`${signal}: stopping (acknowledged records are safe in the log)...`);
    setTimeout(() => {
      logger.error(`the stop took longer than ${STOP_DEADLINE_MS / 1000} s; exiting now. Acknowledged records are safe in the log and are written on the next start.`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    (server ?? Promise.reject(new Error("not started")))
      .then((s) => s.stop())
      .then(
        () => {
          logger.info("stopped.");
          process.exit(0);
        },
        (error: unknown) => {
          logger.error(`stop failed: ${error instanceof Error ? error.message : String(error)}`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  server = start();
  await server;
}

function intSetting(name: string, flag: string | undefined, env: string | undefined, fallback: number): number {
  const raw = flag ?? env;
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new IglooError("E_CONFIG", `${name} must be a positive integer, got \`${raw}\`.`);
  return value;
}

/**
 * Prints an error as one clear line and exits non-zero. Igloo's own errors say what to do;
 * anything else shows its message too, and its stack with IGLOO_DEBUG=1.
 */
function fail(error: unknown): never {
  if (error instanceof IglooError) console.error(`error: ${error.message}`);
  else if (process.env.IGLOO_DEBUG) console.error(error);
  else console.error(`error: ${error instanceof Error ? error.message : String(error)} (IGLOO_DEBUG=1 shows where)`);
  process.exit(1);
}

function guarded<C>(run: (context: C) => unknown): (context: C) => Promise<void> {
  return async (context) => {
    try {
      await run(context);
    } catch (error) {
      fail(error);
    }
  };
}

/**
 * A project command, recorded in Igloo's own events (`igloo_events`, kind `command`) by
 * the project's running `igloo dev`, when there is one: at IGLOO_URL, else the default
 * port on this machine. Nothing goes anywhere else, and a missing or busy dev server
 * costs the command at most a second, usually nothing (a refused connection on loopback).
 */
async function tellDev(name: string, ms: number, failure?: string, at?: string): Promise<void> {
  if (!isProject(process.cwd())) return;
  const url = at ?? process.env.IGLOO_URL ?? `http://127.0.0.1:${process.env.IGLOO_PORT ?? DEFAULT_PORT}`;
  const event = { ts: new Date().toISOString(), kind: "command", subject: name, detail: failure ?? "", durationMs: Math.round(ms), count: 1 };
  const key = process.env.IGLOO_KEY;
  try {
    await fetch(`${url}/ingest/igloo_events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(1_000),
    });
  } catch {
    // No dev server, or not one that answers: nothing to record it in.
  }
}

/** guarded, and told to the project's dev server once it ran (tellDev; `at`: the server the command itself used). */
function recorded<C>(name: string, run: (context: C) => unknown, at?: (context: C) => string | undefined): (context: C) => Promise<void> {
  return guarded(async (context: C) => {
    const started = performance.now();
    let failure: string | undefined;
    try {
      await run(context);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      await tellDev(name, performance.now() - started, failure, at?.(context));
    }
  });
}

const init = defineCommand({
  meta: { name: "init", description: "Create a new project from the template" },
  args: { dir: { type: "positional", required: true, description: "Directory to create" } },
  run: guarded(({ args }) => {
    console.log(initMessage(initProject(args.dir)));
  }),
});

const dev = defineCommand({
  meta: { name: "dev", description: "Run the project on embedded engines, reloading on save" },
  args: {
    port: { type: "string", description: `Port (default ${DEFAULT_PORT}, or IGLOO_PORT)` },
    host: { type: "string", description: "Interface to listen on (default 127.0.0.1, or IGLOO_HOST); beyond loopback every request needs a key" },
    "allowed-hosts": { type: "string", description: "Host names answered besides localhost and IP addresses, comma-separated (or IGLOO_ALLOWED_HOSTS)" },
    "cors-origins": { type: "string", description: "Origins of web pages that may call, besides loopback pages, comma-separated (or IGLOO_CORS_ORIGINS)" },
    "max-body-bytes": { type: "string", description: "Largest request body (default 16 MiB, or IGLOO_MAX_BODY_BYTES)" },
    "allow-destructive": { type: "boolean", description: "Apply schema changes that drop or rewrite data" },
  },
  run: guarded(async ({ args }) => {
    const logger = consoleLogger();
    await serveUntilSignal(logger, () => {
      const root = process.cwd();
      const limits = loadLimits(root);
      const devKey = process.env.IGLOO_DEV_KEY;
      return startDev({
        root,
        port: intSetting("--port", args.port, process.env.IGLOO_PORT, DEFAULT_PORT),
        host: args.host ?? process.env.IGLOO_HOST ?? "127.0.0.1",
        allowedHosts: listSetting(args["allowed-hosts"], process.env.IGLOO_ALLOWED_HOSTS),
        corsOrigins: listSetting(args["cors-origins"], process.env.IGLOO_CORS_ORIGINS),
        ...(devKey ? { key: devKey } : {}),
        limits: { ...limits, maxBodyBytes: intSetting("--max-body-bytes", args["max-body-bytes"], undefined, limits.maxBodyBytes) },
        allowDestructive: args["allow-destructive"] === true,
        logger,
      });
    });
  }),
});

const query = defineCommand({
  meta: { name: "query", description: "Run a read-only SQL query against the running project" },
  args: {
    sql: { type: "positional", required: true, description: "SELECT ..." },
    url: { type: "string", description: "Igloo's URL (default http://127.0.0.1:4000, or IGLOO_URL)" },
    json: { type: "boolean", description: "Print the rows as a JSON array (as the API returns them) instead of a table" },
  },
  run: recorded("query", async ({ args }) => {
    const url = args.url ?? process.env.IGLOO_URL ?? `http://127.0.0.1:${process.env.IGLOO_PORT ?? DEFAULT_PORT}`;
    const rows = await runQuery(args.sql, url, process.env.IGLOO_KEY);
    console.log(args.json ? JSON.stringify(rows) : formatTable(rows));
  }, ({ args }) => args.url),
});

const deadLetters = defineCommand({
  meta: { name: "dead-letters", description: "Work with the records Igloo could not take (igloo_dead_letters)" },
  subCommands: {
    replay: defineCommand({
      meta: { name: "replay", description: "Feed a model's or function's dead letters again, after a fix; each is stored once" },
      args: {
        source: { type: "string", required: true, description: "The model or function named in the dead letters' `source`" },
        since: { type: "string", description: "Only dead letters from this ISO-8601 time on" },
        url: { type: "string", description: "Igloo's URL (default http://127.0.0.1:4000, or IGLOO_URL); IGLOO_KEY holds an admin key" },
      },
      run: recorded("dead-letters replay", async ({ args }) => {
        const url = args.url ?? process.env.IGLOO_URL ?? `http://127.0.0.1:${process.env.IGLOO_PORT ?? DEFAULT_PORT}`;
        const report = await replayDeadLetters(url, { source: args.source, ...(args.since ? { since: args.since } : {}) }, process.env.IGLOO_KEY);
        console.log(formatReplay(report));
      }),
    }),
  },
});

const build = defineCommand({
  meta: { name: "build", description: "Write a deployable directory: the binary, compiled conventions and a manifest" },
  args: { out: { type: "string", description: "Output directory (default <project>/.igloo/build)" } },
  run: recorded("build", async ({ args }) => {
    const { dir, manifest, check } = await buildProject(process.cwd(), args.out);
    console.log(formatCheckSummary(check));
    console.log(`built ${dir}: ${manifest.models.length} models, ${manifest.functions.length} functions, ${manifest.views.length} views`);
  }),
});

const check = defineCommand({
  meta: { name: "check", description: "Check the project without running it (models, function types, views in the engine); exit 1 on a problem" },
  run: recorded("check", async () => {
    const started = performance.now();
    const result = await checkProject(process.cwd());
    if (result.problems.length === 0) {
      console.log(formatCheckSummary(result));
      return;
    }
    for (const problem of result.problems) console.error(problem.message);
    console.error(formatCheckSummary(result));
    await tellDev("check", performance.now() - started, `${result.problems.length} problem(s)`);
    process.exit(1);
  }),
});

const start = defineCommand({
  meta: { name: "start", description: "Run in production (Kafka + ClickHouse): the deployed version, or else the build directory it runs in; follows later deploys" },
  args: {
    role: { type: "string", description: "ingest | worker | all (default all)" },
    port: { type: "string", description: "Port (default IGLOO_PORT or 4000)" },
  },
  run: guarded(async ({ args }) => {
    const role = args.role ?? "all";
    if (role !== "ingest" && role !== "worker" && role !== "all") throw new IglooError("E_CONFIG", `--role must be ingest, worker or all, got \`${role}\`.`);
    const logger = consoleLogger({ json: true });
    await serveUntilSignal(logger, () =>
      startProduction({ dir: process.cwd(), role, logger, ...(args.port ? { port: intSetting("--port", args.port, undefined, DEFAULT_PORT) } : {}) }),
    );
  }),
});

const plan = defineCommand({
  meta: { name: "plan", description: "Show the changes between the project (or build) and the live database" },
  args: { json: { type: "boolean", description: "Print the plan as JSON" } },
  run: guarded(async ({ args }) => {
    const result = await runPlan(process.cwd(), { apply: false, allowDestructive: false });
    const { text, ...plan } = result;
    console.log(args.json ? JSON.stringify(plan, null, 2) : text);
    if (plan.drift.length > 0) process.exit(2);
  }),
});

const migrate = defineCommand({
  meta: { name: "migrate", description: "Apply the plan to the live database and record it" },
  args: { "allow-destructive": { type: "boolean", description: "Apply changes that drop or rewrite data" } },
  run: guarded(async ({ args }) => {
    const { text } = await runPlan(process.cwd(), { apply: true, allowDestructive: args["allow-destructive"] === true });
    console.log(`${text}\nmigrated.`);
  }),
});

const deployArgs = {
  "allow-destructive": { type: "boolean", description: "Apply changes that drop or rewrite data" },
  "wait-ms": { type: "string", description: "How long each step waits for the running processes (default 60000)" },
} as const;

/** What deploy and rollback take from their flags; output goes to the terminal. */
function deployOptions(args: { "allow-destructive"?: boolean; "wait-ms"?: string }, check: boolean): DeployOptions {
  return {
    check,
    allowDestructive: args["allow-destructive"] === true,
    ...(args["wait-ms"] ? { waitMs: intSetting("--wait-ms", args["wait-ms"], undefined, 60_000) } : {}),
    say: (line) => console.log(line),
  };
}

const deploy = defineCommand({
  meta: { name: "deploy", description: "Check the project, migrate the live database online and switch the running processes to it" },
  args: { check: { type: "boolean", description: "Only print the plan; exit 1 when it is destructive or the database drifted" }, ...deployArgs },
  run: guarded(async ({ args }) => {
    const check = args.check === true;
    const report = await deployProject(process.cwd(), deployOptions(args, check));
    console.log(formatRollout(report, check));
    if (check && (report.plan.destructive || report.plan.drift.length > 0)) process.exit(1);
  }),
});

const rollback = defineCommand({
  meta: { name: "rollback", description: "Return the running processes to the version deployed before this one" },
  args: deployArgs,
  run: guarded(async ({ args }) => {
    const report = await rollbackProject(process.cwd(), deployOptions(args, false));
    console.log(formatRollout(report, false));
  }),
});

const status = defineCommand({
  meta: { name: "status", description: "List the deployed version and the running processes: role, version, backlog" },
  args: { json: { type: "boolean", description: "Print the status as JSON" } },
  run: guarded(async ({ args }) => {
    const result = await deploymentStatus(process.cwd());
    console.log(args.json ? JSON.stringify(result, null, 2) : formatStatus(result));
  }),
});

const keys = defineCommand({
  meta: { name: "keys", description: "API keys for production" },
  subCommands: {
    create: defineCommand({
      meta: { name: "create", description: "Print a new key and the entry to add to IGLOO_KEYS" },
      args: { role: { type: "string", required: true, description: "ingest | query | admin" } },
      run: guarded(({ args }) => {
        if (!isRole(args.role)) throw new IglooError("E_CONFIG", `--role must be ingest, query or admin, got \`${args.role}\`.`);
        const { key, entry } = generateKey(args.role);
        console.log(`key: ${key}\nentry: ${entry}`);
      }),
    }),
  },
});

const generate = defineCommand({
  meta: { name: "generate", description: "Write the project's typed client (also done by igloo dev on every change)" },
  args: { out: { type: "string", description: "Output directory (default .igloo/client)" } },
  run: recorded("generate", ({ args }) => {
    const root = process.cwd();
    const views = readViewDescriptions(root);
    if (!views) console.error("warning: no view descriptions yet (run `igloo dev` once): the client has no views.");
    const { dir, written } = writeClient(root, args.out ?? DEFAULT_CLIENT_OUT, views ?? []);
    console.log(`wrote ${dir}${written.length ? ` (${written.join(", ")})` : " (up to date)"}`);
  }),
});

const test = defineCommand({
  meta: { name: "test", description: "Run the project's tests with the Bun inside this binary (bun test)" },
  run: guarded(async ({ rawArgs }: { rawArgs: string[] }) => {
    const started = performance.now();
    // The project's library (igloo, igloo/models, igloo/testing) as its models are now.
    const root = process.cwd();
    if (isProject(root)) {
      const project = loadProject(root);
      if (project.errors.length > 0) throw project.errors[0]!;
      writeProjectLib(root, project.models.models);
    }
    // A compiled Bun binary behaves as the `bun` CLI when BUN_BE_BUN is set; from source
    // and in the npm package, execPath is bun itself. Either way users need no separate Bun install.
    const child = Bun.spawn([process.execPath, "test", ...rawArgs], {
      env: { ...process.env, BUN_BE_BUN: "1", ...(Bun.isStandaloneExecutable ? { IGLOO_NATIVE_DIR: dirname(process.execPath) } : {}) },
      stdio: ["inherit", "inherit", "inherit"],
    });
    const code = await child.exited;
    await tellDev("test", performance.now() - started, code === 0 ? undefined : `exit ${code}`);
    process.exit(code);
  }),
});

const main = defineCommand({
  meta: { name: "igloo", version: VERSION, description: "Data pipelines the way web frameworks do web apps" },
  subCommands: { init, dev, query, test, check, build, start, plan, migrate, deploy, rollback, status, keys, generate, "dead-letters": deadLetters },
});

process.on("unhandledRejection", fail);
await runMain(main);
