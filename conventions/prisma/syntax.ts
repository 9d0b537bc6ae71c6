/**
 * From `.prisma` text to prisma-ast blocks, with lexer and parser failures turned into
 * ConventionErrors, plus the small readers for AST values the rest of the parser needs.
 */
import { type Block, type CstNodeLocation, getSchema, PrismaParser, VisitorClassFactory } from "@mrleebo/prisma-ast";
import type { AttributeArgument, Func, KeyValue, Value } from "@mrleebo/prisma-ast";
import { ConventionError } from "../errors.ts";
import type { SourceRef } from "../datamodels/ir.ts";

/** Collects errors for one file and tells whether a unit of work added any. */
export class Reporter {
  readonly #sink: ConventionError[];

  constructor(
    readonly file: string,
    sink: ConventionError[],
  ) {
    this.#sink = sink;
  }

  get count(): number {
    return this.#sink.length;
  }

  /** Where an AST node starts; prisma-ast sets `location` on more nodes than its types say. */
  ref(node: object | undefined): SourceRef {
    const location = (node as { location?: CstNodeLocation } | undefined)?.location;
    return { file: this.file, line: location?.startLine ?? 1, column: location?.startColumn ?? 1 };
  }

  error(at: SourceRef, detail: string, hint?: string): void {
    if (hint === undefined) {
      this.#sink.push(new ConventionError(at, detail));
      return;
    }
    // The hint is appended to the message, so the detail must end its sentence.
    this.#sink.push(new ConventionError(at, /[.?!]$/.test(detail) ? detail : `${detail}.`, { hint }));
  }
}

export type ReadResult = { ok: true; blocks: Block[] } | { ok: false };

/**
 * prisma-ast's lexer is not exported and getSchema ignores its errors: it drops the
 * characters it can't read and parses the rest, so `_id` would silently become `id`.
 * This pattern mirrors its tokens to find those characters first.
 */
