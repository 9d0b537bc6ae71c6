/**
 * Runs one user function as a consumer group: reads its `from` topic, runs the function,
 * checks each result against the `to` model, and appends the results to the `to` topic.
 * The group's offset is committed only after the results are durable (at-least-once).
 *
 * One input's results are never half-written: they go into one append with the rest of
 * the batch, and if any of them is invalid, none are written and the input record goes
 * to the dead letters instead, with the function's name, the error and where in the
 * user's file it happened.
 */
import { RECORD_ID_FIELD, withRecordId } from "../ingest/recordIds.ts";
import { appendDeadLetters, type Refusal } from "../deadLetters/deadLetters.ts";
import type { IngestTarget } from "../ingest/ingest.ts";
import type { ProducerRecord, RecordBatch, Stream, StreamRecord, Subscription } from "../stream/stream.ts";
import type { IglooMetrics } from "../observability/metrics.ts";
import type { Executor, Outcome } from "./executor.ts";

export interface RunnerOptions {
  readonly name: string;
  /** `functions/<name>.ts`, to find the user's frame in a stack. */
  readonly file: string;
  readonly from: string;
  readonly to: string;
  /** Where the consumer group starts the first time (see `startFrom` in "igloo"). */
  readonly startFrom?: "earliest" | "latest";
  /**
   * The current ingest target of a model, looked up per batch: a model reloaded with a
   * new field validates this function's results the new way without a restart.
   */
  readonly targets: (model: string) => IngestTarget | undefined;
  /**
   * Runs an append to a model's topic with that model's target, waiting while its table
   * is altered (Pipeline.use); without it, appends go ahead at once.
   */
  readonly use?: <T>(model: string, work: (target: IngestTarget) => Promise<T>) => Promise<T | undefined>;
  readonly executor: Executor;
  readonly maxBatchRecords?: number;
  readonly maxWaitMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Called with what each dead-lettered record is told (the dev terminal shows them). */
  readonly onRecordError?: (message: string) => void;
  readonly metrics?: Pick<IglooMetrics, "functionRecords" | "functionErrors">;
}

export function functionGroup(name: string): string {
  return `igloo-function-${name}`;
}

/** The first stack frame in the user's file, e.g. `functions/split.ts:12:11`. */
export function userFrame(stack: string, file: string): string | undefined {
  for (const line of stack.split("\n")) {
    const at = line.indexOf(file);
    if (at >= 0) return line.slice(at).replace(/\)$/, "").trim();
  }
  return undefined;
}

const decoder = new TextDecoder();
const OPEN = 0x5b;
const COMMA = 0x2c;
const CLOSE = 0x5d;

/**
 * Parses a batch's values as one JSON array: one decode and one JSON.parse for thousands
 * of records costs a fraction of decoding and parsing each (values are JSON documents
 * that Igloo wrote, one per record).
 */
function parseAll(records: readonly StreamRecord[]): (Record<string, unknown> | NotJson)[] {
  let size = 2;
  for (const r of records) size += r.value.length + 1;
  const bytes = new Uint8Array(size);
  bytes[0] = OPEN;
  let at = 1;
  records.forEach((r, i) => {
    if (i > 0) bytes[at++] = COMMA;
    bytes.set(r.value, at);
    at += r.value.length;
  });
  bytes[at++] = CLOSE;
  try {
    return JSON.parse(decoder.decode(bytes.subarray(0, at))) as Record<string, unknown>[];
  } catch {
    // A record some other Kafka client wrote is not JSON: find it, one record at a time.
    return records.map((r) => {
      try {
        return JSON.parse(decoder.decode(r.value)) as Record<string, unknown>;
      } catch (error) {
        return new NotJson(error instanceof Error ? error.message : String(error));
      }
    });
  }
}

type Processed = { readonly ok: true; readonly outputs: { json: string; key: string | undefined }[] } | { readonly ok: false; readonly error: string };

/** Stands in for an input that did not parse, so it goes to the dead letters, not to `run`. */
class NotJson {
  constructor(readonly reason: string) {}
}

export class FunctionRunner {
  readonly #stream: Stream;
  readonly #options: RunnerOptions;
  #subscription: Subscription | undefined;

  constructor(stream: Stream, options: RunnerOptions) {
    this.#stream = stream;
    this.#options = options;
  }

