/**
 * Query-string values of view parameters, checked against their declared types in
 * TypeScript before anything reaches the engine: a bad value is a 400 that names the
 * parameter and the type, not an engine error. The checked values then travel as bound
 * query parameters, so a value is only ever a value (`x' OR 1=1 --` is a string).
 *
 * Scalars are sent as their canonical text, which the engine parses as the declared
 * type. Arrays arrive as JSON (`?ids=[1,2,3]`). Arrays of strings, dates and UUIDs go to
 * the client as JS arrays, which it quotes and escapes; arrays of numbers, decimals and
 * booleans go as text built only from validated digits, because the client can only
 * write numbers it can hold (a Decimal(38, 10) is not a JS number).
 */
import { FLOAT32_MAX, normalizeDecimal } from "../../conventions/datamodels/numeric.ts";
import { normalizeDate, normalizeDateTime } from "../../conventions/datamodels/datetime.ts";
import { preview } from "../../conventions/datamodels/messages.ts";
import type { ColumnType } from "../../conventions/datamodels/types.ts";
import { typeName } from "../../conventions/datamodels/typeFaces.ts";
import type { ViewParam } from "../../conventions/views/ir.ts";

export type ParamValue = string | null | readonly ParamValue[];

type Checked = { readonly ok: true; readonly value: ParamValue } | { readonly ok: false; readonly detail: string };

const ok = (value: ParamValue): Checked => ({ ok: true, value });
const bad = (detail: string): Checked => ({ ok: false, detail });

const INTEGER = /^-?\d+$/;
const FLOAT = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Date is 1970-01-01..2149-06-06 and DateTime 1970..2106-02-07 06:28:15 (unsigned 16 and 32 bits). */
const DATE_MAX = "2149-06-06";
const DATETIME_MAX = "2106-02-07T06:28:15Z";

/** The checked value to bind, or what is wrong with it (without the parameter's name). */
export function checkParam(param: ViewParam, raw: string | undefined): Checked {
  const type = param.type;
  if (raw === undefined) return type.kind === "nullable" ? ok(null) : bad(`is required (${typeName(type)})`);
  const inner = type.kind === "nullable" ? type.of : type;
  if (inner.kind !== "array") return checkValue(inner, raw, true);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return bad(`expected ${typeName(type)} as a JSON array like [1,2] or ["a","b"], got ${preview(raw)}`);
  }
  const checked = checkValue(inner, parsed, false);
  if (!checked.ok || stringLeaves(inner)) return checked;
  return ok(arrayText(checked.value));
}

/** Placeholder values for `DESCRIBE`, which needs every parameter bound to some value. */
export function dummyParams(params: readonly ViewParam[]): Record<string, ParamValue> {
  return Object.fromEntries(params.map((p) => [p.name, dummy(p.type)]));
}

function dummy(type: ColumnType): ParamValue {
  switch (type.kind) {
    case "string":
      return "";
    case "bool":
      return "false";
    case "date":
      return "1970-01-01";
    case "datetime":
      return "1970-01-01 00:00:00";
    case "uuid":
      return "00000000-0000-0000-0000-000000000000";
    case "array":
      return [];
    case "nullable":
      return null;
    default:
      return "0";
  }
}

/** `top` is a query-string value (always text); otherwise an element of a JSON array. */
function checkValue(type: ColumnType, value: unknown, top: boolean): Checked {
  const expected = `expected ${typeName(type)}`;
  switch (type.kind) {
    case "string":
      return typeof value === "string" ? ok(value) : bad(`${expected} (a JSON string), got ${preview(value)}`);
    case "int":
      return checkInt(type.bits, type.signed, value);
    case "float": {
      const text = typeof value === "number" && !top ? String(value) : typeof value === "string" && top ? value : undefined;
      if (text === undefined || !FLOAT.test(text)) return bad(`${expected} (a number), got ${preview(value)}`);
      const n = Number(text);
      if (!Number.isFinite(n) || (type.bits === 32 && Math.abs(n) > FLOAT32_MAX)) return bad(`${expected}, got ${preview(value)}, out of range`);
      return ok(text);
    }
    case "decimal": {
      const normalized = normalizeDecimal(value, type.precision, type.scale);
      return typeof normalized === "string" ? ok(normalized) : bad(normalized.detail);
    }
    case "bool":
      if (value === true || value === 1 || value === "true" || value === "1") return ok("true");
      if (value === false || value === 0 || value === "false" || value === "0") return ok("false");
      return bad(`${expected} (true, false, 1 or 0), got ${preview(value)}`);
    case "date": {
      const normalized = normalizeDate(value);
      if (typeof normalized !== "string") return bad(`${expected}: ${normalized.detail}`);
      if (type.legacy && (normalized < "1970-01-01" || normalized > DATE_MAX)) {
        return bad(`${expected} from 1970-01-01 to ${DATE_MAX}, got ${preview(value)}`);
      }
      return ok(normalized);
    }
    case "datetime": {
      if (typeof value !== "string") return bad(`${expected} (an ISO-8601 timestamp), got ${preview(value)}`);
      const normalized = normalizeDateTime(value, type.legacy ? 0 : type.precision);
      if (typeof normalized !== "string") return bad(`${expected}: ${normalized.detail}`);
      if (type.legacy && (normalized < "1970-01-01T00:00:00Z" || normalized > DATETIME_MAX)) {
        return bad(`${expected} from 1970-01-01T00:00:00Z to ${DATETIME_MAX}, got ${preview(value)}`);
      }
      // The engine reads `YYYY-MM-DD hh:mm:ss[.fff]`; sessions run in UTC.
      return ok(normalized.slice(0, -1).replace("T", " "));
    }
    case "uuid":
      return typeof value === "string" && UUID.test(value) ? ok(value.toLowerCase()) : bad(`${expected} (like 123e4567-e89b-12d3-a456-426614174000), got ${preview(value)}`);
    case "nullable":
      return value === null && !top ? ok(null) : checkValue(type.of, value, top);
    case "array": {
      if (!Array.isArray(value)) return bad(`${expected} (a JSON array), got ${preview(value)}`);
      const items: ParamValue[] = [];
      for (const [i, item] of value.entries()) {
        const checked = checkValue(type.of, item, false);
        if (!checked.ok) return bad(`element ${i}: ${checked.detail}`);
        items.push(checked.value);
      }
      return ok(items);
    }
    default:
      // parseParamType lets no other type into a view's parameters (paramProblem).
      throw new Error(`a view parameter of type ${typeName(type)} cannot be checked`);
  }
}

function checkInt(bits: number, signed: boolean, value: unknown): Checked {
  const name = `${signed ? "Int" : "UInt"}${bits}`;
  const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  const expected = `expected ${name} (an integer from ${min} to ${max})`;
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : typeof value === "string" ? value : undefined;
  if (text === undefined || !INTEGER.test(text)) return bad(`${expected}, got ${preview(value)}`);
  const n = BigInt(text);
  if (n < min || n > max) return bad(`${expected}, got ${preview(value)}, out of range`);
  return ok(n.toString());
}

/** Whether an array's scalars are strings, dates or UUIDs, which the client quotes. */
function stringLeaves(type: ColumnType): boolean {
  if (type.kind === "array" || type.kind === "nullable") return stringLeaves(type.of);
  return ["string", "date", "datetime", "uuid"].includes(type.kind);
}

/** `[1,NULL,[2]]` from checked numbers, decimals and booleans (digits, signs, dots, letters only). */
function arrayText(value: ParamValue): string {
  if (value === null) return "NULL";
  if (typeof value === "string") return value;
  return `[${value.map(arrayText).join(",")}]`;
}
