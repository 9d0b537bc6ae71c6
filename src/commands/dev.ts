/**
 * `igloo dev`: the project on embedded engines, served on localhost, reloaded on save.
 */
import { watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { isProject } from "../../conventions/project.ts";
import { IglooError } from "../../conventions/errors.ts";
import type { ServerLimits } from "../../runtime/limits.ts";
import type { Logger } from "../../runtime/observability/logger.ts";
import { createApp, type IglooApp } from "../../runtime/server/app.ts";
import { mountConsole } from "../../runtime/server/console.ts";
import { DashboardFolder } from "../../runtime/server/dashboards.ts";
import { generateKey, keyEntry, KeyRing } from "../../runtime/server/auth.ts";
import { isLoopbackAddress, RequestGate } from "../../runtime/server/gate.ts";
import { assembleRuntime } from "../projectRuntime.ts";
import { openEmbeddedEngines } from "../engines.ts";
import { listen, stopServer } from "../listen.ts";
import { consoleProject, consoleScript } from "./devConsole.ts";
import { DevProject, type Folder } from "./devProject.ts";

const FOLDERS: readonly Folder[] = ["datamodels", "functions", "views"];
/** Served as they are, reloaded in the browser on save: nothing to apply to the pipeline. */
const DASHBOARDS = "dashboards";

export interface DevOptions {
  readonly root: string;
  readonly port: number;
  readonly host: string;
  /** Host names answered besides loopback names and IP addresses. */
  readonly allowedHosts: readonly string[];
  /** Origins whose pages may call, besides loopback pages. */
  readonly corsOrigins: readonly string[];
  /**
   * The key every request needs when dev listens beyond loopback (IGLOO_DEV_KEY); a new
   * one is made and printed when not given.
   */
  readonly key?: string;
  readonly limits: ServerLimits;
  readonly allowDestructive: boolean;
  readonly logger: Logger;
}

export interface DevServer {
  readonly url: string;
  /** Stops taking requests, writes what was acknowledged into the tables, closes. */
  stop(): Promise<void>;
}

export async function startDev(options: DevOptions): Promise<DevServer> {
  const began = performance.now();
  const { root, logger } = options;
  if (!isProject(root)) {
    throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run `igloo dev` in a project, or create one with `igloo init <dir>`." });
  }
  const engines = await openEmbeddedEngines(root, options.limits.query);
  const runtime = assembleRuntime(engines, logger, options.limits, { allowDestructive: options.allowDestructive }, {}, { telemetry: true });
  const { pipeline, functions, views, subscriptions, telemetry } = runtime;
  // Each start, save and apply is one of Igloo's own events: what it changed, how long it took.
  const project = new DevProject({
    root,
    pipeline,
    functions,
    views,
    logger,
    onReload: (entry) =>
      telemetry?.event("reload", entry.trigger === "save" ? entry.folders.join(", ") : entry.trigger, [...entry.changes, ...entry.problems].join("; ").slice(0, 4_000), entry.durationMs),
  });
  const dashboards = new DashboardFolder(join(root, DASHBOARDS), { live: true });
  dashboards.watch();
  let server: IglooApp | undefined;
  let devConsole: { close(): void } | undefined;
  const watchers: FSWatcher[] = [];
  // Reloads run one at a time; saves during a reload are gathered into the next one.
  const changed = new Set<Folder>();
  let reloading: Promise<void> | undefined;
  // Watching starts before the first load: a save made during start-up, or right after
  // the ready line, is not missed (the watcher's registration is not instant). Saves seen
  // before the server is up wait, and are applied as soon as it is.
  let serving = false;
  const schedule = (folder: Folder): void => {
    changed.add(folder);
    if (!serving) return;
    reloading ??= (async () => {
      while (changed.size > 0) {
        await Bun.sleep(20); // editors write a file in several steps
        const folders = new Set(changed);
        changed.clear();
        try {
          await project.load(folders, false);
        } catch (error) {
          logger.error(`reload failed: ${error instanceof Error ? error.message : String(error)}; kept the last good version running.`);
        }
      }
      reloading = undefined;
    })();
  };
  const watching = new Set<Folder>();
  const watchFolder = (folder: Folder): void => {
    if (watching.has(folder)) return;
    try {
      watchers.push(watch(join(root, folder), () => schedule(folder)));
      watching.add(folder);
    } catch {
      // Not there (yet): the project root's watcher notices when it is created.
    }
  };
  FOLDERS.forEach(watchFolder);
  watchers.push(
    watch(root, (_event, name) => {
      if (name === DASHBOARDS) dashboards.watch();
      const folder = FOLDERS.find((f) => f === name);
      if (folder) {
        watchFolder(folder);
        schedule(folder);
      }
    }),
  );

  // Beyond loopback, anyone on the network can reach the API: like Jupyter, every request
  // then needs a key, printed here for the developer.
  const exposed = !isLoopbackAddress(options.host);
  const key = exposed ? (options.key ?? generateKey("admin").key) : undefined;
  try {
    await project.load(new Set(FOLDERS), true);
    const keys = key ? new KeyRing([keyEntry("admin", key)]) : undefined;
    const app = createApp({
      ...runtime.app,
      dashboards,
      gate: new RequestGate({ allowedHosts: options.allowedHosts, corsOrigins: options.corsOrigins, loopbackOrigins: true }),
      ...(keys ? { keys } : {}),
    });
    // The dev console (/_igloo/): dev only, behind the same gate and keys.
    devConsole = mountConsole(app, {
      parts: { pipeline, functions, views, stream: engines.stream, store: engines.store, metrics: runtime.app.metrics ?? (async () => "") },
      project: consoleProject(project, options.limits),
      script: consoleScript,
      ...(keys ? { keys } : {}),
    });
    server = listen(app, { port: options.port, host: options.host, maxBodyBytes: options.limits.maxBodyBytes });
  } catch (error) {
    for (const w of watchers) w.close();
    dashboards.close();
    await runtime.close();
    throw error;
  }
  const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${shownHost}:${server.server?.port ?? options.port}`;
  if (key) {
    logger.warn(`igloo dev listens on ${options.host}, beyond this machine: every request but /health needs \`Authorization: Bearer ${key}\` (set IGLOO_DEV_KEY to choose the key).`);
  }
  logger.info(`igloo dev ready at ${url} (${project.describe()})`);
  telemetry?.event("start", "dev", project.describe(), Math.round(performance.now() - began));
  // Beyond loopback the console needs the key: a fragment is never sent to a server, and the console keeps it for the tab.
  logger.info(`  console: ${url}/_igloo/${key ? `#key=${key}` : ""}`);
  const pages = dashboards.names();
  if (pages.length > 0) logger.info(`  dashboards: ${pages.map((name) => `${url}/dashboards/${name}`).join(", ")}`);
  serving = true;
  const pending = [...changed];
  changed.clear();
  for (const folder of pending) schedule(folder);

  // A person at the terminal confirms held destructive schema changes with "y".
  const onInput = (data: Buffer) => {
    if (data.toString().trim().toLowerCase() === "y") void project.applyHeld().catch((error: unknown) => logger.error(error instanceof Error ? error.message : String(error)));
  };
  process.stdin.on("data", onInput);
  process.stdin.on("error", () => {});

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const w of watchers) w.close();
      // Open reload streams would hold the server's stop for its whole grace period.
      dashboards.close();
      process.stdin.off("data", onInput);
      process.stdin.pause();
      subscriptions.closeAll();
      devConsole?.close();
      await stopServer(server);
      await reloading;
      // Igloo's own last events go in before the writers drain.
      await telemetry?.close();
      await functions.close();
      if (!(await pipeline.drain(10_000))) {
        const backlog = await pipeline.backlog().catch(() => []);
        const total = backlog.reduce((sum, b) => sum + b.records, 0);
        const where = backlog.map((b) => `${b.table} ${b.records.toLocaleString("en-US")}`).join(", ");
        logger.warn(`${total > 0 ? `${total.toLocaleString("en-US")} records (${where})` : "some records"} are not in their tables yet; they stay in the log and are written on the next start.`);
      }
      await runtime.close();
    })());
  return { url, stop };
}
