/**
 * Json fields accept any JSON value, but nothing that JSON can't carry (programmatic
 * callers may pass `undefined`, NaN, functions, class instances) and no deeper nesting
 * than ClickHouse and the downstream parsers handle comfortably. The depth limit also
 * stops the walk on cyclic objects.
 */
import { type Invalid, invalid, kindOf, preview } from "./messages.ts";

export const MAX_JSON_DEPTH = 64;

/** JSON text of the value, for Json fields stored as a String column (JSON escapes a lone surrogate). */
export function normalizeJsonText(value: unknown): string | Invalid {
  const problem = jsonProblem(value, 0, false);
  return problem === undefined ? JSON.stringify(value) : invalid(problem);
}

/** Native JSON columns hold objects only; the object itself is passed on. */
export function checkJsonObject(value: unknown): Invalid | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isPlainObject(value)) {
    return invalid(`expected a JSON object, got ${preview(value)}`);
  }
  // The engine parses the object's text itself, and refuses a lone surrogate's escape.
  const problem = jsonProblem(value, 0, true);
  return problem === undefined ? undefined : invalid(problem);
}

/** `enclosing` counts the objects and arrays around `value`; `unicode`: strings and keys must be well-formed. */
function jsonProblem(value: unknown, enclosing: number, unicode: boolean): string | undefined {
  switch (typeof value) {
    case "string":
      return unicode && !isWellFormed(value) ? "expected Unicode text, got a string with a lone surrogate, which UTF-8 cannot hold" : undefined;
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `expected a JSON value, got a value containing ${value}`;
    case "object": {
      if (value === null) return undefined;
      if (enclosing >= MAX_JSON_DEPTH) return `expected JSON nested at most ${MAX_JSON_DEPTH} levels deep, got deeper nesting`;
      const items = Array.isArray(value) ? value : isPlainObject(value) ? Object.values(value) : undefined;
      if (items === undefined) return `expected a JSON value, got a value containing a ${kindOf(value)}`;
      if (unicode && !Array.isArray(value) && Object.keys(value).some((key) => !isWellFormed(key))) {
        return "expected Unicode text, got a key with a lone surrogate, which UTF-8 cannot hold";
      }
      for (const item of items) {
        const problem = jsonProblem(item, enclosing + 1, unicode);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    default:
      return `expected a JSON value, got a value containing ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}`;
  }
}

function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
