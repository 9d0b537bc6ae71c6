/**
 * Records an earlier build acknowledged into a model's topic, still in the log when
 * `igloo migrate` changed the table's columns (the README's deploy: the worker stops, the
 * old ingest keeps accepting, migrate runs, the new worker starts). The new worker checks
 * them against the new model, which may refuse them: `f1: -45` once `f1` became a String,
 * `1000` once a UInt16 became a UInt8, `null` once an optional field became required.
 *
 * They are acknowledged, so they are converted the way the migration converted the rows
 * the table held: staged under the columns an earlier migration recorded (`igloo_migrations`
 * keeps each one's snapshot), then cast by the engine to today's columns, as the ALTER
 * cast the table's rows. A NULL bound for a column that is no longer Nullable is left out,
 * so the column's DEFAULT fills it, as the migration's `DEFAULT` filled the table's NULLs.
 * Only a record that converts under no earlier shape (or that the engine cannot cast, an
 * enum member since removed say) is dead-lettered, with both reasons.
 *
 * A record the new model accepts as it is is written as it is: a timestamp whose field
 * became a String keeps the text ingest gave it ("2030-01-02T03:04:05.123Z"), where the
 * ALTER wrote the engine's ("2030-01-02 03:04:05.123"). Only the values differ in form.
 */
import { isNullable as isNullableType, valueType } from "../../conventions/datamodels/types.ts";
import { parseType, typeName } from "../../conventions/datamodels/typeFaces.ts";
import { MIGRATIONS_TABLE } from "../plan/migrations.ts";
import { classifyEngineError, type EngineErrorKind } from "../store/engineErrors.ts";
import { quoteIdent, quoteString } from "../store/clickhouseSql.ts";
import type { ColumnInfo, Store } from "../store/store.ts";
import { RECORD_ID_FIELD } from "../ingest/recordIds.ts";

type Shape = readonly { readonly name: string; readonly type: string }[];

/** A record the current model refused, as it sits in the log. */
export interface Refused {
  readonly text: string;
  readonly error: string;
}

export interface Conversion {
  /** JSONEachRow lines of the table's current columns, in the order of the refused records that converted. */
  readonly rows: string[];
  /** Records that did not convert, with the reason. */
  readonly refused: { readonly text: string; readonly error: string }[];
}

/** How many earlier migrations are looked at (newest first); the log rarely holds records older than a few. */
const MAX_SHAPES = 20;
/** A worker normally runs one build; a migration made while it runs is seen within this. */
const CACHE_MS = 30_000;
const STAGING_COLUMN = "_igloo_n";

const unwrap = (type: string): string => type.replace(/\s+/g, "");
const isNullable = (type: string): boolean => isNullableType(parseType(type));
const isEnum = (type: string): boolean => valueType(parseType(type)).kind === "enum";

/** `T` as a type that also holds NULL (LowCardinality stays outermost). */
function nullableOf(text: string): string {
  const type = parseType(text);
  if (isNullableType(type)) return text;
  return typeName(type.kind === "lowCardinality" ? { kind: "lowCardinality", of: { kind: "nullable", of: type.of } } : { kind: "nullable", of: type });
}

export class EarlierShapes {
  readonly #store: Store;
  readonly #table: string;
  #cache: { at: number; current: readonly ColumnInfo[]; earlier: readonly Shape[] } | undefined;

  constructor(store: Store, table: string) {
    this.#store = store;
    this.#table = table;
  }