const TOKEN =
  /\/\/.*|\s+|@@?|[.?{}[\]():,=]|"(?:[^\\"\n\r]|\\(?:[bfnrtv"\\/]|u[0-9a-fA-F]{4}))*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|[a-zA-Z][\w-]*/y;

let parser: PrismaParser | undefined;
let visitor: ReturnType<typeof makeVisitor> | undefined;

function makeVisitor(p: PrismaParser) {
  return new (VisitorClassFactory(p))();
}

export function readSchema(text: string, reporter: Reporter): ReadResult {
  const before = reporter.count;
  checkCharacters(text, reporter);
  if (reporter.count > before) return { ok: false };
  parser ??= new PrismaParser({ nodeLocationTracking: "full" });
  visitor ??= makeVisitor(parser);
  try {
    return { ok: true, blocks: getSchema(text, { parser, visitor }).list };
  } catch (error) {
    reportSyntaxError(error, text, reporter);
    return { ok: false };
  }
}

function checkCharacters(text: string, reporter: Reporter): void {
  let pos = 0;
  let runStart = -1;
  while (pos < text.length) {
    TOKEN.lastIndex = pos;
    const match = TOKEN.exec(text);
    if (match === null) {
      if (runStart < 0) runStart = pos;
      pos++;
      continue;
    }
    if (runStart >= 0) reportCharacter(text, runStart, reporter);
    runStart = -1;
    pos += match[0].length;
  }
  if (runStart >= 0) reportCharacter(text, runStart, reporter);
}

function reportCharacter(text: string, offset: number, reporter: Reporter): void {
  const at = { file: reporter.file, ...lineColumn(text, offset) };
  const char = text[offset] ?? "";
  if (char === '"') {
    reporter.error(at, "unterminated string", 'Close it with " on the same line; write line breaks as \\n.');
  } else if (char === "_" && /\w/.test(text[offset + 1] ?? "")) {
    reporter.error(
      at,
      "names cannot start with `_` in Prisma schemas",
      'Start the name with a letter; to keep a column named with `_`, add @map("_name").',
    );
  } else {
    reporter.error(at, `unexpected character \`${char}\``);
  }
}

/** The shape of chevrotain's recognition errors, which getSchema throws as they are. */
interface RecognitionError {
  readonly name?: string;
  readonly message?: string;
  readonly token?: TokenLike;
  readonly previousToken?: TokenLike;
}
interface TokenLike {
  readonly image?: string;
  readonly startLine?: number;
  readonly startColumn?: number;
}

function reportSyntaxError(error: unknown, text: string, reporter: Reporter): void {
  if (typeof error !== "object" || error === null || !("token" in error)) throw error;
  const { token, previousToken, message = "" } = error as RecognitionError;
  const line = token?.startLine;
  const column = token?.startColumn;
  if (line === undefined || column === undefined || Number.isNaN(line) || Number.isNaN(column)) {
    reporter.error(
      { file: reporter.file, ...lineColumn(text, text.length) },
      "unexpected end of file",
      "A closing `}` is probably missing.",
    );
    return;
  }
  const at = { file: reporter.file, line, column };
  const image = token?.image ?? "";
  const previous = previousToken?.image;
  if ((image === "[" && previous === "?") || (image === "?" && previous === "]")) {
    reporter.error(at, "a field cannot be both optional and a list", "Write Type[]: a missing list is stored as an empty list.");
    return;
  }
  const expected = /^Expecting --> (.+?) <--/.exec(message)?.[1];
  const found = image === "" ? "end of file" : /^\s+$/.test(image) ? "a line break" : `\`${image}\``;
  const wanted = expected === undefined ? "" : `, expected ${expected === "LineBreak" ? "a line break" : expected}`;
  reporter.error(at, `syntax error: unexpected ${found}${wanted}`);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** The text of a quoted string literal as prisma-ast keeps it (with quotes), or undefined. */
export function stringLiteral(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return undefined;
  // The lexer admits JSON's escapes plus \v, and raw control characters such as tabs;
  // JSON.parse decodes the literal once those are spelled as \u escapes.
  const json = value.replace(/\\(\\|v)|[\u0000-\u001f]/g, (match, escaped: string | undefined) =>
    escaped === undefined ? `\\u${match.charCodeAt(0).toString(16).padStart(4, "0")}` : escaped === "v" ? "\\u000b" : match,
  );
  try {
    return JSON.parse(json) as string;
  } catch {
    // Only escapes the lexer check lets through but JSON lacks could land here; callers
    // then report the argument as not being a string.
    return undefined;
  }
}

/** A bare identifier argument such as a field name, or undefined. */
export function identifier(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z][\w-]*$/.test(value) && !["true", "false", "null"].includes(value)
    ? value
    : undefined;
}

/** An attribute argument: positional value, `key: value`, or a function call. */
export type Argument = AttributeArgument["value"];

export function asKeyValue(arg: Argument | undefined): KeyValue | undefined {
  return typeof arg === "object" && arg !== null && !Array.isArray(arg) && arg.type === "keyValue" ? arg : undefined;
}

export function asFunction(arg: Argument | undefined): Func | undefined {
  return typeof arg === "object" && arg !== null && !Array.isArray(arg) && arg.type === "function" ? arg : undefined;
}

/** Items of `[a, b]`, which prisma-ast gives as an `array` node (or, nested, a plain array). */
export function asArray(arg: Argument | undefined): readonly Value[] | undefined {
  if (Array.isArray(arg)) return arg;
  return typeof arg === "object" && arg !== null && arg.type === "array" ? (arg.args ?? []) : undefined;
}

/** The string of `@map("x")` or `@map(name: "x")`-style single arguments. */
export function stringArgument(args: readonly AttributeArgument[] | undefined, key: string): string | undefined {
  if (args === undefined || args.length !== 1) return undefined;
  const arg = args[0]?.value;
  const named = asKeyValue(arg);
  if (named !== undefined) return named.key === key ? stringLiteral(named.value) : undefined;
  return stringLiteral(arg);
}

/** Names Igloo accepts for models, fields, enums and columns. */
export const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `///` lines directly above a node, as its documentation. */
export class DocCollector {
  #lines: { line: number; text: string }[] = [];

  /** Feed every comment node in order. */
  comment(node: { text: string; location?: CstNodeLocation }): void {
    const line = node.location?.startLine;
    if (!node.text.startsWith("///") || line === undefined) {
      this.#lines = [];
      return;
    }
    const last = this.#lines[this.#lines.length - 1];
    if (last !== undefined && last.line !== line - 1) this.#lines = [];
    this.#lines.push({ line, text: node.text.slice(3).replace(/^ /, "").trimEnd() });
  }

  /** The doc for a node at `line`; consumes what was collected. */
  take(line: number | undefined): string | undefined {
    const lines = this.#lines;
    this.#lines = [];
    const last = lines[lines.length - 1];
    if (last === undefined || line === undefined || last.line !== line - 1) return undefined;
    return lines.map((entry) => entry.text).join("\n");
  }
}
