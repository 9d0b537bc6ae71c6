/**
 * Recognises the one SELECT shape Igloo maintains incrementally, over tokens:
 *
 *   SELECT item, ... FROM table [[AS] alias] [WHERE expr] GROUP BY expr, ...
 *
 * where each item is a GROUP BY expression (aliased or not) or one of count(), count(x),
 * sum(x), avg(x), min(x), max(x), uniq(x), uniqExact(x), any(x), optionally aliased.
 * Anything else (HAVING, ORDER BY, LIMIT, JOIN, subqueries, DISTINCT, SETTINGS, window
 * functions, combinators, parametric aggregates, ...) is reported with a reason and the
 * view stays a plain view. `vetExpressions` then checks, against the engine's catalogue,
 * that every expression is deterministic over the table's own columns, so evaluating it
 * at insert time (in the materialized view) gives what a query would give later.
 */
import { isIdentifier, isKeyword, isPunct, matchParens, tokenize, type Token } from "../../conventions/views/tokens.ts";

/** Aggregates with a -State/-Merge pair whose merged states equal a from-scratch run. */
const AGGREGATES: Readonly<Record<string, string>> = {
  count: "count", sum: "sum", avg: "avg", min: "min", max: "max", uniq: "uniq", uniqExact: "uniqExact", any: "any",
};
/** The engine treats these names case-insensitively (system.functions.case_insensitive). */
const CASE_INSENSITIVE = new Set(["count", "sum", "avg", "min", "max"]);

/** Words allowed in vetted expressions besides columns, aliases and function names. */
const EXPRESSION_WORDS = new Set([
  "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END",
  "INTERVAL", "TRUE", "FALSE", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR",
]);

export type SelectItem =
  /** A GROUP BY expression; `text` is the item as written, alias included. */
  | { readonly kind: "key"; readonly text: string }
  | { readonly kind: "aggregate"; readonly fn: string; readonly arg: string | undefined; readonly alias: string | undefined };

export interface AggregationShape {
  readonly table: string;
  /** Names that may qualify a column: the table and its alias. */
  readonly qualifiers: ReadonlySet<string>;
  readonly items: readonly SelectItem[];
  /** GROUP BY expressions that are not selected, as written. */
  readonly extraKeys: readonly string[];
  /** The query from FROM to the end, as written. */
  readonly rest: string;
  /** Token lists to vet: keys, WHERE, aggregate arguments. */
  readonly expressions: readonly (readonly Token[])[];
  /** Aliases declared in the select list. */
  readonly aliases: ReadonlySet<string>;
  /** Aliases of GROUP BY items. */
  readonly keyAliases: ReadonlySet<string>;
}

export type Analysis = AggregationShape | { readonly reason: string };

