/**
 * The dead-letter store: every record Igloo could not take (invalid at ingest, thrown by a
 * function, refused by the table) lands here with the reason, queryable as the table
 * `igloo_dead_letters`. It travels like any model's data: a topic, then the table writer.
 */
import { BUILTIN_SOURCE, builtinField } from "../../conventions/datamodels/builtin.ts";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import type { Stream } from "../stream/stream.ts";

export const DEAD_LETTER_TOPIC = "igloo_dead_letters";
export const DEAD_LETTER_TABLE = "igloo_dead_letters";

export type DeadLetterStage = "ingest" | "function" | "writer";

export interface DeadLetter {
  readonly ts: string;
  /** The model (at ingest and in the writer) or the function that refused the record. */
  readonly source: string;
  readonly stage: DeadLetterStage;
  /** The original record as JSON text (or the raw line when it was not JSON). */
  readonly record: string;
  readonly error: string;
}

/** A record one stage could not take: the record as text and why. */
export interface Refusal {
  readonly record: string;
  readonly error: string;
}

/**
 * Appends one dead letter per refusal to the dead-letter topic, and resolves once they
 * are durable. The one place a dead letter is built, so every stage writes the same row.
 */
export async function appendDeadLetters(stream: Pick<Stream, "append">, source: string, stage: DeadLetterStage, refusals: readonly Refusal[]): Promise<void> {
  if (refusals.length === 0) return;
  await stream.append(
    DEAD_LETTER_TOPIC,
    refusals.map(({ record, error }) => {
      const letter: DeadLetter = { ts: new Date().toISOString(), source, stage, record, error };
      return { value: JSON.stringify(letter) };
    }),
  );
}



/** The dead-letter table, described like a model so it is created and written the same way. */
export const DEAD_LETTER_MODEL: ModelIR = {
  name: DEAD_LETTER_TABLE,
  table: DEAD_LETTER_TABLE,
  fields: [
    builtinField("ts", { kind: "datetime", precision: 3 }),
    builtinField("source", { kind: "string", lowCardinality: true }),
    builtinField("stage", { kind: "string", lowCardinality: true }),
    builtinField("record", { kind: "string", lowCardinality: false }),
    builtinField("error", { kind: "string", lowCardinality: false }),
  ],
  id: [],
  orderBy: ["source", "ts"],
  engine: { kind: "MergeTree" },
  source: BUILTIN_SOURCE,
};
