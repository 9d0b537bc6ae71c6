/**
 * Parses `datamodels/*.prisma` into the model IR. All files are read together: an enum
 * may be declared in another file than the models using it, and a name is declared once
 * across all files. Every problem becomes a ConventionError at `file:line:column`; all
 * are collected, and a model with any error is left out of the result.
 *
 * ## Types
 *
 * | Prisma                          | IR (`ScalarType`)                               |
 * |---------------------------------|-------------------------------------------------|
 * | `String`                        | `{ kind: "string", lowCardinality: false }`     |
 * | `String @db.LowCardinality`     | `{ kind: "string", lowCardinality: true }`      |
 * | `String @db.FixedString(n)`     | `{ kind: "string", …, fixedLength: n }` (n >= 1, UTF-8 bytes; may combine with LowCardinality) |
 * | `String @db.Uuid` / `@db.UUID`  | `{ kind: "uuid" }`                              |
 * | `Boolean`                       | `{ kind: "bool" }`                              |
 * | `Int`                           | `{ kind: "int", bits: 32, signed: true }`       |
 * | `BigInt`                        | `{ kind: "int", bits: 64, signed: true }`       |
 * | `Int`/`BigInt @db.Int8…Int256`  | `{ kind: "int", bits: 8…256, signed: true }`    |
 * | `Int`/`BigInt @db.UInt8…UInt256`| `{ kind: "int", bits: 8…256, signed: false }`   |
 * | `Float` / `@db.Float64`         | `{ kind: "float", bits: 64 }`                   |
 * | `Float @db.Float32`             | `{ kind: "float", bits: 32 }`                   |
 * | `Decimal`                       | `{ kind: "decimal", precision: 38, scale: 9 }`  |
 * | `Decimal @db.Decimal(p, s)`     | `{ kind: "decimal", precision: p, scale: s }` (1 <= p <= 76, 0 <= s <= p) |
 * | `DateTime`                      | `{ kind: "datetime", precision: 3 }`            |
 * | `DateTime @db.DateTime64(p)`    | `{ kind: "datetime", precision: p }` (0 <= p <= 9) |
 * | `DateTime @db.Date`             | `{ kind: "date" }`                              |
 * | `Json`                          | `{ kind: "json", native: false }` (JSON text in a String column) |
 * | `Json @db.JSON`                 | `{ kind: "json", native: true }` (objects only) |
 * | `Bytes`                         | `{ kind: "bytes" }` (base64 text)               |
 * | enum `E`                        | `{ kind: "enum", name: "E", values }`           |
 *
 * `T?` sets `optional`, `T[]` sets `list`; `T?[]`/`T[]?` are rejected.
 *
 * ## Attributes
 *
 * - `@id` on one field, or `@@id([a, b])` (also `@@id(fields: [a, b])`): `id: true` on
 *   those fields and `ModelIR.id`. Id fields are required and not lists.
 * - `@default(literal)`: strings, numbers, `true`/`false`, enum values, `[...]` for lists;
 *   checked with the validator and stored un-normalized (`BigInt`/wide ints and `Decimal`
 *   keep the digits as a string; a Json default is JSON text in a string, as in Prisma).
 *   `@default(now())` on DateTime/Date, `@default(uuid())` on String/Uuid.
 *   `autoincrement()`, `cuid()`, `dbgenerated()`, `nanoid()`, `ulid()` are rejected.
 * - `@map("col")`: the column name (keeping `@map` of an old name while renaming the
 *   field keeps the column). `@@map("table")`: the table name; `igloo_*` is reserved.
 * - `@@orderBy([a, b])`: ORDER BY, as field names (like every field reference in the
 *   IR; the DDL maps them to columns); the fields must be required.
 *   Default: the id fields, else empty (`tuple()`).
 * - `@@partitionBy("expr")`: a ClickHouse expression, kept verbatim.
 * - `@@engine(MergeTree)` (default), `@@engine(ReplacingMergeTree)`,
 *   `@@engine(ReplacingMergeTree, version: f)` with `f` a required Int*, UInt*, DateTime
 *   or Date field. ReplacingMergeTree needs an ORDER BY.
 * - `@@key(f)`: the stream key, a required non-list field. Default: the id field when
 *   there is exactly one.
 * - Table options (conventions/prisma/tableOptions.ts), ClickHouse text kept verbatim
 *   after the checks that need no engine; the IR holds them only when used:
 *   - `@@ttl("expr")`: the table's TTL (`ModelIR.ttl`), e.g. `ts + INTERVAL 30 DAY`.
 *   - `@ttl("expr")` on a field: its column's TTL (`FieldIR.ttl`); not on a sort key field.
 *   - `@codec("Delta, ZSTD(3)")` on a field: its column's codecs (`FieldIR.codec`), known
 *     names as ClickHouse spells them, nothing after a compressing codec but encryption.
 *   - `@@skipIndex(name: "i", expr: "userId", type: "bloom_filter(0.01)", granularity: 4)`,
 *     any number: data-skipping indexes (`ModelIR.skipIndexes`; granularity defaults to 1).
 *   - `@@projection(name: "p", select: "SELECT ... GROUP BY ...")`, any number: projections
 *     (`ModelIR.projections`); the SELECT has no FROM.
 *   - `@@settings(name: value, ...)`: MergeTree settings (`ModelIR.settings`), values numbers,
 *     strings or true/false; `non_replicated_deduplication_window` is Igloo's own.
 *   Index and projection names are letters, digits and _, distinct within the model. A
 *   `@@streamOnly` model has no table and takes none.
 * - `///` comments directly above a model or field become its `doc`.
 *
 * Rejected: relations (model-typed fields, `@relation`), `Unsupported(...)`, composite
 * `type` blocks, `view` blocks (views live in views/*.sql), `@unique`, `@@unique`,
 * `@@index` (see `@@skipIndex`), `@updatedAt`, `@ignore`, `@@ignore`, unknown attributes and types, duplicate
 * names, names that are not identifiers, enums with no values, more than 32767 values,
 * duplicate values or attributes. `datasource` and `generator` blocks are ignored.
 */
