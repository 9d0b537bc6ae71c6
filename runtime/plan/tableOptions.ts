/**
 * Table options (`@@ttl`, `@ttl`, `@codec`, `@@skipIndex`, `@@projection`, `@@settings`)
 * against an engine: a model using one the engine lacks is refused before anything is
 * made, and an existing table's options are brought to the model's by ALTERs.
 *
 * What the options are now is read from the engine's CREATE TABLE statement of the table;
 * what they should be, from the engine's statement of a throwaway "trial" table made from
 * the model. The engine prints both, so both spell each expression its own way
 * (`ts + INTERVAL 30 DAY` comes back as `ts + toIntervalDay(30)`): comparing them needs no
 * model of its formatting, and a change just applied is not planned again. Making the trial
 * table also asks the engine whether it takes the model's options at all, so a codec it
 * does not know or an index on a missing column is refused at the model's file and line
 * before anything changes. Tables whose model and live table have no options are left
 * alone: projects without options make no trial tables.
 */
import { randomBytes } from "node:crypto";
import type { ModelIR, SourceRef } from "../../conventions/datamodels/ir.ts";
import { formatSource, IglooError } from "../../conventions/errors.ts";
import { createTableSql, projectionDefinition, quoteIdent, settingLiteral, skipIndexDefinition } from "../store/clickhouseSql.ts";
import { createStatements } from "../store/introspection.ts";
import type { Store, StoreCapabilities } from "../store/store.ts";
import { parseTableOptions, type TableOptionsText } from "../store/tableDefinition.ts";
import type { Change } from "./plan.ts";

export type TableOption = "ttl" | "column_ttl" | "codec" | "skip_index" | "projection" | "setting";

/** A table's options as the engine prints them: the live table's and the model's (its trial table's). */
export interface TableOptionsPair {
  readonly live: TableOptionsText;
  readonly wanted: TableOptionsText;
}

/** Settings Igloo manages itself (clickhouseSql.ts), and what a table has without any. */
const OWN_SETTINGS = new Set(["non_replicated_deduplication_window"]);
const DEFAULT_SETTINGS: ReadonlyMap<string, string> = new Map([["index_granularity", "8192"]]);

// ---------------------------------------------------------------------------------------
// What the engine lacks

/**
 * Throws E_MODEL_ON_SERVER, one line per option the engine cannot hold, each at the
 * attribute's file:line:column: before anything is created, so no table is half made.
 */
export function refuseUnsupportedOptions(models: readonly ModelIR[], caps: StoreCapabilities): void {
  const lines: string[] = [];
  const refuse = (at: SourceRef, model: ModelIR, what: string, feature: string, since: string) =>
    lines.push(`${formatSource(at)}: model \`${model.name}\`: ${what} needs a ClickHouse server with ${feature} (${since}); this one (${caps.version}) has none`);
  for (const model of models) {
    if (model.streamOnly) continue;
    if (model.ttl && !caps.supportsTableTtl) refuse(model.ttl.source, model, "@@ttl", "TTL", "19.6 or later");
    for (const field of model.fields) {
      if (field.ttl && !caps.supportsColumnTtl) refuse(field.ttl.source, model, `@ttl on field \`${field.name}\``, "column TTL", "19.6 or later");
      if (field.codec && !caps.supportsCodecs) refuse(field.codec.source, model, `@codec on field \`${field.name}\``, "column codecs", "19.1 or later");
    }
    const index = model.skipIndexes?.[0];
    if (index && !caps.supportsSkipIndexes) {
      refuse(index.source, model, "@@skipIndex", "data-skipping indexes", "20.1 or later, or 19.x with allow_experimental_data_skipping_indices = 1");
    }
    const projection = model.projections?.[0];
    if (projection && !caps.supportsProjections) refuse(projection.source, model, "@@projection", "projections", "21.6 or later");
  }
  if (lines.length > 0) {
    throw new IglooError("E_MODEL_ON_SERVER", `${lines.join("\n")}.`, { kind: "bad_input", hint: "Remove the option from the model, or use a newer ClickHouse server." });
  }
}

// ---------------------------------------------------------------------------------------
// Reading what is and what should be

export function usesTableOptions(model: ModelIR): boolean {
  return (
    model.ttl !== undefined ||
    (model.skipIndexes ?? []).length > 0 ||
    (model.projections ?? []).length > 0 ||
    (model.settings ?? []).length > 0 ||
    model.fields.some((f) => f.codec !== undefined || f.ttl !== undefined)
  );
}

