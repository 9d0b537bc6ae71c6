/**
 * One query for many feeds of one parameterized view. A hundred dashboards each following
 * their own customer of the same view are a hundred reads after each change, and on an
 * engine in this process each read costs more in fixed overhead than in work (measured:
 * 100 reads 320-480 ms, the same as one query 190-260 ms). So the stale feeds of a view
 * are read together: each feed's SELECT, its parameters renamed apart, tagged with the
 * feed's number and its row order, all under UNION ALL, sorted by feed then row.
 *
 *   SELECT * EXCEPT (__igloo_row) FROM (
 *     SELECT 0 AS __igloo_feed, row_number() OVER () AS __igloo_row, * FROM (<view, f0_ parameters>)
 *     UNION ALL SELECT 1 AS __igloo_feed, ... FROM (<view, f1_ parameters>) ...
 *   ) ORDER BY __igloo_feed, __igloo_row
 *
 * Each row comes back as `{"__igloo_feed":N,` followed by the view's columns, so a
 * feed's own rows are the text after that tag: byte for byte what its own read returns.
 * An engine without window functions or EXCEPT refuses the batch, and so does a batch
 * over the result limits; the caller then reads the feeds one by one.
 */
import { tokenize } from "../../conventions/views/tokens.ts";
import type { ViewStatement } from "../views/viewQuery.ts";

const FEED = "__igloo_feed";
const ROW = "__igloo_row";
/** The engine's default max_query_size is 256 KiB: stay well under it. */
const MAX_SQL = 128 * 1024;
/**
 * Feeds per batch: the first batch's rows are on their way while the next one runs.
 * Measured with 10,000 subscribers over 100 feeds (bench/subscriptions.ts, 10 s): all 100
 * in one query, push p99 1,035 ms after the ack; at most 32, 936 ms; at most 10, 892 ms.
 */
const MAX_FEEDS = 16;

export interface Batch {
  readonly statement: ViewStatement;
  /** How many of the statements it covers (a prefix of those given). */
  readonly count: number;
}

/** The statement reading `statements` (one view's, different parameter values) at once, or undefined when it cannot. */
export function batchStatement(statements: readonly ViewStatement[]): Batch | undefined {
  const lexed = tokenize(statements[0]?.sql ?? "");
  if (!lexed.ok || statements.length < 2) return undefined;
  const branches: string[] = [];
  const params: Record<string, ViewStatement["params"][string]> = {};
  let size = 0;
  for (const [i, statement] of statements.entries()) {
    if (statement.sql !== statements[0]!.sql || i >= MAX_FEEDS) break;
    const prefix = `f${i}_`;
    let sql = "";
    let at = 0;
    for (const token of lexed.tokens) {
      if (token.kind !== "param") continue;
      sql += statement.sql.slice(at, token.start) + `{${prefix}${token.text.slice(1)}`;
      at = token.end;
    }
    sql += statement.sql.slice(at);
    const branch = `SELECT ${i} AS ${FEED}, row_number() OVER () AS ${ROW}, * FROM (\n${sql}\n)`;
    if (size + branch.length > MAX_SQL && branches.length >= 2) break;
    size += branch.length;
    branches.push(branch);
    for (const [name, value] of Object.entries(statement.params)) params[`${prefix}${name}`] = value;
  }
  if (branches.length < 2) return undefined;
  const sql = `SELECT * EXCEPT (${ROW}) FROM (\n${branches.join("\nUNION ALL\n")}\n)\nORDER BY ${FEED}, ${ROW}`;
  return { statement: { sql, params }, count: branches.length };
}

/**
 * The batch's rows given back to each feed: `count` lists, each row without its tag, as
 * the feed's own read returns it. Undefined if a row is not as the batch writes them.
 */
export function splitBatch(rows: readonly string[], count: number): string[][] | undefined {
  const feeds: string[][] = Array.from({ length: count }, () => []);
  const tag = `{"${FEED}":`;
  for (const row of rows) {
    const comma = row.indexOf(",", tag.length);
    const list = row.startsWith(tag) && comma > 0 ? feeds[Number(row.slice(tag.length, comma))] : undefined;
    if (list === undefined) return undefined;
    list.push(`{${row.slice(comma + 1)}`);
  }
  return feeds;
}
