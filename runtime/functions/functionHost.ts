/**
 * The project's running functions. `apply` moves them to a new set (at start and on every
 * reload), restarting only functions whose code or settings changed. A restarted function
 * resumes from its group's committed offset: nothing is skipped or run twice on reload.
 */
import type { LoadedFunction } from "../../conventions/functions/load.ts";
import type { IngestTarget } from "../ingest/ingest.ts";
import { RepeatReporter, type Logger } from "../observability/logger.ts";
import type { Stream } from "../stream/stream.ts";
import { inlineExecutor, workerExecutor, type FunctionContext, type LogLevel } from "./executor.ts";
import { FunctionRunner, functionGroup, type RunnerOptions } from "./functionRunner.ts";

interface Running {
  readonly signature: string;
  readonly fn: LoadedFunction;
  readonly runner: FunctionRunner;
}

export interface FunctionApplyReport {
  readonly started: string[];
  readonly restarted: string[];
  readonly stopped: string[];
}

export class FunctionHost {
  readonly #stream: Stream;
  readonly #logger: Logger;
  readonly #targets: (model: string) => IngestTarget | undefined;
  #running = new Map<string, Running>();
  /** Records a function refused: the first of each function's in full, then counts. */
  readonly #refusals: RepeatReporter;

  readonly #metrics: RunnerOptions["metrics"];

  readonly #use: RunnerOptions["use"];

  readonly #clock: (() => number) | undefined;

  /** `clock`: what functions' `context.now()` gives; default the real time (tests set their own). */
  constructor(
    stream: Stream,
    logger: Logger,
    targets: (model: string) => IngestTarget | undefined,
    metrics?: RunnerOptions["metrics"],
    use?: RunnerOptions["use"],
    clock?: () => number,
  ) {
    this.#clock = clock;
    this.#use = use;
    this.#stream = stream;
    this.#logger = logger;
    this.#targets = targets;
    this.#metrics = metrics;
    this.#refusals = new RepeatReporter((message) => logger.error(message));
  }

  /** Consumer groups and the topics they read, for lag metrics. */
  groups(): { topic: string; group: string }[] {
    return [...this.#running.values()].map((r) => ({ topic: r.fn.ir.from, group: functionGroup(r.fn.ir.name) }));
  }

  names(): string[] {
    return [...this.#running.keys()];
  }

  /** What each running function reads and writes, and where it is written (the dev console's map). */
  describe(): { name: string; from: string; to: string; file: string; group: string; workers: number }[] {
    return [...this.#running.values()].map(({ fn: { ir } }) => ({ name: ir.name, from: ir.from, to: ir.to, file: ir.file, group: functionGroup(ir.name), workers: ir.workers }));
  }

  async #start(fn: LoadedFunction): Promise<FunctionRunner> {
    const { ir } = fn;
    const logger = this.#logger;
    const say = (level: LogLevel, message: string) => logger[level](`function ${ir.name}: ${message}`);
    const clock = this.#clock;
    const context: FunctionContext = {
      now: () => new Date(clock ? clock() : Date.now()),
      log: { info: (m) => say("info", String(m)), warn: (m) => say("warn", String(m)), error: (m) => say("error", String(m)) },
    };
    const executor =
      ir.workers > 1 ? await workerExecutor(ir.code, ir.workers, { onLog: say, ...(clock ? { now: clock } : {}) }) : inlineExecutor(fn.run, context);
    const runner = new FunctionRunner(this.#stream, {
      name: ir.name,
      file: ir.file,
      from: ir.from,
      to: ir.to,
      startFrom: ir.startFrom,
      targets: this.#targets,
      ...(this.#use ? { use: this.#use } : {}),
      executor,
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
      onError: (error) => this.#logger.error(`function ${ir.name}: ${error instanceof Error ? error.message : String(error)}; retrying`),
      onRecordError: (message) => this.#refusals.add(message.split(":", 1)[0]!.replace(/\d+/g, "#"), `function ${message}; the record went to igloo_dead_letters`),
    });
    await runner.start();
    return runner;
  }

  /**
   * Runs exactly `functions`, plus those named in `keep` that are running now (the last
   * good versions of files that currently fail to load).
   */
  async apply(functions: readonly LoadedFunction[], keep: readonly string[] = []): Promise<FunctionApplyReport> {
    const report: FunctionApplyReport = { started: [], restarted: [], stopped: [] };
    const next = new Map<string, Running>();
    for (const name of keep) {
      const running = this.#running.get(name);
      if (running) next.set(name, running);
    }
    const wanted = new Set([...functions.map((f) => f.ir.name), ...next.keys()]);
    for (const [name, running] of this.#running) {
      if (!wanted.has(name)) {
        await running.runner.stop();
        report.stopped.push(name);
      }
    }
    for (const fn of functions) {
      const { code, from, to, workers } = fn.ir;
      const signature = JSON.stringify([code, from, to, workers, fn.ir.startFrom]);
      const current = this.#running.get(fn.ir.name);
      if (current?.signature === signature) {
        next.set(fn.ir.name, current);
        continue;
      }
      if (current) await current.runner.stop();
      try {
        next.set(fn.ir.name, { signature, fn, runner: await this.#start(fn) });
        (current ? report.restarted : report.started).push(fn.ir.name);
      } catch (error) {
        this.#logger.error(`function ${fn.ir.name} could not start: ${error instanceof Error ? error.message : String(error)}`);
        // Keep the last good version running.
        if (current) next.set(fn.ir.name, { ...current, runner: await this.#start(current.fn) });
      }
    }
    this.#running = next;
    return report;
  }

  /** Whether the function runs here: its dead letters can be replayed here. */
  has(name: string): boolean {
    return this.#running.has(name);
  }

  /** See FunctionRunner.replay. */
  async replay(name: string, inputs: readonly string[], ids: readonly string[]): Promise<{ refed: number; failed: string[] }> {
    const running = this.#running.get(name);
    if (!running) throw new Error(`function ${name} does not run in this process`);
    return await running.runner.replay(inputs, ids);
  }

  async close(): Promise<void> {
    for (const running of this.#running.values()) await running.runner.stop();
    this.#running.clear();
    this.#refusals.close();
  }
}