  #target(model: string): IngestTarget {
    const target = this.#options.targets(model);
    if (!target) throw new Error(`function ${this.#options.name}: model ${model} is not running`);
    return target;
  }

  async start(): Promise<void> {
    const o = this.#options;
    this.#subscription = await this.#stream.subscribe({
      topic: this.#target(o.from).topic,
      group: functionGroup(o.name),
      maxBatchRecords: o.maxBatchRecords ?? 5000,
      maxWaitMs: o.maxWaitMs ?? 20,
      startAt: o.startFrom ?? "earliest",
      handle: (batch) => this.#handle(batch),
      onError: (error) => o.onError?.(error),
    });
  }

  #failure(outcome: Extract<Outcome, { ok: false }>): string {
    // Inputs that never reached `run` (not JSON) carry no stack.
    if (outcome.stack === "") return `${this.#options.name}: ${outcome.error}`;
    const frame = userFrame(outcome.stack, this.#options.file);
    return `${this.#options.name} threw: ${outcome.error}${frame ? ` (at ${frame})` : ""}`;
  }

  /**
   * Runs the function over records of its source topic. Per record: the outputs to append
   * (JSON rows, with their stream keys) or why it failed (what its dead letter says).
   */
  async #process(records: readonly StreamRecord[]): Promise<Processed[]> {
    const { executor } = this.#options;
    const from = this.#target(this.#options.from);
    const to = this.#target(this.#options.to);
    const inputs = parseAll(records);
    for (const input of inputs) if (!(input instanceof NotJson) && RECORD_ID_FIELD in input) delete input[RECORD_ID_FIELD];
    // The stream carries rows (column names); `run` gets records (field names).
    const runnable = inputs.flatMap((input, i) => (input instanceof NotJson ? [] : [{ input: from.toRecord ? from.toRecord(input) : input, i }]));
    const keys = runnable.map(({ input }) => (from.model.key === undefined ? undefined : String(input[from.model.key])));
    const ran = await executor.run(
      runnable.map(({ input }) => input),
      keys,
    );
    const outcomes = new Array<Outcome>(inputs.length);
    runnable.forEach(({ i }, k) => (outcomes[i] = ran[k]!));
    inputs.forEach((input, i) => {
      if (input instanceof NotJson) outcomes[i] = { ok: false, error: `the input record is not JSON (${input.reason})`, stack: "" };
    });
    return outcomes.map((outcome): Processed => {
      if (!outcome.ok) return { ok: false, error: this.#failure(outcome) };
      const results = outcome.value === null || outcome.value === undefined ? [] : Array.isArray(outcome.value) ? outcome.value : [outcome.value];
      const outputs: { json: string; key: string | undefined }[] = [];
      for (const [k, result] of results.entries()) {
        const checked = to.validate(result);
        if (!checked.ok) {
          const which = results.length > 1 ? ` result ${k}` : " its result";
          return { ok: false, error: `${this.#options.name} returned an invalid ${to.model.name} in${which}: ${checked.error}` };
        }
        const json = JSON.stringify(to.toRow ? to.toRow(checked.record) : checked.record);
        outputs.push({ json, key: to.model.key === undefined ? undefined : String(checked.record[to.model.key]) });
      }
      return { ok: true, outputs };
    });
  }

  async #handle(batch: RecordBatch): Promise<void> {
    const use = this.#options.use;
    if (!use) return await this.#handleBatch(batch);
    const done = await use(this.#options.to, async () => (await this.#handleBatch(batch), true));
    if (done !== true) throw new Error(`function ${this.#options.name}: model ${this.#options.to} is not running`);
  }

  async #handleBatch(batch: RecordBatch): Promise<void> {
    const to = this.#target(this.#options.to);
    const processed = await this.#process(batch.records);
    const outputs: ProducerRecord[] = [];
    const refusals: Refusal[] = [];
    processed.forEach((result, i) => {
      if (result.ok) for (const { json, key } of result.outputs) outputs.push(key === undefined ? { value: json } : { key, value: json });
      else refusals.push({ record: decoder.decode(batch.records[i]!.value), error: result.error });
    });
    this.#options.metrics?.functionRecords.inc({ function: this.#options.name }, batch.records.length);
    this.#options.metrics?.functionErrors.inc({ function: this.#options.name }, refusals.length);
    if (outputs.length > 0) await this.#stream.append(to.topic, outputs);
    await appendDeadLetters(this.#stream, this.#options.name, "function", refusals);
    for (const refusal of refusals) this.#options.onRecordError?.(refusal.error);
  }

  /**
   * Runs the function again over inputs it once refused (dead letters), after a fix. The
   * outputs of input i carry ids `${ids[i]}:k` (recordIds.ts), so the table writer stores
   * each once however often the same dead letters are replayed. Inputs that fail again
   * are reported, not dead-lettered again (their dead letters are still there).
   */
  async replay(inputs: readonly string[], ids: readonly string[]): Promise<{ refed: number; failed: string[] }> {
    const to = this.#target(this.#options.to);
    const records: StreamRecord[] = inputs.map((text, offset) => ({ offset, key: undefined, value: new TextEncoder().encode(text) }));
    const processed = await this.#process(records);
    const outputs: ProducerRecord[] = [];
    const failed: string[] = [];
    processed.forEach((result, i) => {
      if (!result.ok) return void failed.push(result.error);
      result.outputs.forEach(({ json, key }, k) => {
        const value = withRecordId(json, `${ids[i]!}:${k}`);
        // Unkeyed outputs are keyed by their id: a repeat lands in the partition of the first.
        outputs.push({ key: key ?? ids[i]!, value });
      });
    });
    for (let i = 0; i < outputs.length; i += 5_000) await this.#stream.append(to.topic, outputs.slice(i, i + 5_000));
    return { refed: inputs.length - failed.length, failed };
  }

  async stop(): Promise<void> {
    await this.#subscription?.close();
    this.#subscription = undefined;
    await this.#options.executor.close();
  }
}
