/**
 * Runs a user function over a batch of records, either in this thread or spread over
 * Bun workers. Records that share a key always go to the same worker and run there in
 * order, so a function never reorders one key's records. Every record gets an outcome:
 * what `run` returned, or what it threw (message and stack).
 */
export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string; readonly stack: string };

/**
 * What `run(record, context)` gets besides the record: the time (the pipeline's clock; a
 * test's can be stopped) and a log that reaches Igloo's logger, named after the function.
 */
export interface FunctionContext {
  now(): Date;
  readonly log: { info(message: string): void; warn(message: string): void; error(message: string): void };
}

export type LogLevel = "info" | "warn" | "error";

export interface Executor {
  run(records: readonly unknown[], keys: readonly (string | undefined)[]): Promise<Outcome[]>;
  close(): Promise<void>;
}

function failure(error: unknown): Outcome {
  const e = error as { message?: unknown; stack?: unknown } | undefined;
  return { ok: false, error: String(e?.message ?? error), stack: String(e?.stack ?? "") };
}

/** One record after another in this thread: no copying, the default for `workers: 1`. */
export function inlineExecutor(run: (record: unknown, context: FunctionContext) => unknown, context: FunctionContext): Executor {
  return {
    async run(records) {
      const outcomes: Outcome[] = [];
      for (const record of records) {
        try {
          // Awaiting only real promises: a microtask per record is a measurable share of a
          // simple synchronous function's cost.
          const value = run(record, context);
          outcomes.push({ ok: true, value: value instanceof Promise ? await value : value });
        } catch (error) {
          outcomes.push(failure(error));
        }
      }
      return outcomes;
    },
    async close() {},
  };
}

/** The worker's side: import the bundle, then run the records it is sent, in order. */
const WORKER_SOURCE = `
let definition;
self.onmessage = async (event) => {
  const message = event.data;
  if (message.type === "load") {
    try {
      const url = URL.createObjectURL(new Blob([message.code], { type: "text/javascript" }));
      definition = (await import(url)).default;
      postMessage({ type: "loaded" });
    } catch (error) {
      postMessage({ type: "loaded", error: String(error && error.stack || error) });
    }
    return;
  }
  const outcomes = [];
  const say = (level) => (text) => postMessage({ type: "log", level, message: String(text) });
  const context = { now: () => new Date(message.now ?? Date.now()), log: { info: say("info"), warn: say("warn"), error: say("error") } };
  for (const record of message.records) {
    try {
      outcomes.push({ ok: true, value: await definition.run(record, context) });
    } catch (error) {
      outcomes.push({ ok: false, error: String(error && error.message !== undefined ? error.message : error), stack: String(error && error.stack || "") });
    }
  }
  postMessage({ type: "done", id: message.id, outcomes });
};
`;

/** FNV-1a: a stable, cheap hash to pin a key to a worker. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, (outcomes: Outcome[]) => void>;
}

export interface WorkerOptions {
  /** Where a worker's `context.log` lines go. */
  readonly onLog: (level: LogLevel, message: string) => void;
  /** The time a batch's `context.now()` gives, when the clock is not the real one. */
  readonly now?: () => number | undefined;
}

export async function workerExecutor(code: string, count: number, options: WorkerOptions): Promise<Executor> {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
  const workers: PoolWorker[] = [];
  let nextId = 0;
  try {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(url);
      const pending = new Map<number, (outcomes: Outcome[]) => void>();
      await new Promise<void>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<{ type: string; error?: string }>) => {
          if (event.data.error) reject(new Error(`a function worker could not load the module: ${event.data.error}`));
          else resolve();
        };
        worker.onerror = (event) => reject(new Error(`a function worker failed: ${event.message}`));
        worker.postMessage({ type: "load", code });
      });
      worker.onmessage = (event: MessageEvent<{ type: string; id: number; outcomes: Outcome[]; level: LogLevel; message: string }>) => {
        if (event.data.type === "log") return options.onLog(event.data.level, event.data.message);
        pending.get(event.data.id)?.(event.data.outcomes);
        pending.delete(event.data.id);
      };
      workers.push({ worker, pending });
    }
  } catch (error) {
    for (const w of workers) w.worker.terminate();
    throw error;
  } finally {
    URL.revokeObjectURL(url);
  }

  return {
    async run(records, keys) {
      // Slices per worker, remembering each record's place to put outcomes back in order.
      const slices = workers.map(() => ({ records: [] as unknown[], places: [] as number[] }));
      const chunk = Math.ceil(records.length / workers.length);
      records.forEach((record, i) => {
        const key = keys[i];
        const slice = slices[key === undefined ? Math.floor(i / chunk) : hash(key) % workers.length]!;
        slice.records.push(record);
        slice.places.push(i);
      });
      const outcomes = new Array<Outcome>(records.length);
      await Promise.all(
        slices.map(async (slice, w) => {
          if (slice.records.length === 0) return;
          const { worker, pending } = workers[w]!;
          const id = nextId++;
          const results = await new Promise<Outcome[]>((resolve) => {
            pending.set(id, resolve);
            worker.postMessage({ type: "run", id, records: slice.records, now: options.now?.() });
          });
          results.forEach((outcome, k) => (outcomes[slice.places[k]!] = outcome));
        }),
      );
      return outcomes;
    },
    async close() {
      for (const w of workers) w.worker.terminate();
    },
  };
}
