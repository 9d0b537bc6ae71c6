/**
 * `igloo dev`: the project on embedded engines, served on localhost, reloaded on save.
 */
import { watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { isProject } from "../../conventions/project.ts";
import { IglooError } from "../../conventions/errors.ts";
import { FunctionHost } from "../../runtime/functions/functionHost.ts";
import type { Logger } from "../../runtime/logger.ts";
import { Pipeline } from "../../runtime/pipeline.ts";
import { describeViews } from "../generate/viewTypes.ts";
import { openApiDocument } from "../generate/openapi.ts";
import { VERSION } from "../version.ts";
import { ViewSubscriptions } from "../../runtime/server/subscriptions.ts";
import { createApp, type IglooApp } from "../../runtime/server/app.ts";
import { ViewManager } from "../../runtime/views/viewManager.ts";
import { openEmbeddedEngines } from "../engines.ts";
import { createObservability } from "../observability.ts";
import { DevProject, type Folder } from "./devProject.ts";

/**
 * Bun refuses bodies over its own limit with an empty 413 before our handler runs; ours
 * answers with a message, so Bun's limit sits a little above it as a backstop.
 */
const BODY_SLACK = 1024 * 1024;

const FOLDERS: readonly Folder[] = ["datamodels", "functions", "views"];

export interface DevOptions {
  readonly root: string;
  readonly port: number;
  readonly host: string;
  readonly maxBodyBytes: number;
  readonly allowDestructive: boolean;
  readonly logger: Logger;
}

export interface DevServer {
  readonly url: string;
  /** Stops taking requests, writes what was acknowledged into the tables, closes. */
  stop(): Promise<void>;
}

export async function startDev(options: DevOptions): Promise<DevServer> {
  const { root, logger } = options;
  if (!isProject(root)) {
    throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run `igloo dev` in a project, or create one with `igloo init <dir>`." });
  }
  const { stream, store } = await openEmbeddedEngines(root);
  const observability = createObservability(stream);
  const pipeline = new Pipeline({ stream, store, logger, allowDestructive: options.allowDestructive, metrics: observability.handles });
  const functions = new FunctionHost(stream, logger, (model) => pipeline.target(model), observability.handles);
  observability.watch(pipeline, functions);
  const views = new ViewManager(store);
  const subscriptions = new ViewSubscriptions({ stream, topics: () => pipeline.models().map((m) => m.name), query: (name, params) => views.query(name, params) });
  const project = new DevProject({ root, pipeline, functions, views, logger });
  let server: IglooApp | undefined;
  const watchers: FSWatcher[] = [];
  const closeAll = async () => {
    await functions.close(); // first: they finish and commit the batch in hand
    await pipeline.close();
    await stream.close();
    await store.close();
  };
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
      const folder = FOLDERS.find((f) => f === name);
      if (folder) {
        watchFolder(folder);
        schedule(folder);
      }
    }),
  );

  try {
    await project.load(new Set(FOLDERS), true);
    server = createApp({
      pipeline,
      stream,
      store,
      views,
      logger,
      maxBodyBytes: options.maxBodyBytes,
      corsOrigins: ["*"],
      metrics: () => observability.render(),
      openapi: () => openApiDocument({ models: pipeline.models(), views: describeViews(views), version: VERSION }),
      subscriptions,
      observe: observability.handles,
    }).listen({
      port: options.port,
      hostname: options.host,
      maxRequestBodySize: options.maxBodyBytes + BODY_SLACK,
    });
  } catch (error) {
    for (const w of watchers) w.close();
    await closeAll();
    throw error;
  }
  const url = `http://${options.host}:${server.server?.port ?? options.port}`;
  logger.info(`igloo dev ready at ${url} (${project.describe()})`);
  serving = true;
  const pending = [...changed];
  changed.clear();
  for (const folder of pending) schedule(folder);

  // A person at the terminal confirms held destructive schema changes with "y".
  const onInput = (data: Buffer) => {
    if (data.toString().trim().toLowerCase() === "y") void project.applyHeld().catch((error: unknown) => logger.error(String(error)));
  };
  process.stdin.on("data", onInput);
  process.stdin.on("error", () => {});

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const w of watchers) w.close();
      process.stdin.off("data", onInput);
      process.stdin.pause();
      subscriptions.closeAll();
      await server?.stop();
      await reloading;
      await functions.close();
      if (!(await pipeline.drain(10_000))) logger.warn("some records are not in their tables yet; they stay in the log and are written on the next start.");
      await closeAll();
    })());
  return { url, stop };
}
