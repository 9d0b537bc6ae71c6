/**
 * A test pipeline's clock in SQL. ClickHouse has no setting that fixes `now()`, so in a
 * test pipeline the current-time functions of views and queries are rewritten to read a
 * one-row table that the pipeline's clock writes (`CLOCK_TABLE`), falling back to the
 * engine's own time while the clock runs: `now()`, `now64(p)`, `today()`, `yesterday()`
 * and `current_timestamp()` keep their result types (a time zone argument included), so
 * a time-windowed view answers as it would at the clock's time. Nothing else changes, and
 * only test pipelines do this; `igloo dev` and production use the engine's time.
 *
 * The rewrite works on tokens, so strings, comments and a column called `now` (`t.now`, or
 * `now` not followed by a parenthesis) are left alone. The inserted text has no newline:
 * an error's line in a rewritten view is still the line of its file.
 */
import { isPunct, tokenize, type Token } from "../../conventions/views/tokens.ts";

export const CLOCK_TABLE = "igloo_test_clock";

/** The clock's time, or the engine's while the clock runs (the table is then empty). */
const CLOCK = `ifNull((SELECT max(at) FROM ${CLOCK_TABLE}), now64(3))`;

export const CREATE_CLOCK_TABLE = `CREATE TABLE IF NOT EXISTS ${CLOCK_TABLE} (at Nullable(DateTime64(3))) ENGINE = Memory`;

/** The statements that set the clock to `ms` (epoch milliseconds), or let it run. */
export function setClockStatements(ms: number | undefined): string[] {
  const truncate = `TRUNCATE TABLE ${CLOCK_TABLE}`;
  return ms === undefined ? [truncate] : [truncate, `INSERT INTO ${CLOCK_TABLE} SELECT fromUnixTimestamp64Milli(toInt64(${Math.trunc(ms)}))`];
}

/** Each current-time function: its replacement's head, and the arguments it adds when called with none. */
const REWRITES: ReadonlyMap<string, { readonly call: string; readonly bare: string; readonly tail?: string }> = new Map([
  ["now", { call: "toDateTime(", bare: "" }],
  ["current_timestamp", { call: "toDateTime(", bare: "" }],
  ["now64", { call: "toDateTime64(", bare: ", 3" }],
  ["today", { call: "toDate(", bare: "" }],
  ["yesterday", { call: "(toDate(", bare: "", tail: " - 1)" }],
]);
/** Names ClickHouse matches in any case; `today` and `yesterday` it does not. */
const ANY_CASE = new Set(["now", "now64", "current_timestamp"]);

function rewriteOf(token: Token) {
  if (token.kind !== "word") return undefined;
  const lower = token.text.toLowerCase();
  return ANY_CASE.has(lower) || token.text === lower ? REWRITES.get(lower) : undefined;
}

/** `sql` with its current-time calls reading the test clock; unchanged when it has none (or does not tokenize). */
export function withTestClock(sql: string): string {
  const lexed = tokenize(sql);
  if (!lexed.ok) return sql;
  const { tokens } = lexed;
  const edits: { start: number; end: number; text: string }[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const rewrite = rewriteOf(token);
    if (rewrite === undefined || !isPunct(tokens[i + 1], "(") || isPunct(tokens[i - 1], ".")) continue;
    const empty = isPunct(tokens[i + 2], ")");
    // yesterday() takes no arguments: one that has some is left for the engine to refuse.
    if (rewrite.tail !== undefined && !empty) continue;
    edits.push({ start: token.start, end: tokens[i + 1]!.end, text: `${rewrite.call}${CLOCK}${empty ? rewrite.bare : ", "}` });
    // yesterday()'s `)` closes toDate, and the tail follows it.
    if (rewrite.tail !== undefined) edits.push({ start: tokens[i + 2]!.start, end: tokens[i + 2]!.end, text: `)${rewrite.tail}` });
  }
  let out = sql;
  for (const edit of edits.reverse()) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}