/** No option a model could have asked for: what a table made without options prints. */
function isPlain(options: TableOptionsText): boolean {
  const settings = [...options.settings].every(([name, value]) => OWN_SETTINGS.has(name) || DEFAULT_SETTINGS.get(name) === value);
  return options.ttl === undefined && options.indexes.size === 0 && options.projections.size === 0 && options.columns.size === 0 && settings;
}

/**
 * The live and wanted options of each model's table that has options on either side.
 * Models with options whose table does not exist yet get a trial table too, which checks
 * them with the engine before their CREATE TABLE is planned. Throws E_MODEL_ON_SERVER, at
 * the model's file and line, when the engine refuses a model's table or a settings change.
 */
export async function readTableOptions(store: Store, models: readonly ModelIR[]): Promise<Map<string, TableOptionsPair>> {
  const pairs = new Map<string, TableOptionsPair>();
  const candidates = models.filter((m) => !m.streamOnly);
  const statements = await createStatements(store, candidates.map((m) => m.table));
  for (const model of candidates) {
    const statement = statements.get(model.table);
    const uses = usesTableOptions(model);
    const live = statement === undefined ? undefined : parseTableOptions(statement);
    if (!uses && (live === undefined || isPlain(live))) continue;
    const wanted = await trialOptions(store, model, live);
    if (live !== undefined) pairs.set(model.table, { live, wanted });
  }
  return pairs;
}

/** What the engine prints of a throwaway table made from the model; settings changes rehearsed on it. */
async function trialOptions(store: Store, model: ModelIR, live: TableOptionsText | undefined): Promise<TableOptionsText> {
  const table = `igloo_trial_${randomBytes(6).toString("hex")}`;
  try {
    try {
      await store.exec(createTableSql({ ...model, table }, store.capabilities));
    } catch (error) {
      // An engine away for a moment says nothing about the model.
      if (error instanceof IglooError && error.kind === "unavailable") throw error;
      const detail = engineWords(error);
      throw new IglooError("E_MODEL_ON_SERVER", `${formatSource(blame(model, detail))}: model \`${model.name}\`: the engine refuses its table: ${detail}`, {
        kind: "bad_input",
        cause: error,
        hint: "Change the attribute the engine names; nothing was created or changed.",
      });
    }
    const statement = (await createStatements(store, [table])).get(table);
    if (statement === undefined) throw new IglooError("E_STORE", `the engine did not show the trial table ${table} it just made`);
    const wanted = parseTableOptions(statement);
    // Some settings are fixed when a table is made (index_granularity), and old servers
    // change none: taking the trial table to the live value and back finds out before the
    // plan runs (the engine takes a setting "changed" to the value it has).
    if (live !== undefined) {
      for (const change of settingChanges(model, { live, wanted })) {
        const back = change.from === undefined ? `RESET SETTING ${change.name}` : `MODIFY SETTING ${change.name} = ${change.from}`;
        try {
          await store.exec(`ALTER TABLE ${quoteIdent(table)} ${back}`);
          await store.exec(change.sql(table));
        } catch (error) {
          if (error instanceof IglooError && error.kind === "unavailable") throw error;
          const at = model.settings?.[0]?.source ?? model.source;
          throw new IglooError(
            "E_MODEL_ON_SERVER",
            `${formatSource(at)}: model \`${model.name}\`: cannot change setting \`${change.name}\` of the existing table \`${model.table}\` from ${change.from ?? "its default"} to ${change.to ?? "its default"}: ${engineWords(error)}`,
            { kind: "bad_input", cause: error, hint: `This engine cannot change it on an existing table: ${change.from === undefined ? "leave it out of @@settings" : `keep ${change.name}: ${change.from} in @@settings`}, or give the model a new table (@@map).` },
          );
        }
      }
    }
    return wanted;
  } finally {
    await store.exec(`DROP TABLE IF EXISTS ${quoteIdent(table)}`).catch(() => {});
  }
}

/** The engine's own words, ending their sentence (a hint follows them). */
function engineWords(error: unknown): string {
  const words = (error instanceof Error ? error.message : String(error)).replace(/^(query|statement) failed: /, "").trim();
  return /[.!?]$/.test(words) ? words : `${words}.`;
}

/** The attribute an engine's refusal most likely names, else the model. */
function blame(model: ModelIR, detail: string): SourceRef {
  const named = [...(model.skipIndexes ?? []), ...(model.projections ?? []), ...(model.settings ?? [])].find((o) => new RegExp(`\\b${o.name}\\b`).test(detail));
  if (named !== undefined) return named.source;
  const coded = model.fields.filter((f) => f.codec !== undefined);
  const codec = (coded.find((f) => new RegExp(`\\b${f.column}\\b`).test(detail)) ?? coded[0])?.codec;
  if (codec !== undefined && /codec/i.test(detail)) return codec.source;
  if (/projection/i.test(detail) && model.projections?.[0]) return model.projections[0].source;
  if (/index|skipping/i.test(detail) && model.skipIndexes?.[0]) return model.skipIndexes[0].source;
  if (/\bTTL\b/i.test(detail)) return model.ttl?.source ?? model.fields.find((f) => f.ttl !== undefined)?.ttl?.source ?? model.source;
  return model.source;
}

