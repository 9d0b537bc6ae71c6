/**
 * One Prisma `model` to a ModelIR: its fields, then the model attributes that shape the
 * table (`@@id`, `@@map`, `@@orderBy`, `@@partitionBy`, `@@engine`, `@@key`, `@@streamOnly`,
 * `@@internal`, and the table options `@@ttl`, `@@skipIndex`, `@@projection`, `@@settings`
 * read by tableOptions.ts).
 */
import type { BlockAttribute, Model } from "@mrleebo/prisma-ast";
import type { ClickHouseText, FieldIR, ModelIR, ProjectionIR, SkipIndexIR, SourceRef, TableEngine, TableSettingIR } from "../datamodels/ir.ts";
import { buildField, type TypeScope } from "./field.ts";
import { parseProjection, parseSettings, parseSkipIndex, parseTtl } from "./tableOptions.ts";
import { type Argument, asArray, asKeyValue, DocCollector, identifier, NAME, type Reporter, stringArgument, stringLiteral } from "./syntax.ts";

/** Table names Igloo keeps for its own bookkeeping tables. */
export const RESERVED_TABLE_PREFIX = "igloo_";

export function buildModel(node: Model, doc: string | undefined, scope: TypeScope, reporter: Reporter): ModelIR | undefined {
  const before = reporter.count;
  const source = reporter.ref(node);
  const what = `model \`${node.name}\``;
  const fields: FieldIR[] = [];
  const attributes: BlockAttribute[] = [];
  const docs = new DocCollector();
  const names = new Set<string>();
  const columns = new Map<string, string>();
  // A field can fail without a new error: its enum's error was reported at the enum.
  let failed = false;
  for (const property of node.properties ?? []) {
    if (property.type === "comment") {
      docs.comment(property);
      continue;
    }
    if (property.type === "break") continue;
    if (property.type === "attribute") {
      docs.take(undefined);
      attributes.push(property);
      continue;
    }
    const fieldDoc = docs.take(reporter.ref(property).line);
    if (names.has(property.name)) {
      reporter.error(reporter.ref(property), `${what} declares field \`${property.name}\` twice`);
      continue;
    }
    names.add(property.name);
    const field = buildField(property, node.name, fieldDoc, scope, reporter);
    if (field === undefined) {
      failed = true;
      continue;
    }
    const clash = columns.get(field.column);
    if (clash !== undefined) {
      reporter.error(
        field.source,
        `fields \`${clash}\` and \`${field.name}\` of ${what} both map to column \`${field.column}\``,
        "Give one of them another @map name.",
      );
      continue;
    }
    columns.set(field.column, field.name);
    fields.push(field);
  }
  if (names.size === 0) reporter.error(source, `${what} has no fields`, "A table needs at least one column.");
  const model = applyModelAttributes(node, fields, names, attributes, reporter);
  if (failed || reporter.count > before || model === undefined) return undefined;
  return { ...model, ...(doc === undefined ? {} : { doc }), source };
}

type Shape = Omit<ModelIR, "doc" | "source">;

/**
 * `declared` holds the fields that were built; `names` all field names, including those
 * with errors: attributes naming those are skipped quietly, the field's error said it.
 */
