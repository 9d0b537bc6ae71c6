/**
 * The table options among a model's attributes (`@@ttl`, `@@skipIndex`, `@@projection`,
 * `@@settings`) and a field's (`@codec`, `@ttl`). They are ClickHouse text the engine has
 * the last word on; what can be checked without it is checked here: names, the shape of
 * the arguments, quotes and brackets that close (so a text cannot run out of its clause),
 * and the codec rules every engine applies (known names, written as ClickHouse spells
 * them, nothing after a general-purpose compression).
 *
 * `@@skipIndex` and not `@@index`: Prisma's `@@index` is a B-tree a database keeps exact,
 * which OLAP tables do not have (model.ts refuses it); a data-skipping index only lets the
 * engine skip blocks of rows, and the name says so.
 */
import type { BlockAttribute } from "@mrleebo/prisma-ast";
import type { ClickHouseText, ProjectionIR, SkipIndexIR, SourceRef, TableSettingIR } from "../datamodels/ir.ts";
import { suggest } from "../datamodels/messages.ts";
import { type Argument, asKeyValue, NAME, type Reporter, stringLiteral } from "./syntax.ts";

/** The setting Igloo gives every table it can (exactly-once retries): not the user's to set. */
export const RESERVED_SETTINGS: ReadonlySet<string> = new Set(["non_replicated_deduplication_window"]);

/**
 * What is wrong with a piece of ClickHouse text spliced into a clause, or undefined: it
 * must not be empty, its quotes and brackets must close, and it holds no `;` outside
 * quotes, so it stays inside the clause it was written for.
 */
export function clauseProblem(text: string): string | undefined {
  if (text.trim() === "") return "it is empty";
  const closers: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === "`") {
      const end = closingQuote(text, i);
      if (end < 0) return `its quote ${c} is not closed`;
      i = end;
    } else if (c === "(" || c === "[") {
      closers.push(c === "(" ? ")" : "]");
    } else if (c === ")" || c === "]") {
      if (closers.pop() !== c) return `its \`${c}\` has no opening bracket`;
    } else if (c === ";") {
      return "it holds a `;`: one expression, not several statements";
    }
  }
  return closers.length > 0 ? `its \`${closers[closers.length - 1] === ")" ? "(" : "["}\` is not closed` : undefined;
}

/** The index of the quote closing the one at `start` (backslash escapes, doubled quotes), or -1. */
export function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === quote) {
      if (text[i + 1] !== quote) return i;
      i++;
    }
  }
  return -1;
}

/** `text` cut at the commas outside quotes and brackets, each part trimmed. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === "`") i = Math.max(i, closingQuote(text, i));
    else if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

/** Whether `word` (case-insensitive) occurs in `text` outside quotes and brackets. */
function topLevelWord(text: string, word: RegExp): boolean {
  let depth = 0;
  let plain = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === "`") {
      i = Math.max(i, closingQuote(text, i));
      plain += " ";
    } else if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth--;
    else plain += depth === 0 ? c : " ";
  }
  return word.test(plain);
}

// ---------------------------------------------------------------------------------------
// Field attributes: @codec, @ttl

/** Codecs that compress (at most one, last but for encryption). */
const COMPRESSING = ["NONE", "LZ4", "LZ4HC", "ZSTD", "ZSTD_QAT", "DEFLATE_QPL", "Default"];
/** Codecs that prepare values for compression: before any compressing one. */
const PREPARING = ["Delta", "DoubleDelta", "Gorilla", "FPC", "T64", "GCD"];
const ENCRYPTING = ["AES_128_GCM_SIV", "AES_256_GCM_SIV"];
const CODECS = [...COMPRESSING, ...PREPARING, ...ENCRYPTING];
const CODEC_ITEM = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*(\d+(?:\s*,\s*\d+)*)\s*\))?$/;

