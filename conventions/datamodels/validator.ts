/**
 * Checks one ingested record against its model and returns the normalized copy that
 * goes to the stream and the table: exactly the model's fields, in model order, with
 * defaults filled and every value in its canonical form (see the helpers for each type).
 *
 * This runs on every event, so the check is compiled per model with `new Function`
 * into straight-line code. Field names and all other strings enter the generated text
 * only through JSON.stringify; everything else is passed in as constants.
 */
import { nowDateTime, today } from "./datetime.ts";
import type { FieldIR, ModelIR, ScalarType } from "./ir.ts";
import { kindOf, preview, suggest } from "./messages.ts";
import { ConstantPool, type Fail, listExpectation, SCRATCH, scalarCheck } from "./validator-codegen.ts";

export { describeType } from "./fieldTypes.ts";

export type ValidationResult = { ok: true; record: Record<string, unknown> } | { ok: false; error: string };
export type Validator = (input: unknown) => ValidationResult;
export type DefaultCheck = { ok: true; value: unknown } | { ok: false; error: string };

/** Past this many problems in one record the rest are summarized, so a bad batch can't flood logs. */
const MAX_ERRORS = 10;
const MAX_KEY_SHOWN = 40;

export interface ValidatorOptions {
  /** The time `@default(now())` fills in, in epoch milliseconds; default the real time. */
  readonly clock?: () => number;
}

export function compileValidator(model: ModelIR, options: ValidatorOptions = {}): Validator {
  const pool = new ConstantPool(options.clock);
  const names = model.fields.map((field) => field.name);
  const body = `"use strict";
return function validate(input) {
  if (typeof input !== "object" || input === null || ${pool.ref(Array.isArray)}(input)) return ${pool.ref(notAnObject)}(input);
  const proto = ${pool.ref(Object.getPrototypeOf)}(input);
  if (proto !== ${pool.ref(Object.prototype)} && proto !== null) return ${pool.ref(notAnObject)}(input);
  let errors = null, v, ${SCRATCH}${model.fields.map((_, i) => `, f${i}`).join("")};
  for (const key in input) {
    switch (key) {
      ${names.map((name) => `case ${JSON.stringify(name)}: `).join("")}${names.length > 0 ? "break;" : ""}
      default: errors = ${pool.ref(unknownField)}(errors, key, ${pool.ref(names)});
    }
  }
  ${model.fields.map((field, i) => fieldCode(field, `f${i}`, pool)).join("\n  ")}
  if (errors !== null) return { ok: false, error: errors.join("; ") };
  return { ok: true, record: { ${model.fields.map((field, i) => `${recordKey(field.name)}: f${i}`).join(", ")} } };
};`;
  return instantiate<Validator>(body, pool);
}

/**
 * The normalized value of a field's literal default, or why it isn't valid for the
 * field. Json defaults are JSON text, as Prisma writes them.
 */
export function checkDefault(field: FieldIR): DefaultCheck {
  if (field.default?.kind !== "literal") return { ok: false, error: "the default is not a literal" };
  let value: unknown = field.default.value;
  if (value === null) return { ok: false, error: "a default cannot be null" };
  if (field.type.kind === "json") {
    // Each Json value is JSON text in a string, alone or as the items of a list default.
    const many = field.list && Array.isArray(value);
    const parsed: unknown[] = [];
    for (const text of many ? (value as unknown[]) : [value]) {
      const result = parseJsonDefault(text);
      if (!result.ok) return result;
      parsed.push(result.value);
    }
    value = many ? parsed : parsed[0];
  }
  const check = compileValueCheck(field.type);
  if (!field.list) return check(value);
  if (!Array.isArray(value)) return { ok: false, error: `${listExpectation(field.type)}, got ${preview(value)}` };
  const items: unknown[] = [];
  for (const [i, item] of value.entries()) {
    const result: DefaultCheck = item === null ? { ok: false, error: "lists cannot hold null" } : check(item);
    if (!result.ok) return { ok: false, error: `element ${i}: ${result.error}` };
    items.push(result.value);
  }
  return { ok: true, value: items };
}

function parseJsonDefault(text: unknown): DefaultCheck {
  if (typeof text !== "string") return { ok: false, error: 'a Json default is JSON text in a string, e.g. @default("{}"), or a list of them for a list, e.g. @default(["{}"])' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: `expected JSON text, got ${preview(text)}` };
  }
}

