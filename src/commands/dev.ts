/**
 * `igloo dev`: the project on embedded engines, served on localhost, reloaded on save.
 */
import { watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { CONVENTION_FOLDERS, isProject, loadProject } from "../../conventions/project.ts";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { IglooError } from "../../conventions/errors.ts";
import type { Logger } from "../../runtime/logger.ts";
import { Pipeline, type ApplyReport } from "../../runtime/pipeline.ts";
import { createApp, type IglooApp } from "../../runtime/server/app.ts";
import { openEmbeddedEngines } from "../engines.ts";
import { writeProjectLib } from "../generate/projectLib.ts";

/**
 * Bun refuses bodies over its own limit with an empty 413 before our handler runs; ours
 * answers with a message, so Bun's limit sits a little above it as a backstop.
 */
const BODY_SLACK = 1024 * 1024;

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

function reportApply(logger: Logger, report: ApplyReport): void {
  for (const change of report.applied) logger.info(`  ${change.summary}`);
  for (const change of report.held) logger.warn(`held: ${change.summary}`);
  if (report.held.length > 0) {
    logger.warn("these changes would drop or rewrite data; restart with `igloo dev --allow-destructive` to apply them.");
  }
}

function describeModels(models: readonly ModelIR[]): string {
  return `${models.length} model${models.length === 1 ? "" : "s"}${models.length ? ": " + models.map((m) => m.name).join(", ") : ""}`;
}

export async function startDev(options: DevOptions): Promise<DevServer> {
  const { root, logger } = options;
  if (!isProject(root)) {
    throw new IglooError("E_NOT_A_PROJECT", `${root} has no datamodels/ folder.`, { hint: "Run `igloo dev` in a project, or create one with `igloo init <dir>`." });
  }
  const project = loadProject(root);
  for (const error of project.errors) logger.error(error.message);
  writeProjectLib(root, project.models.models);

  const { stream, store } = await openEmbeddedEngines(root);
  const pipeline = new Pipeline({ stream, store, logger, allowDestructive: options.allowDestructive });
  let server: IglooApp | undefined;
  const watchers: FSWatcher[] = [];
  try {
    reportApply(logger, await pipeline.apply(project.models.models));
    server = createApp({ pipeline, stream, store, logger, maxBodyBytes: options.maxBodyBytes }).listen({ port: options.port, hostname: options.host, maxRequestBodySize: options.maxBodyBytes + BODY_SLACK });
  } catch (error) {
    await pipeline.close();
    await stream.close();
    await store.close();
    throw error;
  }
  const url = `http://${options.host}:${server.server?.port ?? options.port}`;
  logger.info(`igloo dev ready at ${url} (${describeModels(pipeline.models())})`);

  // Reloads run one at a time; a save during a reload triggers one more afterwards.
  let reloading: Promise<void> | undefined;
  let again = false;
  const reload = async (): Promise<void> => {
    const next = loadProject(root);
    if (next.errors.length > 0) {
      for (const error of next.errors) logger.error(error.message);
      logger.warn("kept the last good version running; fix the file to reload.");
      return;
    }
    try {
      const report = await pipeline.apply(next.models.models);
      writeProjectLib(root, next.models.models);
      logger.info(`reloaded (${describeModels(pipeline.models())})`);
      reportApply(logger, report);
    } catch (error) {
      logger.error(`reload failed: ${error instanceof Error ? error.message : String(error)}; kept the last good version running.`);
    }
  };
  const schedule = (): void => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        await Bun.sleep(30); // editors write a file in several steps
        await reload();
      } while (again);
      reloading = undefined;
    })();
  };
  for (const folder of CONVENTION_FOLDERS) {
    try {
      watchers.push(watch(join(root, folder), schedule));
    } catch {
      // A missing convention folder is simply empty.
    }
  }

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const w of watchers) w.close();
      await server?.stop();
      await reloading;
      if (!(await pipeline.drain(10_000))) logger.warn("some records are not in their tables yet; they stay in the log and are written on the next start.");
      await pipeline.close();
      await stream.close();
      await store.close();
    })());
  return { url, stop };
}