/** `@codec("Delta, ZSTD(3)")`: the codec list, or a problem to report. */
export function parseCodec(text: string): { codec: string } | { problem: string; hint?: string } {
  const usage = 'e.g. @codec("ZSTD(3)") or @codec("Delta, ZSTD")';
  const problem = clauseProblem(text);
  if (problem !== undefined) return { problem: `\`@codec\`: ${problem}`, hint: usage };
  const names: string[] = [];
  const items = splitTopLevel(text);
  for (const item of items) {
    const match = CODEC_ITEM.exec(item);
    if (match === null) return { problem: `\`@codec\`: \`${item}\` is not a codec`, hint: `Write codec names with integer arguments, ${usage}` };
    const name = match[1]!;
    if (!CODECS.includes(name)) {
      const near = suggest(name, CODECS);
      return { problem: `\`@codec\`: unknown codec \`${name}\``, hint: near === undefined ? `Codecs are ${CODECS.join(", ")}.` : `Did you mean ${near}? ClickHouse spells codec names exactly.` };
    }
    names.push(name);
  }
  if (names.includes("NONE") && names.length > 1) return { problem: "`@codec`: NONE stores values uncompressed and cannot be combined with other codecs" };
  const compressing = names.findIndex((name) => COMPRESSING.includes(name));
  const after = compressing < 0 ? undefined : names.slice(compressing + 1).find((name) => !ENCRYPTING.includes(name));
  if (after !== undefined) {
    return {
      problem: `\`@codec\`: \`${after}\` comes after the compression \`${names[compressing]}\`; the engine refuses codecs applied to compressed data`,
      hint: "Put Delta, DoubleDelta, Gorilla, FPC, T64 or GCD first, then one of LZ4, LZ4HC, ZSTD, e.g. @codec(\"Delta, ZSTD\").",
    };
  }
  const encryption = names.findIndex((name) => ENCRYPTING.includes(name));
  if (encryption >= 0 && encryption !== names.length - 1) return { problem: "`@codec`: an encryption codec comes last" };
  return { codec: items.map((item) => item.replace(/\s+/g, "")).join(", ") };
}

/** `@ttl("expr")` on a field, or `@@ttl("expr")` on a model: one non-empty string. */
export function parseTtl(args: readonly { value: Argument }[], at: SourceRef, attr: string): ClickHouseText | { problem: string; hint: string } {
  const usage = `e.g. ${attr}("ts + INTERVAL 30 DAY")`;
  const text = args.length === 1 ? stringLiteral(args[0]?.value) : undefined;
  if (text === undefined) return { problem: `\`${attr}\` takes a ClickHouse TTL expression in a string`, hint: `Write it as ${usage}.` };
  const problem = clauseProblem(text);
  if (problem !== undefined) return { problem: `\`${attr}\`: ${problem}`, hint: `Write one TTL expression, ${usage}.` };
  return { text: text.trim(), source: at };
}

// ---------------------------------------------------------------------------------------
// Model attributes: @@skipIndex, @@projection, @@settings

/** `name: value` arguments, by name; a problem when one is positional, unknown or twice. */
function namedArguments(attr: BlockAttribute, allowed: readonly string[]): Map<string, Argument> | string {
  const named = new Map<string, Argument>();
  for (const arg of attr.args ?? []) {
    const pair = asKeyValue(arg.value);
    if (pair === undefined) return "takes named arguments only";
    if (!allowed.includes(pair.key)) return `has no argument \`${pair.key}\` (it takes ${allowed.join(", ")})`;
    if (named.has(pair.key)) return `names \`${pair.key}\` twice`;
    named.set(pair.key, pair.value);
  }
  return named;
}

const SKIP_INDEX_TYPE = /^[A-Za-z_][A-Za-z0-9_]*\s*(\(.*\))?$/s;

export function parseSkipIndex(attr: BlockAttribute, at: SourceRef, what: string, reporter: Reporter): SkipIndexIR | undefined {
  const usage = 'Write @@skipIndex(name: "idx_user", expr: "userId", type: "bloom_filter(0.01)", granularity: 4); granularity is optional (1).';
  const args = namedArguments(attr, ["name", "expr", "type", "granularity"]);
  if (typeof args === "string") {
    reporter.error(at, `${what}: \`@@skipIndex\` ${args}`, usage);
    return undefined;
  }
  const name = stringLiteral(args.get("name"));
  const expression = stringLiteral(args.get("expr"));
  const type = stringLiteral(args.get("type"));
  const granularityText = args.get("granularity");
  if (name === undefined || expression === undefined || type === undefined) {
    reporter.error(at, `${what}: \`@@skipIndex\` needs \`name\`, \`expr\` and \`type\`, each a string`, usage);
    return undefined;
  }
  const granularity = granularityText === undefined ? 1 : typeof granularityText === "string" && /^[1-9]\d{0,8}$/.test(granularityText) ? Number(granularityText) : undefined;
  const before = reporter.count;
  if (!NAME.test(name)) reporter.error(at, `${what}: \`@@skipIndex\` name \`${name}\` must be letters, digits and _ only`);
  const exprProblem = clauseProblem(expression);
  if (exprProblem !== undefined) reporter.error(at, `${what}: \`@@skipIndex\` \`expr\`: ${exprProblem}`, "It is a ClickHouse expression over the model's columns, e.g. \"userId\" or \"lower(path)\".");
  const typeProblem = clauseProblem(type) ?? (SKIP_INDEX_TYPE.test(type.trim()) ? undefined : "it is not an index type");
  if (typeProblem !== undefined) reporter.error(at, `${what}: \`@@skipIndex\` \`type\`: ${typeProblem}`, "Types are minmax, set(n), bloom_filter, bloom_filter(p), ngrambf_v1(...), tokenbf_v1(...), as ClickHouse writes them.");
  if (granularity === undefined) reporter.error(at, `${what}: \`@@skipIndex\` \`granularity\` is a whole number from 1, e.g. granularity: 4`);
  if (reporter.count > before || granularity === undefined) return undefined;
  return { name, expression: expression.trim(), type: type.trim(), granularity, source: at };
}

