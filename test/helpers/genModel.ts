/**
 * Random models over the README's whole type and attribute table (Data models: Type
 * mapping, Attributes), for the generative round-trip suite: every Prisma scalar and
 * `@db` width, DateTime64 precisions, Decimal(p, s), enums (Enum8 and Enum16 sizes),
 * optional fields, lists, `@map`, `@@map`, `@default`, `@id` and `@@id`, `@@orderBy`,
 * `@@key`, `///` docs. Deterministic from a seed (genRandom.ts).
 *
 * The description here is the test's own, written from the README; it never imports
 * Igloo's parser or IR, so a model the parser reads differently shows up as a failure.
 */
import { defaultLiteral, type Expect } from "./genValues.ts";
import { Rng } from "./genRandom.ts";

export type IntBits = 8 | 16 | 32 | 64 | 128 | 256;

export type GenScalar =
  | { readonly kind: "string"; readonly lowCardinality: boolean; readonly fixed?: number }
  | { readonly kind: "uuid" }
  | { readonly kind: "bool" }
  | { readonly kind: "int"; readonly bits: IntBits; readonly signed: boolean; readonly explicit: boolean }
  | { readonly kind: "float"; readonly bits: 32 | 64 }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number; readonly explicit: boolean }
  | { readonly kind: "datetime"; readonly precision: number; readonly explicit: boolean }
  | { readonly kind: "date" }
  | { readonly kind: "json"; readonly native: boolean }
  | { readonly kind: "bytes" }
  | { readonly kind: "enum"; readonly name: string; readonly values: readonly string[] };

export type GenDefault =
  | { readonly kind: "literal"; readonly prisma: string; readonly expected: Expect }
  | { readonly kind: "now" }
  | { readonly kind: "uuid" };

export interface GenField {
  readonly name: string;
  /** The column (`@map`), else the name. */
  readonly column: string;
  readonly mapped: boolean;
  readonly type: GenScalar;
  readonly optional: boolean;
  readonly list: boolean;
  readonly id: boolean;
  readonly default?: GenDefault;
  readonly doc?: string;
}

export interface GenEnum {
  readonly name: string;
  readonly values: readonly string[];
}

export interface GenModel {
  readonly name: string;
  /** `@@map`, else the name. */
  readonly table: string;
  readonly fields: readonly GenField[];
  readonly enums: readonly GenEnum[];
  /** The String field every record holds a unique value in; rows are matched by it. */
  readonly keyField: string;
  /** `@@id([...])` when the model has a compound id. */
  readonly compoundId?: readonly string[];
  readonly orderBy?: readonly string[];
  readonly streamKey?: string;
  readonly doc?: string;
  /** Its `.prisma` text (models and their enums); `enumsApart` are in a file of their own. */
  readonly prisma: string;
  readonly enumsPrisma: string;
}

/**
 * What the engine can hold. chDB holds everything; an old ClickHouse server lacks some
 * types (its capabilities are probed by the test, and the README lists what it cannot do).
 */
export interface GenCaps {
  readonly wideInts: boolean;
  readonly decimal: boolean;
  readonly bool: boolean;
  readonly dateTime64: boolean;
  readonly date32: boolean;
  readonly nativeJson: boolean;
}

export const ALL_TYPES: GenCaps = { wideInts: true, decimal: true, bool: true, dateTime64: true, date32: true, nativeJson: true };

const WORDS = ["user", "amount", "price", "note", "tag", "flag", "count", "score", "ratio", "payload", "blob", "status", "kind", "level", "created", "day", "ref", "code", "label", "total", "meta", "item", "extra", "city", "ts", "value", "size", "owner", "source", "region"];
/** Names that are keywords or members elsewhere: SQL, Prisma, JavaScript objects. */
const AWKWARD_NAMES = ["select", "from", "order", "group", "key", "index", "table", "default", "values", "format", "settings", "type", "model", "enum", "constructor", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "length", "name", "prototype", "then", "data", "meta", "error"];
const AWKWARD_COLUMNS = ["select", "order", "constructor", "toString", "_private", "_", "Mixed_Case", "x1", "hasOwnProperty", "valueOf", "where"];
const DOCS = ["An amount in cents.", "Contains */ a comment end, `backticks` and ${template}.", "Unicode: é ☃ 😀 and a \\ backslash.", "Several words about this field"];