function applyModelAttributes(
  node: Model,
  declared: FieldIR[],
  names: ReadonlySet<string>,
  attributes: readonly BlockAttribute[],
  reporter: Reporter,
): Shape | undefined {
  const what = `model \`${node.name}\``;
  const byName = new Map(declared.map((field) => [field.name, field]));
  const broken = (name: string | undefined): boolean => name !== undefined && names.has(name) && !byName.has(name);
  let fields = declared;
  let table = node.name;
  let ids = declared.filter((field) => field.id);
  let orderBy: string[] | undefined;
  let partitionBy: string | undefined;
  let streamOnly = false;
  let internal = false;
  let engine: TableEngine = { kind: "MergeTree" };
  let key: string | undefined;
  let ttl: ClickHouseText | undefined;
  const skipIndexes: SkipIndexIR[] = [];
  const projections: ProjectionIR[] = [];
  let settings: TableSettingIR[] | undefined;
  const seen = new Set<string>();

  const second = ids[1];
  if (second !== undefined) {
    reporter.error(
      second.source,
      `${what} has \`@id\` on more than one field`,
      `Use @@id([${ids.map((f) => f.name).join(", ")}]) for a compound id.`,
    );
  }

  /** Resolves field names given to an attribute; reports unknown ones. */
  const resolve = (list: readonly string[], at: SourceRef, attr: string): FieldIR[] | undefined => {
    const found: FieldIR[] = [];
    for (const name of list) {
      const field = byName.get(name);
      if (field === undefined) {
        if (!broken(name)) reporter.error(at, `${what}: \`@@${attr}\` names \`${name}\`, which is not a field of the model`);
        return undefined;
      }
      if (found.includes(field)) {
        reporter.error(at, `${what}: \`@@${attr}\` names \`${name}\` twice`);
        return undefined;
      }
      found.push(field);
    }
    return found;
  };

  for (const attr of attributes) {
    const at = reporter.ref(attr);
    const name = attr.group === undefined ? attr.name : `${attr.group}.${attr.name}`;
    if (seen.has(name) && !REPEATABLE.has(name)) {
      reporter.error(at, `${what} has \`@@${name}\` twice`);
      continue;
    }
    seen.add(name);
    const args = attr.args ?? [];
    switch (name) {
      case "id": {
        // `@@id([a, b])` or Prisma's long form `@@id(fields: [a, b])`.
        const named = asKeyValue(args[0]?.value);
        const listArg = named === undefined ? args[0]?.value : named.key === "fields" ? named.value : undefined;
        const list = args.length === 1 ? nameList(listArg) : undefined;
        if (list === undefined || list.length === 0) {
          reporter.error(at, `${what}: \`@@id\` takes a list of field names, e.g. @@id([userId, ts])`);
          break;
        }
        if (ids.length > 0) {
          reporter.error(at, `${what} has both \`@id\` and \`@@id\``, "Declare the id once: @id on one field, or @@id([...]) for several.");
          break;
        }
        const found = resolve(list, at, "id");
        if (found === undefined) break;
        for (const field of found) {
          if (field.optional || field.list) {
            reporter.error(at, `${what}: id field \`${field.name}\` cannot be ${field.optional ? "optional" : "a list"}`);
          }
        }
        ids = found;
        fields = declared.map((field) => (found.includes(field) ? { ...field, id: true } : field));
        break;
      }
      case "map": {
        const mapped = stringArgument(args, "name");
        if (mapped === undefined || !NAME.test(mapped)) {
          reporter.error(at, `${what}: \`@@map\` takes the table name as a string of letters, digits and _, e.g. @@map("page_views")`);
        } else {
          table = mapped;
        }
        break;
      }
      case "orderBy": {
        const list = args.length === 1 ? nameList(args[0]?.value) : undefined;
        if (list === undefined) {
          reporter.error(at, `${what}: \`@@orderBy\` takes a list of field names, e.g. @@orderBy([ts, userId])`);
          break;
        }
        const found = resolve(list, at, "orderBy");
        const nullable = found?.find((field) => field.optional);
        if (nullable !== undefined) {
          reporter.error(
            at,
            `${what}: \`@@orderBy\` field \`${nullable.name}\` is optional; ORDER BY columns cannot be null`,
            "Make it required, with a @default if needed.",
          );
        } else if (found !== undefined) {
          orderBy = found.map((field) => field.name);
        }
        break;
      }
      case "partitionBy": {
        const expression = args.length === 1 ? stringLiteral(args[0]?.value) : undefined;
        if (expression === undefined || expression.trim() === "") {
          reporter.error(at, `${what}: \`@@partitionBy\` takes a ClickHouse expression in a string, e.g. @@partitionBy("toYYYYMM(ts)")`);
        } else {
          partitionBy = expression;
        }
        break;
      }
      case "engine": {
        const parsed = parseEngine(args.map((arg) => arg.value), byName);
        if (typeof parsed !== "string") engine = parsed;
        else if (!broken(identifier(asKeyValue(args[1]?.value)?.value))) reporter.error(at, `${what}: ${parsed}`);
        break;
      }
      case "key": {
        const named = args.length === 1 ? identifier(args[0]?.value) : undefined;
        const field = byName.get(named ?? "");
        if (broken(named)) break;
        if (field === undefined) {
          reporter.error(at, `${what}: \`@@key\` takes the name of one field, e.g. @@key(userId)`);
        } else if (field.optional || field.list) {
          reporter.error(
            at,
            `${what}: \`@@key\` field \`${field.name}\` cannot be ${field.optional ? "optional" : "a list"}; every record needs one key`,
          );
        } else {
          key = field.name;
        }
        break;
      }
      case "streamOnly":
        if (args.length > 0) reporter.error(at, `${what}: \`@@streamOnly\` takes no arguments`);
        else streamOnly = true;
        break;
      case "internal":
        if (args.length > 0) reporter.error(at, `${what}: \`@@internal\` takes no arguments`);
        else internal = true;
        break;
      case "ttl": {
        const parsed = parseTtl(args, at, "@@ttl");
        if ("problem" in parsed) reporter.error(at, `${what}: ${parsed.problem}`, parsed.hint);
        else ttl = parsed;
        break;
      }
      case "skipIndex": {
        const index = parseSkipIndex(attr, at, what, reporter);
        if (index !== undefined) skipIndexes.push(index);
        break;
      }
      case "projection": {
        const projection = parseProjection(attr, at, what, reporter);
        if (projection !== undefined) projections.push(projection);
        break;
      }
      case "settings":
        settings = parseSettings(attr, at, what, reporter);
        break;
      case "index":
        reporter.error(
          at,
          `${what}: \`@@index\` is not supported; OLAP tables keep no secondary indexes that find single rows`,
          '@@orderBy chooses the sort key queries use; for a data-skipping index, which lets the engine skip blocks of rows, write @@skipIndex(name: "idx_a", expr: "a", type: "minmax").',
        );
        break;
      case "unique":
      case "fulltext":
        reporter.error(
          at,
          `${what}: \`@@${name}\` is not supported; OLAP tables don't enforce uniqueness or keep secondary indexes`,
          "Remove it; to keep one row per id, use @id with @@engine(ReplacingMergeTree). @@orderBy chooses the sort key queries use.",
        );
        break;
      case "ignore":
        reporter.error(at, `${what}: \`@@ignore\` is not supported`, "Remove the model instead.");
        break;
      default:
        reporter.error(
          at,
          `${what}: unknown attribute \`@@${name}\``,
          "Model attributes are @@id, @@map, @@orderBy, @@partitionBy, @@engine, @@key, @@streamOnly and @@internal, and the table options @@ttl, @@skipIndex, @@projection and @@settings.",
        );
    }
  }

  if (table.toLowerCase().startsWith(RESERVED_TABLE_PREFIX)) {
    const at = reporter.ref(attributes.find((attr) => attr.name === "map") ?? node);
    reporter.error(
      at,
      `${what}: table name \`${table}\` starts with \`${RESERVED_TABLE_PREFIX}\`, which is reserved for Igloo's own tables`,
      'Rename the model or choose another name with @@map("...").',
    );
  }
  const finalOrderBy = orderBy ?? ids.map((field) => field.name);
  if (engine.kind === "ReplacingMergeTree" && finalOrderBy.length === 0 && names.size === byName.size) {
    const at = reporter.ref(attributes.find((attr) => attr.name === "engine"));
    reporter.error(
      at,
      `${what}: ReplacingMergeTree needs a non-empty ORDER BY, it replaces rows with equal sort keys`,
      "Add @id to the identifying field or @@orderBy([...]).",
    );
  }
  // ClickHouse sorts by no JSON column, so the table could not be created.
  for (const name of finalOrderBy) {
    const field = byName.get(name);
    if (field?.type.kind !== "json" || !field.type.native) continue;
    const by = orderBy !== undefined ? "`@@orderBy`" : field.id && ids.length === 1 && !seen.has("id") ? "`@id`" : "`@@id`";
    const at = by === "`@id`" ? field.source : reporter.ref(attributes.find((attr) => attr.name === (orderBy !== undefined ? "orderBy" : "id")));
    reporter.error(
      at,
      `${what}: field \`${field.name}\` (Json @db.JSON) cannot be in the table's sort key (${by}): the engine orders by no JSON column`,
      "Sort by other fields (@@orderBy([...])), or store the value as Json text (without @db.JSON).",
    );
  }
  checkTableOptions(what, { fields, orderBy: finalOrderBy, streamOnly, ttl, skipIndexes, projections, settings }, reporter);
  const streamKey = key ?? (ids.length === 1 ? ids[0]?.name : undefined);
  return {
    name: node.name,
    table,
    fields,
    id: ids.map((field) => field.name),
    orderBy: finalOrderBy,
    ...(partitionBy === undefined ? {} : { partitionBy }),
    engine,
    ...(streamKey === undefined ? {} : { key: streamKey }),
    ...(streamOnly ? { streamOnly } : {}),
    ...(internal ? { internal } : {}),
    ...(ttl === undefined ? {} : { ttl }),
    ...(skipIndexes.length === 0 ? {} : { skipIndexes }),
    ...(projections.length === 0 ? {} : { projections }),
    ...(settings === undefined || settings.length === 0 ? {} : { settings }),
  };
}