import type { Enum, Model } from "@mrleebo/prisma-ast";
import type { ConventionError } from "../errors.ts";
import type { EnumIR, ModelIR, ModelSet } from "../datamodels/ir.ts";
import { isPrismaScalar } from "./native.ts";
import { buildModel } from "./model.ts";
import type { TypeScope } from "./field.ts";
import { DocCollector, NAME, readSchema, Reporter } from "./syntax.ts";

/** What an Enum16 column holds when its values are numbered from 1. */
const MAX_ENUM_VALUES = 32767;

interface Declared<T> {
  readonly node: T;
  readonly doc: string | undefined;
  readonly reporter: Reporter;
}

export function parseModels(files: readonly { path: string; text: string }[]): { models: ModelSet; errors: ConventionError[] } {
  const errors: ConventionError[] = [];
  const models: Declared<Model>[] = [];
  const enums: Declared<Enum>[] = [];
  const composites = new Set<string>();
  const declaredAt = new Map<string, string>();
  let incomplete = false;

  for (const file of files) {
    const reporter = new Reporter(file.path, errors);
    const read = readSchema(file.text, reporter);
    if (!read.ok) {
      incomplete = true;
      continue;
    }
    const docs = new DocCollector();
    for (const block of read.blocks) {
      if (block.type === "comment") {
        docs.comment(block);
        continue;
      }
      const doc = docs.take(reporter.ref(block).line);
      if (block.type === "break" || block.type === "datasource" || block.type === "generator") continue;
      const at = reporter.ref(block);
      if (block.type === "view") {
        reporter.error(at, `view \`${block.name}\` cannot be declared in a .prisma file`, "Views live in views/*.sql as SELECT queries.");
        continue;
      }
      if (block.type === "type") {
        composites.add(block.name);
        reporter.error(
          at,
          `composite type \`${block.name}\` is not supported; OLAP tables hold scalars and lists of scalars`,
          "Use a Json field for nested data.",
        );
        continue;
      }
      const kind = block.type === "model" ? "model" : "enum";
      if (!NAME.test(block.name)) {
        reporter.error(at, `${kind} name \`${block.name}\` must be letters, digits and _ only`);
        continue;
      }
      if (isPrismaScalar(block.name)) {
        reporter.error(at, `${kind} name \`${block.name}\` is a Prisma type name`, "Choose another name.");
        continue;
      }
      const previous = declaredAt.get(block.name);
      if (previous !== undefined) {
        reporter.error(
          at,
          `\`${block.name}\` is already declared at ${previous}`,
          "Model and enum names must be unique across all datamodels files.",
        );
        continue;
      }
      declaredAt.set(block.name, `${at.file}:${at.line}:${at.column}`);
      if (block.type === "model") models.push({ node: block, doc, reporter });
      else enums.push({ node: block, doc, reporter });
    }
  }

  const enumScope = new Map<string, EnumIR | null>();
  for (const declared of enums) enumScope.set(declared.node.name, buildEnum(declared));
  const scope: TypeScope = { enums: enumScope, models: new Set(models.map((m) => m.node.name)), composites, incomplete };

  const built: ModelIR[] = [];
  const tables = new Map<string, ModelIR>();
  for (const { node, doc, reporter } of models) {
    const model = buildModel(node, doc, scope, reporter);
    if (model === undefined) continue;
    const other = tables.get(model.table.toLowerCase());
    if (other !== undefined) {
      reporter.error(
        model.source,
        `models \`${other.name}\` and \`${model.name}\` both use table \`${model.table}\``,
        'Give one of them another name with @@map("...").',
      );
      continue;
    }
    tables.set(model.table.toLowerCase(), model);
    built.push(model);
  }
  const validEnums = [...enumScope.values()].filter((e): e is EnumIR => e !== null);
  // Enums and models are checked after all files are read; report in reading order.
  const fileOrder = new Map(files.map((file, i) => [file.path, i]));
  errors.sort(
    (a, b) =>
      (fileOrder.get(a.source.file) ?? 0) - (fileOrder.get(b.source.file) ?? 0) ||
      a.source.line - b.source.line ||
      a.source.column - b.source.column,
  );
  return { models: { models: built, enums: validEnums }, errors };
}

