/**
 * Which tables and views a SELECT reads, for ordering views and for naming a missing
 * table in the view's own file. Best effort over tokens: a name right after FROM or JOIN
 * in a query (not inside `EXTRACT(DAY FROM ts)` and the like), minus CTE names, subquery
 * aliases and table functions. The engine remains the judge: whatever this misses, the
 * engine reports when the view is created.
 */
import { isIdentifier, isKeyword, isPunct, matchParens, type Token } from "./tokens.ts";

/** Words that end a table reference, so they are never mistaken for its alias. */
const CLAUSE_WORDS = new Set([
  "WHERE", "PREWHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS",
  "OUTER", "ANY", "ALL", "ASOF", "SEMI", "ANTI", "ARRAY", "GLOBAL", "ON", "USING", "FINAL", "SAMPLE", "UNION",
  "EXCEPT", "INTERSECT", "SETTINGS", "FORMAT", "WINDOW", "QUALIFY", "INTO", "PASTE", "OFFSET",
]);

export function findReferences(tokens: readonly Token[]): string[] {
  const pairs = matchParens(tokens) ?? new Map<number, number>();
  const isQueryParen = (i: number): boolean =>
    isPunct(tokens[i], "(") && (isKeyword(tokens[i + 1], "SELECT") || isKeyword(tokens[i + 1], "WITH"));

  const excluded = new Set<string>();
  const found: string[] = [];
  const stack: number[] = [];

  const readTable = (i: number): number => {
    const first = tokens[i];
    if (!isIdentifier(first)) return i;
    let name = first!.value;
    let j = i + 1;
    while (isPunct(tokens[j], ".") && isIdentifier(tokens[j + 1])) {
      name += "." + tokens[j + 1]!.value;
      j += 2;
    }
    if (isPunct(tokens[j], "(")) return j; // a table function: numbers(10), file(...)
    found.push(name);
    return j;
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isPunct(t, "(")) {
      stack.push(i);
      // `name AS (SELECT ...)` in a WITH clause declares a CTE.
      if (isQueryParen(i) && isKeyword(tokens[i - 1], "AS") && isIdentifier(tokens[i - 2])) excluded.add(tokens[i - 2]!.value);
      continue;
    }
    if (isPunct(t, ")")) {
      const open = stack.pop();
      // `(SELECT ...) AS alias` or `(SELECT ...) alias` names a subquery.
      if (open !== undefined && isQueryParen(open)) {
        const aliasAt = isKeyword(tokens[i + 1], "AS") ? i + 2 : i + 1;
        const alias = tokens[aliasAt];
        if (isIdentifier(alias) && !CLAUSE_WORDS.has(alias!.text.toUpperCase())) excluded.add(alias!.value);
      }
      continue;
    }
    const top = stack[stack.length - 1];
    const inQuery = top === undefined || isQueryParen(top);
    if (!inQuery) continue;
    if (isKeyword(t, "JOIN") && !isKeyword(tokens[i - 1], "ARRAY")) {
      readTable(i + 1);
    } else if (isKeyword(t, "FROM")) {
      // `FROM a, b` (an implicit cross join) lists several tables at this depth.
      let j = readTable(i + 1);
      for (;;) {
        if (isPunct(tokens[j], "(")) j = (pairs.get(j) ?? j) + 1;
        if (isKeyword(tokens[j], "AS")) j += 2;
        else if (tokens[j]?.kind === "word" && !CLAUSE_WORDS.has(tokens[j]!.text.toUpperCase())) j += 1;
        if (isKeyword(tokens[j], "FINAL")) j += 1;
        if (!isPunct(tokens[j], ",")) break;
        j = readTable(j + 1);
      }
    }
  }
  return [...new Set(found.filter((name) => !excluded.has(name)))];
}
