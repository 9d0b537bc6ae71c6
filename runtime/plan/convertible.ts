/**
 * Before a column changes type: do the values it holds convert? A MODIFY COLUMN that meets
 * a value the new type cannot hold fails halfway on some engines (chDB: the column's type
 * has changed, its data has not, and every read of it fails), so the change is refused
 * first, naming how many values and one of them. Text is checked with `accurateCastOrNull`
 * (engines before 21.x lack it and are not asked), enums by their names.
 */
import { valueType, type ColumnType } from "../../conventions/datamodels/types.ts";
import { parseType, typeName } from "../../conventions/datamodels/typeFaces.ts";
import { IglooError } from "../../conventions/errors.ts";
import { quoteIdent, quoteString } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { Change } from "./plan.ts";

/** `Nullable(T)` and `LowCardinality(...)` wrappers off: what accurateCastOrNull takes. */
function innerType(type: string): ColumnType | undefined {
  const inner = valueType(parseType(type));
  // Arrays, maps and the like are cast element by element: not checked here.
  return inner.kind === "array" || inner.kind === "json" || (inner.kind === "other" && inner.structured) ? undefined : inner;
}

/**
 * The rows a change cannot convert, as a condition on the column, or undefined when the
 * engine converts every value (maybe losing some, as its CAST does and the README says:
 * integers wrap, scales are cut). What fails the ALTER is text that is not a value of the
 * new type, and a value an enum no longer has.
 */
function unconvertible(column: string, from: ColumnType, to: ColumnType): string | undefined {
  if (to.kind === "enum") return `toString(${column}) NOT IN (${to.values.map(quoteString).join(", ")})`;
  if (from.kind === "string" && to.kind !== "string") return `accurateCastOrNull(${column}, ${quoteString(typeName(to))}) IS NULL`;
  // A decimal past an integer type's range fails the ALTER ("Convert overflow"), where an
  // integer narrowing wraps; accurateCastOrNull throws on it too, so the range is compared.
  if (from.kind === "decimal" && to.kind === "int") {
    const bits = BigInt(to.bits);
    const [min, max] = to.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
    return `(${column} < ${min} OR ${column} > ${max})`;
  }
  return undefined;
}

/**
 * The changes as they may run: refused (an IglooError, nothing changed) when some stored
 * value of a changed column does not convert, with DEFAULTs the new types can take.
 */
export async function prepareTypeChanges(store: Store, changes: readonly Change[]): Promise<Change[]> {
  await checkConvertible(store, changes);
  return await withConvertibleDefaults(store, changes);
}

/** Throws an IglooError when some value of a changed column does not convert. */
async function checkConvertible(store: Store, changes: readonly Change[]): Promise<void> {
  for (const change of changes) {
    if (change.kind !== "modify_column") continue;
    const [from, to] = [innerType(change.from), innerType(change.to)];
    if (from === undefined || to === undefined) continue;
    const column = quoteIdent(change.column);
    const condition = unconvertible(column, from, to);
    if (condition === undefined) continue;
    let rows: { c: string; example: string }[];
    try {
      ({ rows } = await store.query<{ c: string; example: string }>(
        `SELECT count() AS c, toString(any(${column})) AS example FROM ${quoteIdent(change.table)} WHERE ${column} IS NOT NULL AND ${condition}`,
      ));
    } catch {
      continue; // an engine without accurateCastOrNull (before 21.x): the ALTER decides
    }
    const count = Number(rows[0]?.c ?? 0);
    if (count > 0) {
      throw new IglooError(
        "E_NOT_CONVERTIBLE",
        `cannot ${change.summary.replace(/ \(.*$/, "")}: ${count.toLocaleString("en-US")} row${count === 1 ? " holds a value" : "s hold values"} ${typeName(to)} cannot hold, e.g. ${JSON.stringify(rows[0]!.example)}; nothing was changed.`,
        { hint: `Change or delete those rows first (ALTER TABLE ${change.table} UPDATE/DELETE ... WHERE ...), or keep the field's type.` },
      );
    }
  }
}

/**
 * A column keeps the DEFAULT it was created with (rows older than the column read it), and
 * the engine refuses a type its DEFAULT cannot take ("default expression and column type
 * are incompatible"). When the values convert (checkConvertible passed) but that DEFAULT
 * does not, no stored row reads it as anything the new type could keep, and Igloo fills
 * every field at ingest: the change then sets the new type's zero value as the DEFAULT.
 */
async function withConvertibleDefaults(store: Store, changes: readonly Change[]): Promise<Change[]> {
  const out: Change[] = [];
  for (const change of changes) {
    if (change.kind !== "modify_column" || / DEFAULT /.test(change.sql)) {
      out.push(change);
      continue;
    }
    const to = innerType(change.to);
    let stale = false;
    try {
      const { rows } = await store.query<{ d: string }>(
        `SELECT default_expression AS d FROM system.columns WHERE database = currentDatabase() AND table = ${quoteString(change.table)} AND name = ${quoteString(change.column)}`,
      );
      const expression = rows[0]?.d ?? "";
      if (expression !== "" && to !== undefined) {
        const { rows: cast } = await store.query<{ bad: number }>(`SELECT accurateCastOrNull(${expression}, ${quoteString(typeName(to))}) IS NULL AS bad`);
        stale = Number(cast[0]?.bad ?? 0) === 1;
      }
    } catch {
      // An engine without accurateCastOrNull: the ALTER decides.
    }
    out.push(stale ? { ...change, sql: `${change.sql} DEFAULT defaultValueOfTypeName(${quoteString(change.to)})`, summary: change.summary.replace(/\)$/, "; its old DEFAULT does not convert, so it becomes the new type's zero value)") } : change);
  }
  return out;
}