export function analyzeAggregation(sql: string): Analysis {
  const lexed = tokenize(sql);
  if (!lexed.ok) return { reason: lexed.message };
  const tokens = lexed.tokens;
  const pairs = matchParens(tokens);
  if (pairs === undefined) return { reason: "unbalanced parentheses" };
  if (!isKeyword(tokens[0], "SELECT")) return { reason: "it does not start with SELECT (WITH is not rewritten)" };
  if (isKeyword(tokens[1], "DISTINCT") || isKeyword(tokens[1], "ALL")) return { reason: `it uses SELECT ${tokens[1]!.text}` };

  // Clause keywords at depth 0, in the only order allowed.
  const top = topLevel(tokens, pairs);
  const from = top.findIndex((i) => isKeyword(tokens[i], "FROM"));
  if (from === -1) return { reason: "it has no FROM" };
  const fromAt = top[from]!;
  const clauses = top.filter((i) => i > fromAt && tokens[i]!.kind === "word");
  const tableToken = tokens[fromAt + 1];
  if (!isIdentifier(tableToken) || isPunct(tokens[fromAt + 2], "(") || isPunct(tokens[fromAt + 2], ".")) {
    return { reason: "it does not read one unqualified table" };
  }
  let cursor = fromAt + 2;
  const qualifiers = new Set([tableToken!.value]);
  if (isKeyword(tokens[cursor], "AS") && isIdentifier(tokens[cursor + 1])) {
    qualifiers.add(tokens[cursor + 1]!.value);
    cursor += 2;
  } else if (tokens[cursor]?.kind === "quoted" || (tokens[cursor]?.kind === "word" && !isClauseWord(tokens[cursor]!))) {
    qualifiers.add(tokens[cursor]!.value);
    cursor += 1;
  }
  let where: Token[] = [];
  const groupAt = clauses.find((i) => isKeyword(tokens[i], "GROUP") && isKeyword(tokens[i + 1], "BY"));
  if (groupAt === undefined) return { reason: "it has no GROUP BY" };
  if (isKeyword(tokens[cursor], "WHERE")) {
    where = tokens.slice(cursor + 1, groupAt);
    cursor = groupAt;
  }
  if (cursor !== groupAt) return { reason: `\`${tokens[cursor]?.text}\` after the table is not rewritten (only WHERE and GROUP BY are)` };
  const groupBy = tokens.slice(groupAt + 2);
  const outside = new Set(top.map((i) => tokens[i]!));
  const stray = [...where, ...groupBy].find((t) => outside.has(t) && isClauseWord(t));
  if (stray !== undefined) return { reason: `it uses ${stray.text.toUpperCase()}` };

  const items: SelectItem[] = [];
  const expressions: Token[][] = [where];
  const aliases = new Set<string>();
  const keyAliases = new Set<string>();
  const keyItems: { index: number; expr: Token[]; alias: string | undefined }[] = [];
  for (const part of splitTopLevel(tokens, 1, fromAt, pairs)) {
    const hasAlias = part.length >= 3 && isKeyword(part[part.length - 2], "AS") && isIdentifier(part[part.length - 1]);
    const alias = hasAlias ? part[part.length - 1]!.value : undefined;
    const expr = hasAlias ? part.slice(0, -2) : part;
    if (expr.length === 0) return { reason: "an empty select item" };
    if (alias !== undefined) aliases.add(alias);
    const aggregate = asAggregate(expr, tokens, pairs, sql);
    if (typeof aggregate === "string") return { reason: aggregate };
    if (aggregate !== undefined) {
      items.push({ kind: "aggregate", fn: aggregate.fn, arg: aggregate.arg, alias });
      expressions.push(aggregate.argTokens);
    } else {
      if (alias !== undefined) keyAliases.add(alias);
      keyItems.push({ index: items.length, expr, alias });
      items.push({ kind: "key", text: sql.slice(part[0]!.start, part[part.length - 1]!.end) });
      expressions.push(expr);
    }
  }

  const extraKeys: string[] = [];
  const matched = new Set<number>();
  for (const key of splitTopLevel(tokens, groupAt + 2, tokens.length, pairs)) {
    if (key.length === 0) return { reason: "an empty GROUP BY expression" };
    const byAlias = key.length === 1 && isIdentifier(key[0]) ? keyItems.find((k) => k.alias === key[0]!.value) : undefined;
    const item = byAlias ?? keyItems.find((k) => sameTokens(k.expr, key));
    if (item !== undefined) {
      if (matched.has(item.index)) return { reason: "a GROUP BY expression is repeated" };
      matched.add(item.index);
      continue;
    }
    if (key.length === 1 && key[0]!.kind === "number") return { reason: "it groups by position (GROUP BY 1)" };
    if (key.length === 1 && isIdentifier(key[0]) && aliases.has(key[0]!.value)) return { reason: "it groups by an aggregate's alias" };
    extraKeys.push(sql.slice(key[0]!.start, key[key.length - 1]!.end));
    expressions.push(key);
  }
  if (keyItems.some((k) => !matched.has(k.index))) return { reason: "a selected expression is neither grouped by nor one of the rewritten aggregates" };
  if (matched.size + extraKeys.length === 0) return { reason: "it has no GROUP BY keys" };
  return { table: tableToken!.value, qualifiers, items, extraKeys, rest: sql.slice(tokens[fromAt]!.start), expressions, aliases, keyAliases };
}

/**
 * Why an expression might not evaluate the same at insert time as at query time, or
 * undefined when every one is safe: each bare name must be a column of the table (or a
 * select alias), each function known to the engine as deterministic and not an aggregate.
 */
