/**
 * Source text of the per-type checks the validator compiles. Each check is emitted
 * inline so the engine sees straight-line code per model instead of a generic walk
 * over the field list; anything non-trivial is a call to a helper passed in as a
 * constant, so the generated text stays small and all real logic stays typed.
 */
import { normalizeDate, normalizeDateTime, normalizeLegacyDate, normalizeLegacyDateTime } from "./datetime.ts";
import { checkJsonObject, normalizeJsonText } from "./json-value.ts";
import { invalid, type Invalid, preview } from "./messages.ts";
import { FLOAT32_MAX, normalizeDecimal, normalizeWideInt, smallIntRange, wideIntLimits } from "./numeric.ts";
import type { ScalarType } from "./types.ts";
import { describeScalar } from "./fieldTypes.ts";

/** Values the generated code refers to by name: helpers, regexes, sets, defaults. */
export class ConstantPool {
  /** What `@default(now())` reads: the time in epoch milliseconds (tests set their own). */
  readonly clock: () => number;
  readonly names: string[] = [];
  readonly values: unknown[] = [];
  readonly #byValue = new Map<unknown, string>();

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  ref(value: unknown): string {
    const known = this.#byValue.get(value);
    if (known !== undefined) return known;
    const name = `k${this.names.length}`;
    this.names.push(name);
    this.values.push(value);
    this.#byValue.set(value, name);
    return name;
  }
}

/** Turns a JS expression for a problem description into statements that report it. */
export type Fail = (detail: string) => string;

/** Scratch variable the checks use for helper results; the caller declares it. */
export const SCRATCH = "r";

const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_ANY_CASE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE64_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Up to this many values an enum check is a chain of `===`, beyond it a Set lookup. */
const INLINE_ENUM_VALUES = 8;
const LISTED_ENUM_VALUES = 10;

/**
 * Statements checking `src`, a variable known to be neither null nor undefined, and
 * assigning its normalized form to `dst`, or running `fail` with the reason.
 */