/** Statements that read field `field` from `input` and leave its normalized value in `dst`. */
function fieldCode(field: FieldIR, dst: string, pool: ConstantPool): string {
  const label = (suffix: string): string => JSON.stringify(`field \`${field.name}${suffix}`);
  const report = (message: string): string => `errors = ${pool.ref(addError)}(errors, ${message});`;
  const fail: Fail = (detail) => report(`${label("`: ")} + ${detail}`);
  const key = JSON.stringify(field.name);
  // Names like `constructor` would otherwise read Object.prototype's member when absent.
  const read = field.name in Object.prototype ? `(${pool.ref(Object.hasOwn)}(input, ${key}) ? input[${key}] : undefined)` : `input[${key}]`;
  const check = field.list
    ? `if (!${pool.ref(Array.isArray)}(v)) { ${fail(`${JSON.stringify(`${listExpectation(field.type)}, got `)} + ${pool.ref(preview)}(v)`)} }
    else {
      const out = [];
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        if (e === null || e === undefined) { ${report(`${label("[")} + i + "]\`: lists cannot hold null"`)} }
        else { ${scalarCheck(field.type, "e", "out[i]", (detail) => report(`${label("[")} + i + "]\`: " + ${detail}`), pool)} }
      }
      ${dst} = out;
    }`
    : scalarCheck(field.type, "v", dst, fail, pool);
  const onNull = field.optional ? `${dst} = null;` : report(JSON.stringify(`field \`${field.name}\` is required and cannot be null`));
  return `v = ${read};
  if (v === undefined) { ${missingCode(field, dst, pool, report)} }
  else if (v === null) { ${onNull} }
  else { ${check} }`;
}

function missingCode(field: FieldIR, dst: string, pool: ConstantPool, report: (message: string) => string): string {
  const fallback = field.default;
  if (fallback?.kind === "now") {
    const type = field.type;
    const now = `${pool.ref(pool.clock)}()`;
    return type.kind === "date" ? `${dst} = ${pool.ref(today)}(${now});` : `${dst} = ${pool.ref(nowDateTime)}(${datetimePrecision(type)}, ${now});`;
  }
  if (fallback?.kind === "uuid") return `${dst} = ${pool.ref(randomUuid)}();`;
  if (fallback?.kind === "literal") {
    const result = checkDefault(field);
    if (!result.ok) throw new Error(`model field \`${field.name}\` has an invalid default: ${result.error}`);
    // Each record gets its own copy of a list or object default, so callers can't share state.
    if (Array.isArray(result.value)) return `${dst} = ${pool.ref(result.value)}.slice();`;
    if (typeof result.value === "object" && result.value !== null) return `${dst} = JSON.parse(${JSON.stringify(JSON.stringify(result.value))});`;
    return `${dst} = ${pool.ref(result.value)};`;
  }
  if (field.optional) return `${dst} = null;`;
  if (field.list) return `${dst} = [];`;
  return report(JSON.stringify(`missing required field \`${field.name}\``));
}

/** A standalone check of one value, for defaults; the same generated code as records use. */
function compileValueCheck(type: ScalarType): (value: unknown) => DefaultCheck {
  const pool = new ConstantPool();
  const body = `"use strict";
return function check(v) {
  let out, ${SCRATCH};
  ${scalarCheck(type, "v", "out", (detail) => `return { ok: false, error: ${detail} };`, pool)}
  return { ok: true, value: out };
};`;
  return instantiate<(value: unknown) => DefaultCheck>(body, pool);
}

function instantiate<T>(body: string, pool: ConstantPool): T {
  const factory = new Function(...pool.names, body) as (...constants: unknown[]) => T;
  return factory(...pool.values);
}

function datetimePrecision(type: ScalarType): number {
  if (type.kind !== "datetime") throw new Error(`now() needs a DateTime field, not ${type.kind}`);
  return Number(type.precision);
}

/** `__proto__` written as a plain key in an object literal would set the prototype instead. */
function recordKey(name: string): string {
  return name === "__proto__" ? `[${JSON.stringify(name)}]` : JSON.stringify(name);
}

function notAnObject(input: unknown): ValidationResult {
  return { ok: false, error: `record must be a JSON object, got ${kindOf(input)}` };
}

function unknownField(errors: string[] | null, key: string, names: readonly string[]): string[] {
  const near = suggest(key, names);
  // Keys are caller input too: cut long ones like values.
  const shown = key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}…` : key;
  return addError(errors, `unknown field \`${shown}\`${near === undefined ? "" : ` (did you mean \`${near}\`?)`}`);
}

function addError(errors: string[] | null, message: string): string[] {
  if (errors === null) return [message];
  if (errors.length < MAX_ERRORS) errors.push(message);
  else if (errors.length === MAX_ERRORS) errors.push("and more");
  return errors;
}

function randomUuid(): string {
  return crypto.randomUUID();
}