export function parseProjection(attr: BlockAttribute, at: SourceRef, what: string, reporter: Reporter): ProjectionIR | undefined {
  const usage = 'Write @@projection(name: "by_user", select: "SELECT userId, count() GROUP BY userId").';
  const args = namedArguments(attr, ["name", "select"]);
  if (typeof args === "string") {
    reporter.error(at, `${what}: \`@@projection\` ${args}`, usage);
    return undefined;
  }
  const name = stringLiteral(args.get("name"));
  const select = stringLiteral(args.get("select"));
  if (name === undefined || select === undefined) {
    reporter.error(at, `${what}: \`@@projection\` needs \`name\` and \`select\`, each a string`, usage);
    return undefined;
  }
  const before = reporter.count;
  if (!NAME.test(name)) reporter.error(at, `${what}: \`@@projection\` name \`${name}\` must be letters, digits and _ only`);
  const problem = clauseProblem(select);
  if (problem !== undefined) reporter.error(at, `${what}: \`@@projection\` \`select\`: ${problem}`, usage);
  else if (!/^\s*SELECT\b/i.test(select)) reporter.error(at, `${what}: \`@@projection\` \`select\` is a SELECT`, usage);
  else if (topLevelWord(select, /\bFROM\b/i)) {
    reporter.error(at, `${what}: \`@@projection\` \`select\` has a FROM; a projection reads its own table`, "Leave FROM out: SELECT columns [GROUP BY ...] [ORDER BY ...].");
  }
  if (reporter.count > before) return undefined;
  return { name, select: select.trim(), source: at };
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

export function parseSettings(attr: BlockAttribute, at: SourceRef, what: string, reporter: Reporter): TableSettingIR[] | undefined {
  const usage = 'Write @@settings(index_granularity: 4096, ttl_only_drop_parts: true, storage_policy: "hot"): names as ClickHouse spells them, values numbers, strings or true/false.';
  const settings: TableSettingIR[] = [];
  const before = reporter.count;
  if ((attr.args ?? []).length === 0) reporter.error(at, `${what}: \`@@settings\` is empty`, usage);
  for (const arg of attr.args ?? []) {
    const pair = asKeyValue(arg.value);
    if (pair === undefined) {
      reporter.error(at, `${what}: \`@@settings\` takes \`name: value\` pairs`, usage);
      continue;
    }
    const name = pair.key;
    if (!NAME.test(name)) {
      reporter.error(at, `${what}: \`@@settings\`: \`${name}\` is not a setting name`, usage);
      continue;
    }
    if (RESERVED_SETTINGS.has(name)) {
      reporter.error(at, `${what}: \`@@settings\`: Igloo sets \`${name}\` itself (it keeps retried batches from being stored twice)`, "Remove it from @@settings.");
      continue;
    }
    if (settings.some((s) => s.name === name)) {
      reporter.error(at, `${what}: \`@@settings\` names \`${name}\` twice`);
      continue;
    }
    const value = settingValue(pair.value);
    if (value === undefined) {
      reporter.error(at, `${what}: \`@@settings\`: the value of \`${name}\` must be a number, a string or true/false`, usage);
      continue;
    }
    settings.push({ name, value, source: at });
  }
  return reporter.count > before ? undefined : settings;
}

function settingValue(value: Argument): string | number | boolean | undefined {
  if (value === "true" || value === "false") return value === "true";
  const text = stringLiteral(value);
  if (text !== undefined) return text;
  if (typeof value !== "string" || !NUMBER.test(value)) return undefined;
  const number = Number(value);
  // Beyond 2^53 a double no longer holds every integer: such a value would change.
  return Number.isFinite(number) && (!Number.isInteger(number) || Number.isSafeInteger(number)) ? number : undefined;
}
