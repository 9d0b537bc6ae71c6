/**
 * Wording shared by the parser and the validator, so a type or a rejected value reads
 * the same in a build error and in an ingest error.
 */

/** A rejected value: `detail` says what was expected and what came, without the field name. */
export interface Invalid {
  readonly detail: string;
}

export function invalid(detail: string): Invalid {
  return { detail };
}

const PREVIEW_LENGTH = 40;

/** A value as it appears after "got" in messages, cut short so huge inputs can't flood logs. */
export function preview(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value.length > PREVIEW_LENGTH
        ? `${JSON.stringify(value.slice(0, PREVIEW_LENGTH))}…`
        : JSON.stringify(value);
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "undefined":
      return "undefined";
    case "object":
      if (value === null) return "null";
      return Array.isArray(value) ? "an array" : "an object";
    default:
      return `a ${typeof value}`;
  }
}

/** What kind of thing a non-record input is: `array`, `null`, `string`, `Date`... */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value !== "object") return typeof value;
  const proto: unknown = Object.getPrototypeOf(value);
  const ctor = proto !== null && typeof proto === "object" ? (proto as { constructor?: unknown }).constructor : undefined;
  return typeof ctor === "function" && ctor.name !== "" ? ctor.name : "object";
}

/** The candidate a typo most likely meant: same letters ignoring case, or at most two edits away. */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === lower) return candidate;
    const distance = editDistance(lower, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it can't be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] ?? limit) + 1, (current[j - 1] ?? limit) + 1, (previous[j - 1] ?? limit) + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length] ?? limit, limit);
}