function pascal(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** An identifier that is not in `taken` (checked case-insensitively: columns compare case-sensitively, but keep it readable). */
function fresh(rng: Rng, taken: Set<string>, make: () => string): string {
  for (let attempt = 0; ; attempt++) {
    const candidate = attempt < 20 ? make() : `${make()}${attempt}`;
    if (!taken.has(candidate)) {
      taken.add(candidate);
      return candidate;
    }
  }
}

/**
 * Every row of the README's type table, as keys `chooseScalar` takes: each width, each
 * DateTime64 precision, Decimal's edges, Enum8 and Enum16. A bounded run spreads them over
 * its models, so it covers the whole table whatever the seed.
 */
export function coverageKeys(caps: GenCaps): string[] {
  const keys = ["string", "lowCardinality", "fixed", "fixedLow", "uuid", "float32", "float64", "json", "bytes", "enum", "enum16"];
  if (caps.bool) keys.push("bool");
  for (const bits of [8, 16, 32, 64, 128, 256]) {
    if (bits > 64 && !caps.wideInts) continue;
    keys.push(`int:${bits}:s`, `int:${bits}:u`);
  }
  if (caps.decimal) keys.push("decimal:38:9:default", "decimal:1:0", "decimal:1:1", "decimal:9:4", "decimal:18:18", "decimal:19:0", "decimal:38:2", "decimal:39:20", "decimal:76:0", "decimal:76:38");
  if (caps.dateTime64) for (let p = 0; p <= 9; p++) keys.push(`datetime:${p}`);
  if (caps.dateTime64) keys.push("datetime:3:default");
  if (caps.date32) keys.push("date");
  if (caps.nativeJson) keys.push("jsonNative");
  return keys;
}

function chooseScalar(rng: Rng, caps: GenCaps, enums: GenEnum[], makeEnum: (size?: number) => GenEnum, key?: string): GenScalar {
  if (key !== undefined) {
    const [head, a, b, c] = key.split(":");
    switch (head) {
      case "fixedLow":
        return { kind: "string", lowCardinality: true, fixed: rng.int(1, 12) };
      case "float32":
        return { kind: "float", bits: 32 };
      case "float64":
        return { kind: "float", bits: 64 };
      case "enum16": {
        const e = makeEnum(rng.pick([128, 200]));
        return { kind: "enum", name: e.name, values: e.values };
      }
      case "int": {
        const bits = Number(a) as IntBits;
        const signed = b === "s";
        return { kind: "int", bits, signed, explicit: !((bits === 32 || bits === 64) && signed) || rng.chance(0.3) };
      }
      case "decimal":
        return { kind: "decimal", precision: Number(a), scale: Number(b), explicit: c !== "default" };
      case "datetime":
        return { kind: "datetime", precision: Number(a), explicit: b !== "default" };
    }
  }
  const kind = key ?? rng.weighted<string>([
    [10, "string"],
    [3, "lowCardinality"],
    [3, "fixed"],
    [4, "uuid"],
    [caps.bool ? 4 : 0, "bool"],
    [8, "int"],
    [8, "wide"],
    [5, "float"],
    [caps.decimal ? 8 : 0, "decimal"],
    [caps.dateTime64 ? 10 : 0, "datetime"],
    [caps.date32 ? 4 : 0, "date"],
    [4, "json"],
    [caps.nativeJson ? 3 : 0, "jsonNative"],
    [3, "bytes"],
    [6, "enum"],
  ]);
  switch (kind) {
    case "string":
      return { kind: "string", lowCardinality: false };
    case "lowCardinality":
      return { kind: "string", lowCardinality: true };
    case "fixed":
      return { kind: "string", lowCardinality: rng.chance(0.2), fixed: rng.weighted([[3, rng.int(1, 4)], [2, rng.int(5, 40)], [1, 36]]) };
    case "uuid":
      return { kind: "uuid" };
    case "bool":
      return { kind: "bool" };
    case "int": {
      const bits = rng.pick([8, 16, 32] as const);
      const signed = rng.chance(0.5);
      // `Int` alone is Int32; `@db.Int32` spelled out means the same.
      return { kind: "int", bits, signed, explicit: !(bits === 32 && signed) || rng.chance(0.2) };
    }
    case "wide": {
      const bits = caps.wideInts ? rng.pick([64, 64, 128, 256] as const) : 64;
      const signed = rng.chance(0.5);
      return { kind: "int", bits, signed, explicit: !(bits === 64 && signed) || rng.chance(0.2) };
    }
    case "float":
      return { kind: "float", bits: rng.chance(0.4) ? 32 : 64 };
    case "decimal": {
      if (rng.chance(0.25)) return { kind: "decimal", precision: 38, scale: 9, explicit: false };
      // Each width's edges (Decimal32/64/128/256 end at 9/18/38/76 digits), and the rest.
      const precision = rng.weighted([[4, rng.pick([1, 9, 10, 18, 19, 38, 39, 76])], [3, rng.int(1, 76)]]);
      const scale = rng.weighted([[2, 0], [2, precision], [1, Math.min(precision, 2)], [4, rng.int(0, precision)]]);
      return { kind: "decimal", precision, scale, explicit: true };
    }
    case "datetime":
      return rng.chance(0.25) ? { kind: "datetime", precision: 3, explicit: false } : { kind: "datetime", precision: rng.int(0, 9), explicit: true };
    case "date":
      return { kind: "date" };
    case "json":
      return { kind: "json", native: false };
    case "jsonNative":
      return { kind: "json", native: true };
    case "bytes":
      return { kind: "bytes" };
    case "enum": {
      const e = enums.length > 0 && rng.chance(0.3) ? rng.pick(enums) : makeEnum();
      return { kind: "enum", name: e.name, values: e.values };
    }
    default:
      throw new Error(`unknown type key ${kind}`);
  }
}

function typeText(type: GenScalar): { prisma: string; db: string[] } {
  switch (type.kind) {
    case "string": {
      const db: string[] = [];
      if (type.fixed !== undefined) db.push(`@db.FixedString(${type.fixed})`);
      if (type.lowCardinality) db.push("@db.LowCardinality");
      return { prisma: "String", db };
    }
    case "uuid":
      return { prisma: "String", db: ["@db.Uuid"] };
    case "bool":
      return { prisma: "Boolean", db: [] };
    case "int": {
      const prisma = type.bits <= 32 ? "Int" : "BigInt";
      return { prisma, db: type.explicit ? [`@db.${type.signed ? "Int" : "UInt"}${type.bits}`] : [] };
    }
    case "float":
      return { prisma: "Float", db: type.bits === 32 ? ["@db.Float32"] : [] };
    case "decimal":
      return { prisma: "Decimal", db: type.explicit ? [`@db.Decimal(${type.precision}, ${type.scale})`] : [] };
    case "datetime":
      return { prisma: "DateTime", db: type.explicit ? [`@db.DateTime64(${type.precision})`] : [] };
    case "date":
      return { prisma: "DateTime", db: ["@db.Date"] };
    case "json":
      return { prisma: "Json", db: type.native ? ["@db.JSON"] : [] };
    case "bytes":
      return { prisma: "Bytes", db: [] };
    case "enum":
      return { prisma: type.name, db: [] };
  }
}

/** Fields that may be in an id or ORDER BY: required scalars the engine can sort. */
function sortable(field: GenField): boolean {
  return !field.optional && !field.list && !(field.type.kind === "json" && field.type.native);
}

export interface ModelOptions {
  /** Makes model, enum and table names unique on a shared engine, e.g. `G3k1`. */
  readonly prefix: string;
  readonly caps: GenCaps;
  readonly minFields?: number;
  readonly maxFields?: number;
  /** Type keys (coverageKeys) the model must have a field of, besides its random ones. */
  readonly include?: readonly string[];
}

export function generateModel(rng: Rng, options: ModelOptions): GenModel {
  const { prefix, caps } = options;
  const name = `${prefix}${pascal(rng.pick(WORDS))}`;
  const table = rng.chance(0.3) ? rng.pick([`${prefix.toLowerCase()}_rows`, `_${prefix.toLowerCase()}_t`, `${prefix}Table`]) : name;
  const enums: GenEnum[] = [];
  const makeEnum = (size?: number): GenEnum => {
    const count = size ?? rng.weighted([[2, 1], [14, rng.int(2, 6)], [1, 127], [1, 128], [1, rng.int(129, 300)]]);
    const values = new Set<string>();
    while (values.size < count) {
      values.add(
        rng.weighted([
          [3, `${rng.pick(WORDS)}${values.size}`],
          [2, `${rng.pick(WORDS).toUpperCase()}_${values.size}`],
          [1, `v${values.size}`],
          [1, pascal(rng.pick(AWKWARD_NAMES))],
        ]),
      );
    }
    const e = { name: `${prefix}E${enums.length}`, values: rng.shuffle([...values]) };
    enums.push(e);
    return e;
  };

  const names = new Set<string>();
  const fieldCount = rng.int(options.minFields ?? 3, options.maxFields ?? 12);
  const keyName = fresh(rng, names, () => rng.pick(["id", "key", "eventId", "rowKey", "k"]));
  type Draft = { name: string; type: GenScalar; optional: boolean; list: boolean; doc?: string };
  const drafts: Draft[] = [{ name: keyName, type: { kind: "string", lowCardinality: false }, optional: false, list: false }];
  const include = options.include ?? [];
  for (let i = 0; i < fieldCount + include.length; i++) {
    const fieldName = fresh(rng, names, () => (rng.chance(0.15) ? rng.pick(AWKWARD_NAMES) : `${rng.pick(WORDS)}${rng.chance(0.5) ? pascal(rng.pick(WORDS)) : ""}`));
    const type = chooseScalar(rng, caps, enums, makeEnum, include[i]);
    const shape = rng.weighted([[5, "required"], [3, "optional"], [2, "list"]]);
    drafts.push({ name: fieldName, type, optional: shape === "optional", list: shape === "list", ...(rng.chance(0.1) ? { doc: rng.pick(DOCS) } : {}) });
  }
  rng.shuffle(drafts);

  // Columns: most fields keep their name; some are mapped, to awkward names or to another field's name.
  const columns = new Set<string>();
  const columnOf = new Map<string, string>();
  const swap = rng.chance(0.15) ? rng.shuffle(drafts.filter((d) => d.name !== keyName)).slice(0, 2) : [];
  if (swap.length === 2) {
    columnOf.set(swap[0]!.name, swap[1]!.name);
    columnOf.set(swap[1]!.name, swap[0]!.name);
    columns.add(swap[0]!.name).add(swap[1]!.name);
  }
  for (const draft of drafts) if (!columnOf.has(draft.name) && !rng.chance(0.15)) {
    if (!columns.has(draft.name)) {
      columnOf.set(draft.name, draft.name);
      columns.add(draft.name);
    }
  }
  for (const draft of drafts) {
    if (columnOf.has(draft.name)) continue;
    // Not another field's own name: that field keeps it.
    const taken = new Set([...columns, ...drafts.map((d) => d.name)]);
    const column = fresh(rng, taken, () => rng.weighted([[2, `col_${draft.name}`], [1, `_${draft.name}`], [1, rng.pick(AWKWARD_COLUMNS)]]));
    columnOf.set(draft.name, column);
    columns.add(column);
  }

  // Identity: the key alone, the key with another field, another field alone, or none.
  const idShape = rng.weighted([[4, "key"], [2, "compound"], [2, "other"], [3, "none"]]);
  const provisional = drafts.map((d) => ({ ...d, column: columnOf.get(d.name)!, mapped: columnOf.get(d.name) !== d.name, id: false }) as GenField);
  const others = provisional.filter((f) => f.name !== keyName && sortable(f));
  let compoundId: string[] | undefined;
  let singleId: string | undefined;
  if (idShape === "key") singleId = keyName;
  else if (idShape === "other" && others.length > 0) singleId = rng.pick(others).name;
  else if (idShape === "compound" && others.length > 0) compoundId = rng.shuffle([keyName, rng.pick(others).name]);
  const ids = new Set(compoundId ?? (singleId === undefined ? [] : [singleId]));

  const fields: GenField[] = provisional.map((field) => {
    const id = ids.has(field.name);
    const fallback = !id && rng.chance(0.2) ? defaultLiteral(field.type, field.list, rng) : undefined;
    return { ...field, id, ...(fallback === undefined ? {} : { default: fallback }) };
  });

  const orderBy = rng.chance(0.15) ? rng.shuffle(fields.filter(sortable)).slice(0, rng.int(1, 2)).map((f) => f.name) : undefined;
  const keyCandidates = fields.filter((f) => !f.optional && !f.list);
  const streamKey = rng.chance(0.15) && keyCandidates.length > 0 ? rng.pick(keyCandidates).name : undefined;
  const doc = rng.chance(0.3) ? rng.pick(DOCS) : undefined;

  const model = {
    name,
    table,
    fields,
    enums,
    keyField: keyName,
    ...(compoundId === undefined ? {} : { compoundId }),
    ...(orderBy === undefined || orderBy.length === 0 ? {} : { orderBy }),
    ...(streamKey === undefined ? {} : { streamKey }),
    ...(doc === undefined ? {} : { doc }),
  };
  return { ...model, prisma: renderModel(model, rng), enumsPrisma: enums.map(renderEnum).join("\n") };
}

function renderEnum(e: GenEnum): string {
  return `enum ${e.name} {\n${e.values.map((v) => `  ${v}`).join("\n")}\n}\n`;
}

function renderModel(model: Omit<GenModel, "prisma" | "enumsPrisma">, rng: Rng): string {
  const lines: string[] = [];
  if (model.doc !== undefined) lines.push(`/// ${model.doc}`);
  lines.push(`model ${model.name} {`);
  for (const field of model.fields) {
    const { prisma, db } = typeText(field.type);
    const attrs = [...db];
    if (field.id && model.compoundId === undefined) attrs.push("@id");
    if (field.mapped) attrs.push(`@map(${JSON.stringify(field.column)})`);
    if (field.default !== undefined) {
      attrs.push(field.default.kind === "literal" ? `@default(${field.default.prisma})` : `@default(${field.default.kind}())`);
    }
    rng.shuffle(attrs);
    if (field.doc !== undefined) lines.push(`  /// ${field.doc}`);
    lines.push(`  ${field.name} ${prisma}${field.list ? "[]" : ""}${field.optional ? "?" : ""}${attrs.length > 0 ? ` ${attrs.join(" ")}` : ""}`);
  }
  const blockAttrs: string[] = [];
  if (model.compoundId !== undefined) blockAttrs.push(`@@id([${model.compoundId.join(", ")}])`);
  if (model.table !== model.name) blockAttrs.push(`@@map(${JSON.stringify(model.table)})`);
  if (model.orderBy !== undefined) blockAttrs.push(`@@orderBy([${model.orderBy.join(", ")}])`);
  if (model.streamKey !== undefined) blockAttrs.push(`@@key(${model.streamKey})`);
  if (blockAttrs.length > 0) lines.push("", ...rng.shuffle(blockAttrs).map((a) => `  ${a}`));
  lines.push("}", "");
  return lines.join("\n");
}

/** A field's type as the README's table writes it, for messages: `Decimal @db.Decimal(9, 2)[]?`. */
export function describeField(field: GenField): string {
  const { prisma, db } = typeText(field.type);
  return `${prisma}${field.list ? "[]" : ""}${field.optional ? "?" : ""}${db.length > 0 ? ` ${db.join(" ")}` : ""}`;
}
