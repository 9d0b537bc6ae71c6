/**
 * A small lexer of ClickHouse SQL: words, quoted names, strings and symbols, with
 * comments dropped. It knows ClickHouse's string, identifier and comment syntax and
 * nothing of its grammar: it splits, it does not parse.
 *
 * Two uses. chDB runs `a; b` as two statements and, when `b` fails, leaves `a`'s output in
 * the session for the next query to trip over, while a ClickHouse server refuses
 * multi-statements itself; so user queries are held to one statement (statementCount).
 * And a server too old to show its parse tree (no `EXPLAIN AST`) gets the coarse check of
 * runtime/query/readPolicy.ts on these tokens.
 */

export interface SqlToken {
  /** `word`: a keyword, a name or a number; `quoted`: a name in backquotes or double quotes. */
  readonly kind: "word" | "quoted" | "string" | "symbol";
  /** A quoted name or string without its quotes and escapes; otherwise the text itself. */
  readonly text: string;
}

const WORD = /[A-Za-z0-9_$]/;

function unquote(body: string, quote: string): string {
  return body.replace(new RegExp(`\\\\(.)|${quote}${quote}`, "gs"), (match, escaped: string | undefined) => escaped ?? quote);
}

export function sqlTokens(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "#" && (sql[i + 1] === "!" || sql[i + 1] === " ")) {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      const start = ++i;
      while (i < n && !(sql[i] === c && sql[i + 1] !== c)) i += sql[i] === "\\" || sql[i] === c ? 2 : 1;
      tokens.push({ kind: c === "'" ? "string" : "quoted", text: unquote(sql.slice(start, i), c) });
      i++;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < n && WORD.test(sql[i]!)) i++;
      tokens.push({ kind: "word", text: sql.slice(start, i) });
    } else {
      if (!/\s/.test(c)) tokens.push({ kind: "symbol", text: c });
      i++;
    }
  }
  return tokens;
}

/** How many statements the text holds: `;`-separated runs of tokens. */
export function statementCount(sql: string): number {
  let count = 0;
  let pending = false;
  for (const token of sqlTokens(sql)) {
    if (token.kind === "symbol" && token.text === ";") {
      if (pending) count++;
      pending = false;
    } else {
      pending = true;
    }
  }
  return pending ? count + 1 : count;
}
