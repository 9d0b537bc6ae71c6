/**
 * A project's convention files applied to the running pipeline, again on every save.
 * Each folder keeps its last good version: a file with an error is reported (file, line,
 * column) and what it would have replaced keeps running until the file is fixed.
 */
import { loadFunctions } from "../../conventions/functions/load.ts";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import type { ConventionError } from "../../conventions/errors.ts";
import { filesIn, loadProject } from "../../conventions/project.ts";
import { parseViews } from "../../conventions/views/parse.ts";
import type { ViewManager } from "../../runtime/views/viewManager.ts";
import type { FunctionHost } from "../../runtime/functions/functionHost.ts";
import type { Logger } from "../../runtime/observability/logger.ts";
import type { ApplyReport, Pipeline } from "../../runtime/pipeline/pipeline.ts";
import type { HeldChange, ReloadEntry } from "../../packages/console/protocol.ts";
import { writeProjectLib, writeViewTypes } from "../generate/projectLib.ts";
import { describeViews } from "../generate/viewTypes.ts";
import { join } from "node:path";
import { DEFAULT_CLIENT_OUT, writeClientFiles } from "./generate.ts";

export type Folder = "datamodels" | "functions" | "views";

export interface DevProjectOptions {
  readonly root: string;
  readonly pipeline: Pipeline;
  readonly functions: FunctionHost;
  readonly views: ViewManager;
  readonly logger: Logger;
  /** Told of each load and apply once it is done (`igloo dev` records them in Igloo's own events). */
  readonly onReload?: (entry: ReloadEntry) => void;
}