  async #shapes(): Promise<{ current: readonly ColumnInfo[]; earlier: readonly Shape[] }> {
    if (this.#cache && Date.now() - this.#cache.at < CACHE_MS) return this.#cache;
    const current = (await this.#store.describeTable(this.#table)) ?? [];
    const earlier: Shape[] = [];
    if ((await this.#store.listTables()).includes(MIGRATIONS_TABLE)) {
      const { rows } = await this.#store.query<{ snapshot: string }>(`SELECT snapshot FROM ${MIGRATIONS_TABLE} ORDER BY id DESC LIMIT ${MAX_SHAPES}`);
      const seen = new Set([JSON.stringify(current.map((c) => ({ name: c.name, type: c.type })))]);
      for (const { snapshot } of rows) {
        const shape = (JSON.parse(snapshot) as Record<string, Shape>)[this.#table];
        const key = JSON.stringify(shape?.map((c) => ({ name: c.name, type: c.type })));
        if (!shape || seen.has(key)) continue;
        seen.add(key);
        earlier.push(shape);
      }
    }
    this.#cache = { at: Date.now(), current, earlier };
    return this.#cache;
  }

  /** Converts what it can of records the current model refused (see the top of this file). */
  async convert(records: readonly Refused[]): Promise<Conversion> {
    const { current, earlier } = await this.#shapes();
    const refused: { text: string; error: string }[] = [];
    if (earlier.length === 0) return { rows: [], refused: [...records] };
    // Each record goes with the newest earlier shape that has every column it names.
    const groups = new Map<Shape, { record: Record<string, unknown>; refusedAs: Refused }[]>();
    for (const r of records) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(r.text) as Record<string, unknown>;
      } catch {
        refused.push(r);
        continue;
      }
      if (typeof record !== "object" || record === null || Array.isArray(record)) {
        refused.push(r);
        continue;
      }
      delete record[RECORD_ID_FIELD];
      const keys = Object.keys(record);
      const shape = earlier.find((s) => keys.every((k) => s.some((c) => c.name === k)));
      if (!shape) {
        refused.push(r);
        continue;
      }
      const group = groups.get(shape);
      if (group) group.push({ record, refusedAs: r });
      else groups.set(shape, [{ record, refusedAs: r }]);
    }
    const rows: string[] = [];
    for (const [shape, members] of groups) {
      const converted = await this.#convertShape(shape, current, members.map((m) => m.record));
      converted.forEach((row, i) => {
        const member = members[i]!;
        if (typeof row === "string") rows.push(row);
        else refused.push({ text: member.refusedAs.text, error: `${member.refusedAs.error}; as a record of the table's columns before \`igloo migrate\` it does not convert either: ${row.error}` });
      });
    }
    return { rows, refused };
  }

  /** Each record as a row of the current columns (a JSON line), or why it does not convert. */
  async #convertShape(shape: Shape, current: readonly ColumnInfo[], records: readonly Record<string, unknown>[]): Promise<(string | { error: string })[]> {
    const out: (string | { error: string })[] = records.map(() => ({ error: "not converted" }));
    const staging = `igloo_convert_${Bun.hash(`${this.#table}:${crypto.randomUUID()}`).toString(16)}`;
    const columns = shape.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(", ");
    const was = new Map(shape.map((c) => [c.name, c.type]));
    const selects = current
      .filter((c) => was.has(c.name))
      .map((c) => {
        const from = was.get(c.name)!;
        const column = quoteIdent(c.name);
        if (unwrap(from) === unwrap(c.type)) return column;
        // A NULL into a column no longer Nullable stays NULL here and is left out below.
        const to = isNullable(from) ? nullableOf(c.type) : c.type;
        // Enums convert by name, as the ALTER keeps each member's name.
        const value = isEnum(from) && isEnum(c.type) ? `toString(${column})` : column;
        return `CAST(${value}, ${quoteString(to)}) AS ${column}`;
      });
    const nullable = new Map(current.map((c) => [c.name, isNullable(c.type)]));
    const encoder = new TextEncoder();
    const message = (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) });
    /** Rethrows what is not about a value (a dead engine, a full disk): the batch is retried. */
    const rethrowUnlessValue = (error: unknown, kinds: readonly EngineErrorKind[]) => {
      if (!kinds.includes(classifyEngineError(error))) throw error;
    };
    /** Rows in the staging table: a record its insert refused is not, and is not selected. */
    const staged = new Set(records.keys());
    await this.#store.exec(`CREATE TABLE ${quoteIdent(staging)} (${quoteIdent(STAGING_COLUMN)} UInt32, ${columns}) ENGINE = Memory`);
    try {
      const lines = records.map((record, i) => JSON.stringify({ ...record, [STAGING_COLUMN]: i }));
      try {
        await this.#store.insertJsonEachRow(staging, encoder.encode(lines.join("\n")));
      } catch (error) {
        rethrowUnlessValue(error, ["data"]);
        // Few records reach here (those of the old build still in the log): one at a time.
        for (const [i, line] of lines.entries()) {
          try {
            await this.#store.insertJsonEachRow(staging, encoder.encode(line));
          } catch (one) {
            rethrowUnlessValue(one, ["data"]);
            out[i] = message(one);
            staged.delete(i);
          }
        }
      }
      const select = (where: string) =>
        this.#store.query<Record<string, unknown>>(`SELECT ${quoteIdent(STAGING_COLUMN)}, ${selects.join(", ")} FROM ${quoteIdent(staging)}${where} ORDER BY ${quoteIdent(STAGING_COLUMN)}`);
      let converted: Record<string, unknown>[] = [];
      try {
        converted = (await select("")).rows;
      } catch (error) {
        // Engines name a value CAST refuses with many codes (18.16: "Unknown element" is
        // LOGICAL_ERROR): once the statement itself is known to run, a row's failure is its value's.
        rethrowUnlessValue(error, ["data", "other"]);
        await select(" WHERE 0");
        for (const i of staged) {
          try {
            converted.push(...(await select(` WHERE ${quoteIdent(STAGING_COLUMN)} = ${i}`)).rows);
          } catch (one) {
            rethrowUnlessValue(one, ["data", "other"]);
            out[i] = message(one);
          }
        }
      }
      for (const row of converted) {
        const i = Number(row[STAGING_COLUMN]);
        const record = records[i]!;
        const kept: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(row)) {
          // Columns the record did not name get the table's DEFAULT, as do NULLs of columns no longer Nullable.
          if (name === STAGING_COLUMN || !(name in record)) continue;
          if (value === null && !nullable.get(name)) continue;
          kept[name] = value;
        }
        out[i] = JSON.stringify(kept);
      }
    } finally {
      await this.#store.exec(`DROP TABLE IF EXISTS ${quoteIdent(staging)}`);
    }
    return out;
  }
}
