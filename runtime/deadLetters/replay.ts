/**
 * Replaying dead letters after a fix: `igloo dead-letters replay --source <name>`. The
 * dead letters of a model (refused at ingest or by its table) are checked against the
 * model as it is now and appended to its topic; those of a function are run through the
 * function as it is now, and its outputs appended to its target's topic. Each dead letter
 * gives its records an id derived from the dead letter itself (recordIds.ts), so the
 * table writers store each once, however often the same dead letters are replayed.
 * Records that are refused again are counted and described, not dead-lettered again
 * (their dead letters are still there).
 */
import { createHash } from "node:crypto";
import { IglooError } from "../../conventions/errors.ts";
import { DEAD_LETTER_TABLE, type DeadLetter } from "./deadLetters.ts";
import type { FunctionHost } from "../functions/functionHost.ts";
import { topicRecord, type IngestTarget } from "../ingest/ingest.ts";
import { quoteString } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { ProducerRecord, Stream } from "../stream/stream.ts";

export interface ReplayRequest {
  /** A model or function name, as in the dead letters' `source` column. */
  readonly source: string;
  /** Only dead letters from this time on (ISO-8601). */
  readonly since?: string;
}

export interface ReplayReport {
  readonly source: string;
  readonly kind: "model" | "function";
  /** Dead letters read. */
  readonly read: number;
  /** Fed again: their records (or the function's outputs) are on their way to the tables. */
  readonly refed: number;
  /** Refused again, with the first reasons. */
  readonly refusedAgain: number;
  readonly errors: readonly string[];
  /** More dead letters than one replay takes: run it again with `since` after the last. */
  readonly more: boolean;
  /** The time of the last dead letter read. */
  readonly until: string | undefined;
}

/** Dead letters one replay reads: enough for a day of failures, small enough to hold. */
export const MAX_REPLAY = 100_000;
const LISTED_ERRORS = 20;

export interface ReplayContext {
  readonly store: Store;
  readonly stream: Stream;
  readonly target: (model: string) => IngestTarget | undefined;
  readonly functions: FunctionHost;
  readonly models: () => readonly string[];
}

/** A dead letter as the replay reads it: the source is the one asked for. */
type Letter = Omit<DeadLetter, "source">;

/** The id prefix of what a dead letter's replay writes: the same every time. */
function letterId(source: string, letter: Letter): string {
  return createHash("sha256").update(`replay\u0000${source}\u0000${letter.ts}\u0000${letter.stage}\u0000${letter.record}\u0000${letter.error}`).digest("base64url").slice(0, 22);
}

function parseSince(since: string | undefined): string | undefined {
  if (since === undefined || since === "") return undefined;
  const at = new Date(since);
  if (!/^\d{4}-\d\d-\d\d/.test(since) || Number.isNaN(at.getTime())) {
    throw new IglooError("E_BAD_REQUEST", `\`since\` must be an ISO-8601 time such as 2026-11-30T09:00:00Z, got ${JSON.stringify(since)}`, { kind: "bad_input" });
  }
  // Whole seconds: servers whose dead letters are DateTime compare at that precision.
  return at.toISOString().slice(0, 19).replace("T", " ");
}

export async function replayDeadLetters(context: ReplayContext, request: ReplayRequest): Promise<ReplayReport> {
  const { source } = request;
  const target = context.target(source);
  const isFunction = context.functions.has(source);
  if (!target && !isFunction) {
    throw new IglooError(
      "E_NOT_FOUND",
      `\`${source}\` is neither a model nor a function running in this process; models: ${context.models().join(", ") || "none"}. ` +
        "In production, replay a function's dead letters through a process that runs functions (--role all).",
      { kind: "not_found" },
    );
  }
  const since = parseSince(request.since);
  const where = [`source = ${quoteString(source)}`, isFunction ? "stage = 'function'" : "stage != 'function'", ...(since ? [`ts >= ${quoteString(since)}`] : [])];
  const { rows } = await context.store.query<Letter>(
    `SELECT toString(ts) AS ts, stage, record, error FROM ${DEAD_LETTER_TABLE} WHERE ${where.join(" AND ")} ORDER BY ts, record LIMIT ${MAX_REPLAY + 1}`,
  );
  const more = rows.length > MAX_REPLAY;
  const letters = rows.slice(0, MAX_REPLAY);
  const ids = letters.map((letter) => letterId(source, letter));
  const base = { source, read: letters.length, more, until: letters.at(-1)?.ts };
  if (isFunction) {
    const { refed, failed } = await context.functions.replay(source, letters.map((l) => l.record), ids);
    return { ...base, kind: "function", refed, refusedAgain: failed.length, errors: failed.slice(0, LISTED_ERRORS) };
  }
  const records: ProducerRecord[] = [];
  const errors: string[] = [];
  letters.forEach((letter, i) => {
    let input: unknown;
    try {
      input = JSON.parse(letter.record);
    } catch {
      errors.push(`not JSON: ${letter.record.slice(0, 100)}`);
      return;
    }
    // Refused at ingest: the client's fields; refused by the table: the row's columns.
    const record = typeof input === "object" && input !== null && !Array.isArray(input) && target!.toRecord ? target!.toRecord(input as Record<string, unknown>) : input;
    const checked = target!.validate(record);
    if (!checked.ok) return void errors.push(checked.error);
    records.push(topicRecord(target!, checked.record, context.stream.external, { prefix: ids[i]!, index: 0 }));
  });
  for (let i = 0; i < records.length; i += 5_000) await context.stream.append(target!.topic, records.slice(i, i + 5_000));
  return { ...base, kind: "model", refed: records.length, refusedAgain: errors.length, errors: errors.slice(0, LISTED_ERRORS) };
}
