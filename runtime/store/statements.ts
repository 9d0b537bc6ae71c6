/**
 * Splits nothing, only counts: does this SQL text hold more than one statement? chDB
 * runs `a; b` as two statements and, when `b` fails, leaves `a`'s output in the session
 * for the next query to trip over; a ClickHouse server refuses multi-statements itself.
 * So user queries are held to one statement, checked with a small lexer that knows
 * ClickHouse's string, identifier and comment syntax.
 */
export function statementCount(sql: string): number {
  let count = 0;
  let pending = false; // the current statement has a token
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "#" && sql[i + 1] === "!") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      pending = true;
      i++;
      while (i < n && sql[i] !== c) i += sql[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === ";") {
      if (pending) count++;
      pending = false;
      i++;
    } else {
      if (!/\s/.test(c)) pending = true;
      i++;
    }
  }
  return pending ? count + 1 : count;
}