/** Attributes a model may carry more than once. */
const REPEATABLE = new Set(["skipIndex", "projection"]);

/** What holds across a model's table options: a table to hold them, distinct names, no TTL on a sort key column. */
function checkTableOptions(
  what: string,
  model: Pick<ModelIR, "fields" | "orderBy" | "streamOnly" | "ttl" | "skipIndexes" | "projections" | "settings">,
  reporter: Reporter,
): void {
  const options = [model.ttl, ...(model.skipIndexes ?? []), ...(model.projections ?? []), ...(model.settings ?? []).slice(0, 1), ...model.fields.flatMap((f) => [f.codec, f.ttl])];
  const first = options.find((option) => option !== undefined);
  if (model.streamOnly && first !== undefined) {
    reporter.error(first.source, `${what} is \`@@streamOnly\`: it has no table, so no table options`, "Remove the option, or @@streamOnly.");
  }
  const names = new Map<string, string>();
  for (const [kind, item] of [...(model.skipIndexes ?? []).map((i) => ["index", i] as const), ...(model.projections ?? []).map((p) => ["projection", p] as const)]) {
    const other = names.get(item.name);
    if (other !== undefined) reporter.error(item.source, `${what}: ${kind} name \`${item.name}\` is already the name of ${other === "index" ? "an index" : "a projection"}`, "Give each @@skipIndex and @@projection its own name.");
    else names.set(item.name, kind);
  }
  for (const field of model.fields) {
    if (field.ttl === undefined || !model.orderBy.includes(field.name)) continue;
    reporter.error(field.ttl.source, `${what}: field \`${field.name}\` is in the table's sort key, which the engine keeps: it takes no @ttl`, "Remove @ttl from it, or take it out of @@orderBy/@id.");
  }
}