// ---------------------------------------------------------------------------------------
// The changes

interface SettingChange {
  readonly name: string;
  readonly from: string | undefined;
  /** Undefined: back to the engine's default (RESET SETTING). */
  readonly to: string | undefined;
  sql(table: string): string;
}

function settingChanges(model: ModelIR, { live, wanted }: TableOptionsPair): SettingChange[] {
  const changes: SettingChange[] = [];
  for (const [name, to] of wanted.settings) {
    if (OWN_SETTINGS.has(name) || live.settings.get(name) === to) continue;
    const declared = model.settings?.find((s) => s.name === name);
    const value = declared === undefined ? to : settingLiteral(declared.value);
    changes.push({ name, from: live.settings.get(name), to, sql: (table) => `ALTER TABLE ${quoteIdent(table)} MODIFY SETTING ${name} = ${value}` });
  }
  for (const [name, from] of live.settings) {
    if (OWN_SETTINGS.has(name) || wanted.settings.has(name)) continue;
    changes.push({ name, from, to: undefined, sql: (table) => `ALTER TABLE ${quoteIdent(table)} RESET SETTING ${name}` });
  }
  return changes;
}

const UNIT_SECONDS: Readonly<Record<string, readonly [number, number]>> = {
  second: [1, 1],
  minute: [60, 60],
  hour: [3600, 3600],
  day: [86400, 86400],
  week: [604800, 604800],
  month: [28 * 86400, 31 * 86400],
  quarter: [89 * 86400, 92 * 86400],
  year: [365 * 86400, 366 * 86400],
};

/** A TTL of one delete rule `base + interval`, as its base and the interval's shortest and longest length in seconds. */
function retention(ttl: string): { base: string; min: number; max: number } | undefined {
  const text = ttl.replace(/\s+DELETE$/i, "").trim();
  const match = /^(.+?)\s*\+\s*(?:toInterval([A-Za-z]+)\(\s*(\d+)\s*\)|INTERVAL\s+(\d+)\s+([A-Za-z]+))$/.exec(text);
  const base = (match?.[1] ?? text).trim();
  // Several rules, a WHERE, GROUP BY, TO DISK...: not one plain deletion.
  let depth = 0;
  for (const c of base) {
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) return undefined;
  }
  if (/\b(WHERE|GROUP|TO|SET|RECOMPRESS)\b/.test(base)) return undefined;
  if (match === null) return { base, min: 0, max: 0 };
  const unit = UNIT_SECONDS[(match[2] ?? match[5] ?? "").toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Number(match[3] ?? match[4]);
  return { base, min: n * unit[0], max: n * unit[1] };
}

/** Whether every row `now` would delete, `was` deleted already: only then is a TTL change safe. */
function keepsAsLong(was: string, now: string): boolean {
  const [a, b] = [retention(was), retention(now)];
  return a !== undefined && b !== undefined && a.base === b.base && b.min >= a.max;
}

/**
 * The ALTERs that bring the live table's options to the model's: `before` drops indexes
 * and projections (which a column drop or type change may need gone), `after` sets TTLs,
 * codecs and settings and adds indexes and projections (which may name added columns).
 * `liveColumns` are the table's columns now: those the plan adds get their options with
 * ADD COLUMN.
 * A TTL that may delete rows (or reset values) the table keeps now is destructive.
 */
