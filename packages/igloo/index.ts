/**
 * The library a project imports as `"igloo"`, in its functions and its own `bun test`.
 * `igloo init`, `igloo dev` and `igloo generate` copy it into `<project>/.igloo/lib/`
 * together with `models.ts`, generated from the project's datamodels, which is what the
 * project's tsconfig maps `"igloo/models"` to. Plain TypeScript, no dependencies.
 */
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { compileValidator } from "../../conventions/datamodels/validator.ts";

export type { FieldIR, ModelIR, ScalarType } from "../../conventions/datamodels/ir.ts";

export type Checked<T> = { ok: true; record: T } | { ok: false; error: string };

/** One data model: its description and the exact check ingest applies to each record. */
export interface Model<Row, Input> {
  readonly name: string;
  readonly ir: ModelIR;
  /** What `POST /ingest/<Model>` does to one record: the normalised row, or why not. */
  check(input: Input | unknown): Checked<Row>;
  /** Like `check`, but throws on an invalid record. */
  parse(input: Input | unknown): Row;
}

export type Models<Shapes extends Record<string, { row: unknown; input: unknown }>> = {
  readonly [Name in keyof Shapes]: Model<Shapes[Name]["row"], Shapes[Name]["input"]>;
};

export class InvalidRecordError extends Error {
  constructor(model: string, detail: string) {
    super(`invalid ${model} record: ${detail}`);
    this.name = "InvalidRecordError";
  }
}

export function defineModels<Shapes extends Record<string, { row: unknown; input: unknown }>>(irs: readonly ModelIR[]): Models<Shapes> {
  const models: Record<string, Model<unknown, unknown>> = {};
  for (const ir of irs) {
    const validate = compileValidator(ir);
    models[ir.name] = {
      name: ir.name,
      ir,
      check: (input) => validate(input) as Checked<unknown>,
      parse(input) {
        const result = validate(input);
        if (!result.ok) throw new InvalidRecordError(ir.name, result.error);
        return result.record;
      },
    };
  }
  return models as unknown as Models<Shapes>;
}

/** What `run` may return: one record of the target model, `null` to drop, or several. */
export type FunctionResult<Out> = Out | null | undefined | readonly Out[];

export interface FunctionDefinition<From extends string, To extends string, Row, Result> {
  /** The model whose records this function receives. */
  readonly from: From;
  /** The model its results are written to (checked against that model before they are). */
  readonly to: To;
  /** Parallel workers; records with the same key always go to the same worker, in order. Default 1. */
  readonly workers?: number;
  /**
   * Where a new function starts reading `from`: `"earliest"` (default) runs it over every
   * record the topic still holds, then new ones; `"latest"` only over records ingested
   * after it first started. Once it ran, a function resumes where it stopped.
   */
  readonly startFrom?: "earliest" | "latest";
  /** One record of `from` in; what to write to `to` out. `context` gives the time and a log. */
  run(record: Row, context: FunctionContext): Result;
}

/** What a function's `run` gets besides the record. */
export interface FunctionContext {
  /** The pipeline's time (a test's clock when a test pipeline runs it). */
  now(): Date;
  /** Lines in Igloo's log, named after the function (`igloo dev` prints them). */
  readonly log: { info(message: string): void; warn(message: string): void; error(message: string): void };
}

/** Marks a default export as an Igloo function, so loading can tell it from anything else. */
export const FUNCTION_BRAND = "igloo.function";

/**
 * What defineFunction returns: the definition, whose `run` a test may call without a
 * context (it then gets the real time and a log to the console; fakeContext() from
 * igloo/testing gives one the test controls).
 */
export type DefinedFunction<From extends string, To extends string, Row, Result> = Omit<FunctionDefinition<From, To, Row, Result>, "run"> & {
  readonly kind: typeof FUNCTION_BRAND;
  run(record: Row, context?: FunctionContext): Result;
};

const CONSOLE_CONTEXT: FunctionContext = {
  now: () => new Date(),
  log: { info: (m) => console.info(m), warn: (m) => console.warn(m), error: (m) => console.error(m) },
};

/**
 * `defineFunction`, typed by a project's models: `run` receives a row of `from` and must
 * return input for `to`, so a wrong field name or type is a compile error in the editor.
 * What `run` returns keeps its precise type, so tests can use the result directly. The
 * project's generated `igloo` module binds this to its own models.
 */
export function defineFunctionFor<Shapes extends Record<string, { row: unknown; input: unknown }>>() {
  return function defineFunction<
    From extends keyof Shapes & string,
    To extends keyof Shapes & string,
    Result extends FunctionResult<Shapes[To]["input"]> | Promise<FunctionResult<Shapes[To]["input"]>>,
  >(definition: FunctionDefinition<From, To, Shapes[From]["row"], Result>): DefinedFunction<From, To, Shapes[From]["row"], Result> {
    return { ...definition, kind: FUNCTION_BRAND, run: (record, context = CONSOLE_CONTEXT) => definition.run(record, context) };
  };
}