/** `[a, b]` or a single name. */
function nameList(arg: Argument | undefined): string[] | undefined {
  const names = (asArray(arg) ?? [arg]).map((item) => identifier(item));
  return names.every((name): name is string => name !== undefined) ? names : undefined;
}

const VERSION_KINDS = new Set(["int", "datetime", "date"]);

function parseEngine(args: readonly Argument[], byName: ReadonlyMap<string, FieldIR>): TableEngine | string {
  const [first, second, ...rest] = args;
  const kind = identifier(first);
  const usage = "write @@engine(MergeTree), @@engine(ReplacingMergeTree) or @@engine(ReplacingMergeTree, version: field)";
  if (rest.length > 0 || (kind !== "MergeTree" && kind !== "ReplacingMergeTree")) return `unknown table engine; ${usage}`;
  if (second === undefined) return { kind };
  const version = asKeyValue(second);
  if (kind !== "ReplacingMergeTree" || version?.key !== "version") return `unexpected engine argument; ${usage}`;
  const field = byName.get(identifier(version.value) ?? "");
  if (field === undefined) return "the engine `version:` must name a field of the model";
  if (!VERSION_KINDS.has(field.type.kind) || field.optional || field.list) {
    return `version field \`${field.name}\` must be a required integer, DateTime or Date field; ReplacingMergeTree keeps the row with the highest version`;
  }
  return { kind, version: field.name };
}