export function tableOptionChanges(model: ModelIR, pair: TableOptionsPair, liveColumns: ReadonlySet<string>): { before: Change[]; after: Change[] } {
  const { live, wanted } = pair;
  const t = model.table;
  const table = quoteIdent(t);
  const before: Change[] = [];
  const after: Change[] = [];
  const change = (option: TableOption, name: string, sql: string, destructive: boolean, summary: string, stage: "before_columns" | "after_columns" = "after_columns"): Change => ({
    kind: "table_option",
    table: t,
    option,
    name,
    stage,
    sql,
    destructive,
    summary,
  });

  if (wanted.ttl !== live.ttl) {
    if (wanted.ttl === undefined || model.ttl === undefined) {
      after.push(change("ttl", t, `ALTER TABLE ${table} REMOVE TTL`, false, `remove the TTL of ${t} (was ${live.ttl}; rows are no longer deleted by age)`));
    } else {
      const safe = live.ttl !== undefined && keepsAsLong(live.ttl, wanted.ttl);
      const why = live.ttl === undefined ? "rows past it are deleted" : safe ? "rows are kept longer" : "rows past it are deleted, which may be sooner than before";
      after.push(change("ttl", t, `ALTER TABLE ${table} MODIFY TTL ${model.ttl.text}`, !safe, `set the TTL of ${t} to ${wanted.ttl} (was ${live.ttl ?? "none"}; ${why})`));
    }
  }

  for (const field of model.fields) {
    const was = live.columns.get(field.column);
    const is = wanted.columns.get(field.column);
    // A column added by this plan gets its options with ADD COLUMN.
    if (!liveColumns.has(field.column)) continue;
    const column = quoteIdent(field.column);
    const name = `${t}.${field.column}`;
    if (was?.codec !== is?.codec) {
      after.push(
        field.codec === undefined || is?.codec === undefined
          ? change("codec", field.column, `ALTER TABLE ${table} MODIFY COLUMN ${column} REMOVE CODEC`, false, `remove the codec of ${name} (was ${was?.codec}; new parts get the server's default compression)`)
          : change("codec", field.column, `ALTER TABLE ${table} MODIFY COLUMN ${column} CODEC(${field.codec.text})`, false, `set the codec of ${name} to ${is.codec} (was ${was?.codec ?? "the default"}; new parts, and old ones as they merge)`),
      );
    }
    if (was?.ttl !== is?.ttl) {
      if (field.ttl === undefined || is?.ttl === undefined) {
        after.push(change("column_ttl", field.column, `ALTER TABLE ${table} MODIFY COLUMN ${column} REMOVE TTL`, false, `remove the TTL of column ${name} (was ${was?.ttl}; values are kept)`));
      } else {
        const safe = was?.ttl !== undefined && keepsAsLong(was.ttl, is.ttl);
        const why = was?.ttl === undefined ? "values past it are reset to the column's default" : safe ? "values are kept longer" : "values past it are reset to the column's default, which may be sooner than before";
        after.push(change("column_ttl", field.column, `ALTER TABLE ${table} MODIFY COLUMN ${column} TTL ${field.ttl.text}`, !safe, `set the TTL of column ${name} to ${is.ttl} (was ${was?.ttl ?? "none"}; ${why})`));
      }
    }
  }

  for (const setting of settingChanges(model, pair)) {
    const summary = setting.to === undefined ? `reset setting ${setting.name} of ${t} to its default (was ${setting.from})` : `set setting ${setting.name} of ${t} to ${setting.to} (was ${setting.from ?? "the default"})`;
    after.push(change("setting", setting.name, setting.sql(t), false, summary));
  }

  const indexes = new Map((model.skipIndexes ?? []).map((i) => [i.name, i]));
  for (const [name, definition] of live.indexes) {
    if (wanted.indexes.get(name) === definition) continue;
    before.push(change("skip_index", name, `ALTER TABLE ${table} DROP INDEX ${quoteIdent(name)}`, false, `drop index ${name} of ${t} (${definition})${wanted.indexes.has(name) ? "; it is added again as the model says" : ""}`, "before_columns"));
  }
  for (const [name, definition] of wanted.indexes) {
    const index = indexes.get(name);
    if (index === undefined || live.indexes.get(name) === definition) continue;
    after.push(change("skip_index", name, `ALTER TABLE ${table} ADD ${skipIndexDefinition(index)}`, false, `add index ${name} to ${t} (${definition})`));
    after.push(change("skip_index", name, `ALTER TABLE ${table} MATERIALIZE INDEX ${quoteIdent(name)}`, false, `build index ${name} of ${t} for the rows already stored (in the background)`));
  }

  const projections = new Map((model.projections ?? []).map((p) => [p.name, p]));
  for (const [name, definition] of live.projections) {
    if (wanted.projections.get(name) === definition) continue;
    before.push(change("projection", name, `ALTER TABLE ${table} DROP PROJECTION ${quoteIdent(name)}`, false, `drop projection ${name} of ${t}${wanted.projections.has(name) ? " (it is added again as the model says)" : ""}`, "before_columns"));
  }
  for (const [name, definition] of wanted.projections) {
    const projection = projections.get(name);
    if (projection === undefined || live.projections.get(name) === definition) continue;
    after.push(change("projection", name, `ALTER TABLE ${table} ADD ${projectionDefinition(projection)}`, false, `add projection ${name} to ${t} ${definition}`));
    after.push(change("projection", name, `ALTER TABLE ${table} MATERIALIZE PROJECTION ${quoteIdent(name)}`, false, `build projection ${name} of ${t} for the rows already stored (in the background)`));
  }
  return { before, after };
}
