/**
 * The table options in the engine's own CREATE TABLE statement of a table (`SHOW CREATE
 * TABLE`, or `system.tables.create_table_query`): its TTL and settings, each column's
 * codec and TTL, its data-skipping indexes and projections, as the engine prints them.
 *
 * The engine prints an expression its own way (`INTERVAL 30 DAY` comes back as
 * `toIntervalDay(30)`), so these texts are compared only with texts the same engine
 * printed (runtime/plan/tableOptions.ts makes a throwaway table of the wanted definition
 * for that). This reads the statement's structure, brackets and quotes, not its grammar:
 * an unquoted identifier spelled like a clause keyword (a column named `TTL` in ORDER BY)
 * would confuse it, which the engine's printing of Igloo's tables never produces.
 */

export interface ColumnOptionsText {
  readonly codec?: string;
  readonly ttl?: string;
}

export interface TableOptionsText {
  readonly ttl?: string;
  /** Setting name to its value as printed (`8192`, `'hot'`). */
  readonly settings: ReadonlyMap<string, string>;
  /** Index name to `expr TYPE type GRANULARITY n`. */
  readonly indexes: ReadonlyMap<string, string>;
  /** Projection name to `(SELECT ...)`. */
  readonly projections: ReadonlyMap<string, string>;
  /** Columns with a codec or a TTL. */
  readonly columns: ReadonlyMap<string, ColumnOptionsText>;
}

/** Every position of `text` outside quotes, with its bracket depth; quotes are skipped whole. */
function scan(text: string, visit: (i: number, depth: number) => boolean | void): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === "`") {
      i = closing(text, i);
      continue;
    }
    if (c === "(" || c === "[") depth++;
    if (visit(i, c === ")" || c === "]" ? depth - 1 : depth) === true) return;
    if (c === ")" || c === "]") depth--;
  }
}

function closing(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === quote) return i;
  }
  return text.length;
}

/** Whitespace runs outside quotes made one space, none just inside brackets. */
export function normalize(text: string): string {
  let result = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === "`") {
      const end = closing(text, i);
      result += text.slice(i, end + 1);
      i = end;
    } else if (/\s/.test(c)) {
      if (result !== "" && !/[ ([]$/.test(result)) result += " ";
    } else {
      if ((c === ")" || c === "]") && result.endsWith(" ")) result = result.slice(0, -1);
      result += c;
    }
  }
  return result.trim();
}

/** Cuts `text` at the commas outside quotes and brackets. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  scan(text, (i, depth) => {
    if (text[i] === "," && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  });
  parts.push(text.slice(start).trim());
  return parts.filter((part) => part !== "");
}

interface Word {
  readonly word: string;
  readonly start: number;
  readonly end: number;
}

/** Upper-case words outside quotes and brackets: the clause keywords the engine prints. */
function keywords(text: string): Word[] {
  const words: Word[] = [];
  scan(text, (i, depth) => {
    if (depth !== 0 || !/[A-Z]/.test(text[i]!) || /[\w.]/.test(text[i - 1] ?? " ")) return;
    const match = /^[A-Z][A-Z_]*(?!\w)/.exec(text.slice(i, i + 40));
    if (match !== null) words.push({ word: match[0], start: i, end: i + match[0].length });
  });
  return words;
}

/** The text of the clause starting at keyword `name`, up to the first of `stops` after it. */
function clause(text: string, words: readonly Word[], name: string, stops: readonly string[]): string | undefined {
  const at = words.findIndex((w) => w.word === name);
  if (at < 0) return undefined;
  const start = words[at]!.end;
  const stop = words.slice(at + 1).find((w) => stops.includes(w.word));
  return normalize(text.slice(start, stop?.start ?? text.length));
}

/** A leading identifier, backquoted or bare, and what follows it. */
function leadingName(text: string): { name: string; rest: string } {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("`") || trimmed.startsWith('"')) {
    const end = closing(trimmed, 0);
    return { name: trimmed.slice(1, end).replace(/\\(.)/g, "$1"), rest: trimmed.slice(end + 1) };
  }
  const match = /^\S+/.exec(trimmed)?.[0] ?? "";
  return { name: match, rest: trimmed.slice(match.length) };
}

const COLUMN_CLAUSES = ["DEFAULT", "MATERIALIZED", "ALIAS", "EPHEMERAL", "COMMENT", "CODEC", "STATISTICS", "TTL", "SETTINGS", "PRIMARY"];
const TABLE_CLAUSES = ["ENGINE", "PARTITION", "PRIMARY", "ORDER", "SAMPLE", "TTL", "SETTINGS", "COMMENT"];

function columnOptions(rest: string): ColumnOptionsText {
  const words = keywords(rest);
  const codecAt = words.find((w) => w.word === "CODEC");
  let codec: string | undefined;
  if (codecAt !== undefined) {
    let end = rest.length;
    scan(rest.slice(codecAt.end), (i, depth) => {
      if (depth === 0 && rest[codecAt.end + i] === ")") {
        end = codecAt.end + i + 1;
        return true;
      }
    });
    codec = normalize(rest.slice(codecAt.start, end));
  }
  const ttl = clause(rest, words, "TTL", COLUMN_CLAUSES);
  return { ...(codec === undefined ? {} : { codec }), ...(ttl === undefined ? {} : { ttl }) };
}

/** The options of the table a CREATE TABLE statement describes. */
export function parseTableOptions(statement: string): TableOptionsText {
  let open = -1;
  let close = -1;
  scan(statement, (i, depth) => {
    if (open < 0 && statement[i] === "(" && depth === 1) open = i;
    else if (open >= 0 && statement[i] === ")" && depth === 0) {
      close = i;
      return true;
    }
  });
  const indexes = new Map<string, string>();
  const projections = new Map<string, string>();
  const columns = new Map<string, ColumnOptionsText>();
  const elements = open >= 0 && close > open ? splitTopLevel(statement.slice(open + 1, close)) : [];
  for (const element of elements) {
    const kind = /^(INDEX|PROJECTION|CONSTRAINT|PRIMARY KEY|STATISTICS)\s/.exec(element)?.[1];
    if (kind === "INDEX" || kind === "PROJECTION") {
      const { name, rest } = leadingName(element.slice(kind.length));
      (kind === "INDEX" ? indexes : projections).set(name, normalize(rest));
    } else if (kind === undefined) {
      const { name, rest } = leadingName(element);
      const options = columnOptions(rest);
      if (options.codec !== undefined || options.ttl !== undefined) columns.set(name, options);
    }
  }
  const tail = close >= 0 ? statement.slice(close + 1) : "";
  const words = keywords(tail);
  const ttl = clause(tail, words, "TTL", TABLE_CLAUSES);
  const settings = new Map<string, string>();
  for (const entry of splitTopLevel(clause(tail, words, "SETTINGS", ["COMMENT"]) ?? "")) {
    const eq = entry.indexOf("=");
    if (eq > 0) settings.set(entry.slice(0, eq).trim(), normalize(entry.slice(eq + 1)));
  }
  return { ...(ttl === undefined ? {} : { ttl }), settings, indexes, projections, columns };
}
