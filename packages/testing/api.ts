/**
 * The plain types of igloo/testing, shared by its code (src/testing) and copied whole into
 * each project (.igloo/lib/packages/testing), where the generated testing.ts types the
 * pipeline by the project's models and views. Types only: no imports, no code.
 */
export interface TestPipelineOptions {
  /** The project's folder; default: the nearest folder up from the working directory with a `datamodels/` folder. */
  readonly root?: string;
  /** Run the project's functions (default true); `false` tests ingest and views alone. */
  readonly functions?: boolean;
  /** Start the clock stopped at this time (`pipeline.clock`); default: the real time until set. */
  readonly now?: Date | string | number;
}

/**
 * The pipeline's time: what `@default(now())` fills in at ingest, what a function's
 * `context.now()` returns, and what `now()`, `now64()`, `today()` and `yesterday()` return
 * in the project's views and in `pipeline.query` (so a time-windowed view can be tested).
 */
export interface TestClock {
  now(): Date;
  /** Stops the clock at `time`. */
  set(time: Date | string | number): void;
  /** Moves a stopped clock on (a running one stops at now + ms). */
  advance(ms: number): void;
}

/** What `POST /ingest/<Model>` answers with a 200. */
export interface IngestVerdict {
  readonly accepted: number;
  readonly rejected: number;
  readonly errors: readonly { readonly index: number; readonly message: string }[];
  readonly token: string;
}

export interface SampleOptions {
  readonly count?: number;
  readonly seed?: number;
  /** The project's folder; default: the nearest one up from the working directory. */
  readonly root?: string;
}

export interface InvalidSample {
  readonly record: Record<string, unknown>;
  /** What `POST /ingest` says about it. */
  readonly reason: string;
}

export interface FakeContext {
  now(): Date;
  readonly log: { info(message: string): void; warn(message: string): void; error(message: string): void };
  /** What the function logged, in order. */
  readonly logs: { readonly level: "info" | "warn" | "error"; readonly message: string }[];
}

/** A row of igloo_dead_letters. */
export interface DeadLetter {
  readonly ts: string;
  /** The model or function that refused the record. */
  readonly source: string;
  readonly stage: "ingest" | "function" | "writer";
  /** The record as JSON text. */
  readonly record: string;
  readonly error: string;
}
