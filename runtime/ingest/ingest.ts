/**
 * The ingest path, independent of the HTTP framework: candidates in, a verdict out.
 * Each record is validated on its own; accepted records go to the model's topic and
 * rejected ones to the dead-letter topic, and the verdict is only returned once both
 * appends are durable. An ack means durable.
 */
import { IglooError } from "../../conventions/errors.ts";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { appendDeadLetters, type Refusal } from "../deadLetters/deadLetters.ts";
import type { ProducerRecord, Stream } from "../stream/stream.ts";
import { withRecordId } from "./recordIds.ts";
import { tokenFor } from "./tokens.ts";
import { BodyError, hostileShape, isUnparseable, type Candidate } from "./parseBody.ts";

export type Validate = (input: unknown) => { ok: true; record: Record<string, unknown> } | { ok: false; error: string };

export interface IngestTarget {
  readonly model: ModelIR;
  readonly topic: string;
  readonly validate: Validate;
  /**
   * A record (field names) as the row the stream carries and the table takes (column
   * names), for models with `@map` fields; undefined when every column is named after its
   * field. The column is what stays when a field is renamed, so records written before a
   * rename still land in it.
   */
  readonly toRow?: (record: Record<string, unknown>) => Record<string, unknown>;
  /** The inverse, for what reads the stream as records (functions). */
  readonly toRecord?: (row: Record<string, unknown>) => Record<string, unknown>;
}

/** The renames between a model's fields and its columns, or nothing when there are none. */
export function rowShape(model: ModelIR): Pick<IngestTarget, "toRow" | "toRecord"> {
  const mapped = model.fields.filter((f) => f.column !== f.name);
  if (mapped.length === 0) return {};
  const toColumn = new Map(mapped.map((f) => [f.name, f.column]));
  const toField = new Map(mapped.map((f) => [f.column, f.name]));
  const rename = (names: ReadonlyMap<string, string>) => (input: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(input)) out[names.get(name) ?? name] = value;
    return out;
  };
  return { toRow: rename(toColumn), toRecord: rename(toField) };
}

export interface RecordError {
  readonly index: number;
  readonly message: string;
}

export interface IngestVerdict {
  readonly accepted: number;
  readonly rejected: number;
  readonly errors: RecordError[];
}

/** Most errors a response lists; the count is always exact. */
const MAX_LISTED_ERRORS = 1000;

function rawText(candidate: Candidate): string {
  if (isUnparseable(candidate)) return candidate.text;
  try {
    return JSON.stringify(candidate) ?? String(candidate);
  } catch {
    return "<record could not be serialised>";
  }
}

/** A request whose invalid records pass the limit: refused whole, nothing stored. */
export class TooManyInvalidError extends IglooError {
  readonly verdict: IngestVerdict;
  constructor(limit: number, verdict: IngestVerdict) {
    super(
      "E_TOO_MANY_INVALID",
      `${verdict.rejected.toLocaleString("en-US")} of the ${(verdict.accepted + verdict.rejected).toLocaleString("en-US")} records are invalid, more than the ${limit.toLocaleString("en-US")} a request may hold (IGLOO_MAX_INVALID_RECORDS); ` +
        "nothing was stored. Fix the sender: the first errors say what is wrong",
      { kind: "bad_input", details: { errors: verdict.errors } },
    );
    this.name = "TooManyInvalidError";
    this.verdict = verdict;
  }
}

export interface IngestOptions {
  /** Invalid records a request may hold before it is refused whole. */
  readonly maxInvalid?: number;
  /**
   * With an idempotency key: the prefix of the ids the accepted records carry (see
   * recordIds.ts). On a stream with partitions (Kafka), records of a model without a key
   * are then keyed by it, so a resend goes to the partition the first send went to, and
   * one writer sees both.
   */
  readonly recordIdPrefix?: string;
}

/** The verdict, and the read-your-writes token of where the accepted records went (tokens.ts). */
export interface IngestResult extends IngestVerdict {
  readonly token: string;
}

/**
 * A checked record as it goes into the model's topic: its row, with its ingest id (see
 * recordIds.ts) when it has one, keyed by the model's key; without one, on a stream with
 * partitions (Kafka), by the id's prefix, so a resend lands in the partition of the first.
 */
export function topicRecord(target: IngestTarget, record: Record<string, unknown>, external: boolean, id?: { prefix: string; index: number }): ProducerRecord {
  const json = JSON.stringify(target.toRow ? target.toRow(record) : record);
  const value = id === undefined ? json : withRecordId(json, `${id.prefix}:${id.index}`);
  const key = target.model.key !== undefined ? String(record[target.model.key]) : external ? id?.prefix : undefined;
  return key === undefined ? { value } : { key, value };
}

export async function ingest(stream: Stream, target: IngestTarget, candidates: readonly Candidate[], options: IngestOptions = {}): Promise<IngestResult> {
  const accepted: ProducerRecord[] = [];
  const rejected: { index: number; candidate: Candidate; message: string }[] = [];
  const prefix = options.recordIdPrefix;
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i];
    if (isUnparseable(candidate)) {
      rejected.push({ index: i, candidate, message: candidate.message });
      continue;
    }
    const result = target.validate(candidate);
    if (result.ok) {
      accepted.push(topicRecord(target, result.record, stream.external, prefix === undefined ? undefined : { prefix, index: accepted.length }));
    } else {
      rejected.push({ index: i, candidate, message: result.error });
    }
  }

  if (rejected.length > (options.maxInvalid ?? Number.POSITIVE_INFINITY)) {
    throw new TooManyInvalidError(options.maxInvalid!, {
      accepted: accepted.length,
      rejected: rejected.length,
      errors: rejected.slice(0, 100).map((r) => ({ index: r.index, message: r.message })),
    });
  }

  const refusals: Refusal[] = [];
  for (const r of rejected) {
    const hostile = hostileShape(r.candidate, `$[${r.index}]`);
    if (hostile) throw new BodyError("bad_input", `record ${r.index}: ${hostile}; nothing was stored`);
    refusals.push({ record: rawText(r.candidate), error: r.message });
  }

  // Two topics cannot be appended atomically. Dead letters go first: if the model's append
  // then fails, the client gets a 503 and retries, and the worst case is a repeated dead
  // letter, never a repeated (or lost) accepted record.
  await appendDeadLetters(stream, target.model.name, "ingest", refusals);
  const appended = accepted.length > 0 ? await stream.append(target.topic, accepted) : new Map<number, number>();

  return {
    accepted: accepted.length,
    rejected: rejected.length,
    errors: rejected.slice(0, MAX_LISTED_ERRORS).map((r) => ({ index: r.index, message: r.message })),
    token: tokenFor(target.topic, appended),
  };
}