export function vetExpressions(shape: AggregationShape, columns: ReadonlySet<string>, deterministic: (fn: string) => boolean): string | undefined {
  // `lower(country) AS country ... GROUP BY country` could group by the column or by the
  // alias; the target table would only keep the alias's value, so don't guess.
  for (const alias of shape.keyAliases) if (columns.has(alias)) return `the alias \`${alias}\` shadows a column of ${shape.table}`;
  for (const expr of shape.expressions) {
    if (expr.some((t) => t.kind === "param")) return "it has parameters";
    if (expr.some((t) => isPunct(t, "->"))) return "it uses a lambda";
    for (let i = 0; i < expr.length; i++) {
      const t = expr[i]!;
      if (isPunct(t, ".")) {
        const [before, after] = [expr[i - 1], expr[i + 1]];
        if (!isIdentifier(before) || !shape.qualifiers.has(before!.value) || !isIdentifier(after) || !columns.has(after!.value)) {
          return `\`${before?.text ?? ""}.${after?.text ?? ""}\` is not a column of ${shape.table}`;
        }
        continue;
      }
      if (!isIdentifier(t) || isPunct(expr[i - 1], ".") || isPunct(expr[i + 1], ".")) continue;
      if (isKeyword(t, "SELECT")) return "it has a subquery";
      if (t.kind === "word" && EXPRESSION_WORDS.has(t.text.toUpperCase())) continue;
      if (isPunct(expr[i + 1], "(")) {
        if (t.kind === "quoted" || !deterministic(t.text)) return `\`${t.text}\` is not a deterministic plain function the engine knows`;
        continue;
      }
      if (t.value.toLowerCase().startsWith("igloo_")) return `\`${t.value}\` uses Igloo's reserved prefix`;
      if (!columns.has(t.value) && !shape.aliases.has(t.value)) return `\`${t.value}\` is not a column of ${shape.table}`;
    }
  }
  return undefined;
}

function asAggregate(
  expr: readonly Token[],
  tokens: readonly Token[],
  pairs: ReadonlyMap<number, number>,
  sql: string,
): { fn: string; arg: string | undefined; argTokens: Token[] } | string | undefined {
  const name = expr[0]!;
  if (name.kind !== "word" || !isPunct(expr[1], "(")) return undefined;
  const open = tokens.indexOf(expr[1]!);
  if (pairs.get(open) !== tokens.indexOf(expr[expr.length - 1]!)) return undefined;
  const fn = AGGREGATES[name.text] ?? (CASE_INSENSITIVE.has(name.text.toLowerCase()) ? name.text.toLowerCase() : undefined);
  if (fn === undefined) return undefined;
  const args = splitTopLevel(tokens, open + 1, pairs.get(open)!, pairs);
  const arg = args[0] ?? [];
  if (args.length > 1) return `${name.text}() is called with several arguments`;
  if (isKeyword(arg[0], "DISTINCT") || isKeyword(arg[0], "ALL")) return `${name.text}(${arg[0]!.text} ...) is not rewritten`;
  if (arg.length === 0 || (arg.length === 1 && isPunct(arg[0], "*"))) {
    return fn === "count" ? { fn, arg: undefined, argTokens: [] } : `${name.text}() needs an argument`;
  }
  return { fn, arg: sql.slice(arg[0]!.start, arg[arg.length - 1]!.end), argTokens: arg };
}

/** Indices of tokens outside any parentheses. */
function topLevel(tokens: readonly Token[], pairs: ReadonlyMap<number, number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (isPunct(tokens[i], "(") || isPunct(tokens[i], "[")) i = pairs.get(i)!;
    else out.push(i);
  }
  return out;
}

/** Tokens in [from, to) split at commas outside parentheses. */
function splitTopLevel(tokens: readonly Token[], from: number, to: number, pairs: ReadonlyMap<number, number>): Token[][] {
  if (from >= to) return [];
  const parts: Token[][] = [[]];
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (isPunct(t, ",")) {
      parts.push([]);
      continue;
    }
    const close = isPunct(t, "(") || isPunct(t, "[") ? pairs.get(i)! : i;
    parts[parts.length - 1]!.push(...tokens.slice(i, close + 1));
    i = close;
  }
  return parts;
}

const CLAUSE_WORDS = new Set([
  "HAVING", "ORDER", "LIMIT", "OFFSET", "SETTINGS", "UNION", "EXCEPT", "INTERSECT", "WINDOW", "QUALIFY", "FORMAT", "INTO",
  "JOIN", "ARRAY", "PREWHERE", "SAMPLE", "FINAL", "WITH", "GROUP", "FROM", "WHERE", "ROLLUP", "CUBE", "GROUPING", "TOTALS", "ALL",
  "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "OUTER", "GLOBAL", "ANY", "ASOF", "SEMI", "ANTI", "PASTE", "USING", "ON",
]);

function isClauseWord(t: Token): boolean {
  return t.kind === "word" && CLAUSE_WORDS.has(t.text.toUpperCase());
}

/** Same tokens, comparing identifiers by name (so `country` equals `` `country` ``). */
function sameTokens(a: readonly Token[], b: readonly Token[]): boolean {
  return a.length === b.length && a.every((t, i) => (isIdentifier(t) && isIdentifier(b[i]) ? t.value === b[i]!.value : t.text === b[i]!.text));
}