/** The enum, or null when it had errors (reported). */
function buildEnum({ node, doc, reporter }: Declared<Enum>): EnumIR | null {
  const before = reporter.count;
  const what = `enum \`${node.name}\``;
  const values: string[] = [];
  const seen = new Set<string>();
  for (const item of node.enumerators ?? []) {
    if (item.type === "comment" || item.type === "break") continue;
    const at = reporter.ref(item);
    if (item.type === "attribute") {
      reporter.error(at, `${what}: attribute \`@@${item.name}\` is not supported on enums`);
      continue;
    }
    if (!NAME.test(item.name)) {
      reporter.error(at, `${what}: value \`${item.name}\` must be letters, digits and _ only`);
    } else if (seen.has(item.name)) {
      reporter.error(at, `${what} lists \`${item.name}\` twice`);
    } else if (item.attributes !== undefined && item.attributes.length > 0) {
      reporter.error(
        at,
        `${what}: attributes on enum values (\`@${item.attributes[0]?.name ?? ""}\`) are not supported`,
        "The stored value is the name as written.",
      );
    } else {
      values.push(item.name);
      seen.add(item.name);
    }
  }
  const at = reporter.ref(node);
  if (values.length === 0 && reporter.count === before) reporter.error(at, `${what} has no values`);
  if (values.length > MAX_ENUM_VALUES) reporter.error(
    at,
    `${what} has ${values.length} values; at most ${MAX_ENUM_VALUES} fit an Enum16 column`,
    "Use a String @db.LowCardinality field.",
  );
  if (reporter.count > before) return null;
  return { name: node.name, values, ...(doc === undefined ? {} : { doc }), source: at };
}
