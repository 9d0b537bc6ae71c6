/**
 * A small ClickHouse SQL tokenizer: enough to find statements, clause keywords, table
 * references, `{name:Type}` parameters and simple SELECT shapes without being fooled by
 * strings, quoted identifiers or comments. It knows the same lexical rules as
 * `statementCount` (runtime/store/statements.ts); it is not a parser, and everything
 * built on it either is best effort (references) or falls back when unsure (the
 * incremental rewrite).
 */

export type TokenKind =
  /** A bare identifier or keyword: `SELECT`, `country`, `count`. */
  | "word"
  /** A backtick- or double-quoted identifier; `value` is the name without quotes. */
  | "quoted"
  | "string"
  | "number"
  /** A `{name:Type}` query parameter, braces included. */
  | "param"
  /** Operators and punctuation: `(`, `)`, `,`, `.`, `;`, `::`, `->`, `<=`, ... */
  | "punct";

export interface Token {
  readonly kind: TokenKind;
  /** The text as written. */
  readonly text: string;
  /** For words and quoted identifiers: the identifier; otherwise the text. */
  readonly value: string;
  /** Offsets into the tokenized text, end exclusive. */
  readonly start: number;
  readonly end: number;
}

export type Tokenized =
  | { readonly ok: true; readonly tokens: Token[] }
  | { readonly ok: false; readonly offset: number; readonly message: string };

const WORD_START = /[A-Za-z_]/;
const WORD_PART = /[A-Za-z0-9_$]/;
const DIGIT = /[0-9]/;
/** Multi-character operators, longest first. */
const OPERATORS = ["::", "->", "<=>", "<=", ">=", "<>", "!=", "==", "||"];

export function tokenize(sql: string): Tokenized {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value?: string): void => {
    const text = sql.slice(start, end);
    tokens.push({ kind, text, value: value ?? text, start, end });
  };
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if ((c === "-" && sql[i + 1] === "-") || (c === "#" && sql[i + 1] === "!")) {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) return { ok: false, offset: i, message: "unterminated comment `/*`" };
      i = end + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      const start = i;
      let value = "";
      i++;
      while (i < n && sql[i] !== c) {
        if (sql[i] === "\\" && i + 1 < n) {
          value += sql[i + 1];
          i += 2;
        } else {
          value += sql[i];
          i++;
        }
      }
      if (i >= n) return { ok: false, offset: start, message: `unterminated ${c === "'" ? "string" : "quoted identifier"} starting with ${c}` };
      i++;
      push(c === "'" ? "string" : "quoted", start, i, c === "'" ? undefined : value);
    } else if (c === "{") {
      const end = sql.indexOf("}", i);
      if (end === -1) return { ok: false, offset: i, message: "unterminated parameter `{`; write parameters as {name:Type}" };
      push("param", i, end + 1);
      i = end + 1;
    } else if (WORD_START.test(c)) {
      const start = i;
      while (i < n && WORD_PART.test(sql[i]!)) i++;
      push("word", start, i);
    } else if (DIGIT.test(c)) {
      const start = i;
      i = scanNumber(sql, i);
      push("number", start, i);
    } else {
      const op = OPERATORS.find((o) => sql.startsWith(o, i));
      const end = i + (op?.length ?? 1);
      push("punct", i, end);
      i = end;
    }
  }
  return { ok: true, tokens };
}

/** Decimal, hex and binary literals with fractions and exponents: `1`, `1.5e-3`, `0x1F`. */
function scanNumber(sql: string, i: number): number {
  const n = sql.length;
  if (sql[i] === "0" && (sql[i + 1] === "x" || sql[i + 1] === "X" || sql[i + 1] === "b" || sql[i + 1] === "B")) {
    i += 2;
    while (i < n && /[0-9A-Fa-f]/.test(sql[i]!)) i++;
    return i;
  }
  while (i < n && (DIGIT.test(sql[i]!) || sql[i] === "_")) i++;
  if (sql[i] === "." && DIGIT.test(sql[i + 1] ?? "")) {
    i++;
    while (i < n && DIGIT.test(sql[i]!)) i++;
  }
  if ((sql[i] === "e" || sql[i] === "E") && /[0-9+-]/.test(sql[i + 1] ?? "")) {
    i += 2;
    while (i < n && DIGIT.test(sql[i]!)) i++;
  }
  return i;
}

/** A word token spelled `keyword` in any case. */
export function isKeyword(token: Token | undefined, keyword: string): boolean {
  return token !== undefined && token.kind === "word" && token.text.toUpperCase() === keyword;
}

export function isPunct(token: Token | undefined, text: string): boolean {
  return token !== undefined && token.kind === "punct" && token.text === text;
}

/** A bare or quoted identifier. */
export function isIdentifier(token: Token | undefined): boolean {
  return token !== undefined && (token.kind === "word" || token.kind === "quoted");
}

/**
 * For every `(` the index of its `)`, and the reverse; unbalanced parentheses give
 * undefined (the engine reports them better than we would).
 */
export function matchParens(tokens: readonly Token[]): Map<number, number> | undefined {
  const pairs = new Map<number, number>();
  const open: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (isPunct(t, "(") || isPunct(t, "[")) {
      open.push(i);
    } else if (isPunct(t, ")") || isPunct(t, "]")) {
      const o = open.pop();
      if (o === undefined) return undefined;
      pairs.set(o, i);
      pairs.set(i, o);
    }
  }
  return open.length === 0 ? pairs : undefined;
}

/** 1-based line and column of an offset. */
export function positionAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