export function scalarCheck(type: ScalarType, src: string, dst: string, fail: Fail, pool: ConstantPool): string {
  // The IR may come from a stored manifest, so numbers from it enter the code via Number().
  const got = (expected: string): string => `${JSON.stringify(`${expected}, got `)} + ${pool.ref(preview)}(${src})`;
  const simple = (test: string, value: string, expected: string): string =>
    `if (${test}) { ${dst} = ${value}; } else { ${fail(got(expected))} }`;
  const viaHelper = (call: string): string =>
    `${SCRATCH} = ${call}; if (typeof ${SCRATCH} === "string") { ${dst} = ${SCRATCH}; } else { ${fail(`${SCRATCH}.detail`)} }`;

  switch (type.kind) {
    case "string": {
      // A lone surrogate is no Unicode text: UTF-8 (the stream, the engine) cannot hold it.
      const unicode = `else if (!${src}.isWellFormed()) { ${fail(`${pool.ref(loneSurrogate)}(${src})`)} }`;
      if (type.fixedLength === undefined) return `if (typeof ${src} !== "string") { ${fail(got("expected a string"))} } ${unicode} else { ${dst} = ${src}; }`;
      const n = Number(type.fixedLength);
      const bytes = `${pool.ref(utf8Length)}(${src})`;
      // A UTF-16 unit is 1 to 3 UTF-8 bytes, so short strings need no byte count.
      return `if (typeof ${src} !== "string") { ${fail(got("expected a string"))} } ${unicode}
        else if (${src}.length > ${n} || (${src}.length * 3 > ${n} && ${bytes} > ${n})) {
          ${fail(`${JSON.stringify(`expected a string of at most ${n} UTF-8 bytes (FixedString(${n})), got `)} + ${bytes} + " bytes"`)}
        } else { ${dst} = ${src}; }`;
    }
    case "uuid":
      return viaHelper(`${pool.ref(normalizeUuid)}(${src})`);
    case "bool":
      return simple(`${src} === true || ${src} === false`, src, "expected true or false");
    case "int": {
      if (type.bits <= 32) {
        const { min, max } = smallIntRange(type.bits, type.signed);
        return simple(
          `typeof ${src} === "number" && ${src} >= ${min} && ${src} <= ${max} && Math.floor(${src}) === ${src}`,
          src,
          `expected an integer from ${min} to ${max}`,
        );
      }
      return viaHelper(`${pool.ref(normalizeWideInt)}(${src}, ${pool.ref(wideIntLimits(type.bits, type.signed))})`);
    }
    case "float":
      return type.bits === 64
        ? simple(`typeof ${src} === "number" && ${src} - ${src} === 0`, src, "expected a finite number")
        : simple(
            `typeof ${src} === "number" && ${src} >= ${-FLOAT32_MAX} && ${src} <= ${FLOAT32_MAX}`,
            src,
            "expected a finite number within the Float32 range",
          );
    case "decimal":
      return viaHelper(`${pool.ref(normalizeDecimal)}(${src}, ${Number(type.precision)}, ${Number(type.scale)})`);
    case "datetime":
      return type.legacy
        ? viaHelper(`${pool.ref(normalizeLegacyDateTime)}(${src}, ${Number(type.precision)})`)
        : viaHelper(`${pool.ref(normalizeDateTime)}(${src}, ${Number(type.precision)})`);
    case "date":
      return viaHelper(`${pool.ref(type.legacy ? normalizeLegacyDate : normalizeDate)}(${src})`);
    case "json":
      return type.native
        ? `${SCRATCH} = ${pool.ref(checkJsonObject)}(${src}); if (${SCRATCH} === undefined) { ${dst} = ${src}; } else { ${fail(`${SCRATCH}.detail`)} }`
        : viaHelper(`${pool.ref(normalizeJsonText)}(${src})`);
    case "bytes":
      return simple(`typeof ${src} === "string" && ${pool.ref(BASE64_TEXT)}.test(${src})`, src, "expected base64 text");
    case "enum": {
      const test =
        type.values.length <= INLINE_ENUM_VALUES
          ? type.values.map((value) => `${src} === ${JSON.stringify(value)}`).join(" || ")
          : `typeof ${src} === "string" && ${pool.ref(new Set(type.values))}.has(${src})`;
      return simple(test, src, `expected ${enumChoices(type.values)}`);
    }
  }
}

/** `expected a list of ...` for a non-array where a list field is. */
export function listExpectation(type: ScalarType): string {
  return `expected a list of ${describeScalar(type)} values`;
}

function enumChoices(values: readonly string[]): string {
  const listed = values.slice(0, LISTED_ENUM_VALUES).map((value) => JSON.stringify(value)).join(", ");
  const rest = values.length - LISTED_ENUM_VALUES;
  return values.length === 1 ? listed : `one of ${listed}${rest > 0 ? ` (and ${rest} more)` : ""}`;
}

/** Where a string that is not well-formed UTF-16 has its first unpaired surrogate. */
function loneSurrogate(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) i++;
    else if (code >= 0xd800 && code <= 0xdfff) {
      return `expected Unicode text, got a string with a lone surrogate (\\u${code.toString(16)} at index ${i}), which UTF-8 cannot hold`;
    }
  }
  return "expected Unicode text";
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3; // lone surrogates are refused before the count
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Canonical lowercase 8-4-4-4-12 form. Ids are on nearly every event and usually
 * lowercase already, so that case is one regex test and no copy.
 */
function normalizeUuid(value: unknown): string | Invalid {
  if (typeof value === "string") {
    if (UUID_LOWER.test(value)) return value;
    if (UUID_ANY_CASE.test(value)) return value.toLowerCase();
  }
  return invalid(`expected a UUID (8-4-4-4-12 hex digits), got ${preview(value)}`);
}