/** Reloads the console's log keeps: a long session's worth to scroll, bounded. */
const RELOADS_KEPT = 50;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export class DevProject {
  readonly #options: DevProjectOptions;
  /** The problems of the last load, by folder: what the dev console shows. */
  readonly errors = new Map<Folder, readonly ConventionError[]>();
  /** Destructive changes waiting for a person's go-ahead, with the rows of their tables then. */
  #held: readonly HeldChange[] = [];
  /** What each load and apply changed and how long it took, newest last (the console's reload log). */
  readonly #reloads: ReloadEntry[] = [];
  /** What the load or apply in progress changed, as it is logged. */
  #changes: string[] = [];
  #version = 0;
  /**
   * Loads and applies run one at a time: a `y` typed (or the console's Apply) during a
   * reload waits for it, so each log entry holds what its own run changed.
   */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: DevProjectOptions) {
    this.#options = options;
  }

  /** The held changes, as the console shows them. */
  held(): readonly HeldChange[] {
    return this.#held;
  }

  /** The reload log, oldest first. */
  reloads(): readonly ReloadEntry[] {
    return this.#reloads;
  }

  /** Bumped by every load and apply. */
  version(): number {
    return this.#version;
  }

  /** Logs a change the run in progress made, and keeps it for its log entry. */
  #note(change: string): void {
    this.#options.logger.info(`  ${change}`);
    this.#changes.push(change);
  }

  /** Runs `work` after the loads and applies before it, and records what it changed and how long it took. */
  #run(trigger: ReloadEntry["trigger"], folders: readonly Folder[], work: () => Promise<void>): Promise<ReloadEntry> {
    const run = this.#queue.then(async () => {
      const started = performance.now();
      this.#changes = [];
      try {
        await work();
      } finally {
        const problems = folders.flatMap((folder) => (this.errors.get(folder) ?? []).map((error) => error.message));
        const entry: ReloadEntry = { at: new Date().toISOString(), trigger, folders, changes: this.#changes, problems, durationMs: Math.round(performance.now() - started) };
        this.#reloads.push(entry);
        if (this.#reloads.length > RELOADS_KEPT) this.#reloads.shift();
        this.#version++;
        this.#options.onReload?.(entry);
      }
      return this.#reloads[this.#reloads.length - 1]!;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #report(folder: Folder, errors: readonly ConventionError[]): void {
    this.errors.set(folder, errors);
    for (const error of errors) this.#options.logger.error(error.message);
  }

  async #reportApply(report: ApplyReport): Promise<void> {
    const { logger, pipeline } = this.#options;
    for (const change of report.applied) this.#note(change.summary);
    const rows = new Map<string, number>();
    for (const table of new Set(report.held.map((c) => c.table))) rows.set(table, await pipeline.rowCount(table));
    this.#held = report.held.map((change) => ({ summary: change.summary, table: change.table, rows: rows.get(change.table) ?? 0 }));
    for (const change of this.#held) {
      logger.warn(`held: ${change.summary}; ${change.rows} rows in ${change.table}`);
      this.#changes.push(`held: ${change.summary}`);
    }
    if (report.held.length > 0) {
      logger.warn("these changes would drop or rewrite data: type y and Enter here (or Apply in the console, /_igloo/changes) to apply them, or restart with `igloo dev --allow-destructive`.");
    }
  }

  /**
   * Applies the held destructive changes of the current models, once a person said so (`y`
   * at the terminal, or the console's Apply); undefined when nothing was held.
   */
  async applyHeld(): Promise<ReloadEntry | undefined> {
    if (this.#held.length === 0) return undefined;
    const { pipeline, root } = this.#options;
    return await this.#run("apply", ["datamodels"], async () => {
      // Held changes may have been undone by a save while this waited its turn.
      if (this.#held.length === 0) return;
      const models = pipeline.requestedModels();
      await this.#reportApply(await pipeline.apply(models, { allowDestructive: true, whileAltered: () => this.#loadViews(models) }));
      writeProjectLib(root, models);
    });
  }

  /**
   * Loads and applies the folders that changed (all of them at start). Models come first:
   * functions are bundled against the generated library, which follows the models.
   */
  async load(changed: ReadonlySet<Folder>, first: boolean): Promise<void> {
    await this.#run(first ? "start" : "save", [...changed], () => this.#load(changed, first));
  }

  async #load(changed: ReadonlySet<Folder>, first: boolean): Promise<void> {
    const { root, pipeline, functions, logger } = this.#options;
    let models: readonly ModelIR[] = pipeline.models();
    let viewsLoaded = false;
    if (changed.has("datamodels")) {
      const project = loadProject(root);
      this.#report("datamodels", project.errors);
      // At start, the models that parsed are the best version there is; later, a broken
      // file keeps the whole last good set running.
      if (first || project.errors.length === 0) {
        const whileAltered = async () => {
          await this.#loadViews(project.models.models);
          viewsLoaded = true;
        };
        await this.#reportApply(await pipeline.apply(project.models.models, { whileAltered }));
        models = project.models.models;
        writeProjectLib(root, models);
      } else {
        logger.warn("kept the last good models running; fix the file to reload.");
      }
    }
    if (changed.has("datamodels") || changed.has("functions")) {
      const loaded = await loadFunctions(root, models);
      this.#report("functions", loaded.errors);
      const keep = loaded.errors.length > 0 && !first;
      const running = new Set(functions.names());
      // A function whose file broke keeps its last good version: apply only the good ones
      // plus whatever is running under the names of the broken files.
      const broken = new Set(loaded.errors.map((e) => e.source.file.replace(/^functions\//, "").replace(/\.ts$/, "")));
      const report = await functions.apply(loaded.functions, keep ? [...broken].filter((n) => running.has(n)) : []);
      for (const name of report.started) this.#note(`started function ${name}`);
      for (const name of report.restarted) this.#note(`reloaded function ${name}`);
      for (const name of report.stopped) this.#note(`stopped function ${name}`);
    }
    if ((changed.has("datamodels") || changed.has("views")) && !viewsLoaded) await this.#loadViews(models);
    writeClientFiles(join(root, DEFAULT_CLIENT_OUT), { models, views: describeViews(this.#options.views) });
    const counts = [plural(models.length, "model"), plural(functions.names().length, "function"), plural(this.#options.views.names().length, "view")];
    if (first) return;
    // A file with an error was reported above, and its last good version kept running.
    const failed = [...changed].filter((folder) => (this.errors.get(folder)?.length ?? 0) > 0);
    if (failed.length === 0) logger.info(`reloaded (${counts.join(", ")})`);
    else logger.warn(`reloaded what loaded (${counts.join(", ")}); ${failed.join(", ")} kept the last good version of the files with errors above`);
  }

  async #loadViews(models: readonly ModelIR[]): Promise<void> {
    const { root, pipeline, views } = this.#options;
    const parsed = parseViews(filesIn(root, "views", ".sql"));
    const report = await views.apply(parsed.views, models, { pauseWriter: (table) => pipeline.pauseWriter(table) }, { failed: parsed.failed });
    this.#report("views", [...parsed.errors, ...report.errors]);
    for (const name of report.created) {
      const reason = views.fallbackReason(name);
      this.#note(`view ${name} created (${views.kind(name)}${reason ? `: ${reason}` : ""})`);
    }
    for (const name of report.dropped) this.#note(`view ${name} dropped`);
    writeViewTypes(root, describeViews(views));
  }

  describe(): string {
    const models = this.#options.pipeline.projectModels().map((m) => m.name);
    const fns = this.#options.functions.names();
    const views = this.#options.views.names();
    const part = (names: string[], word: string) => `${plural(names.length, word)}${names.length ? ": " + names.join(", ") : ""}`;
    return [part(models, "model"), part(fns, "function"), part(views, "view")].join("; ");
  }
}
