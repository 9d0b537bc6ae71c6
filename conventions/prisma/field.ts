/**
 * One Prisma field to a FieldIR: its type (scalar, enum, `@db` refinement), `@id`,
 * `@map`, `@default`, and the column options `@codec` and `@ttl` (tableOptions.ts).
 * Everything Prisma allows that an OLAP table can't honour is rejected here with the
 * reason and an alternative.
 */
import type { Attribute, Field, Func } from "@mrleebo/prisma-ast";
import type { ClickHouseText, DefaultValue, EnumIR, FieldIR, ScalarType, SourceRef } from "../datamodels/ir.ts";
import { suggest } from "../datamodels/messages.ts";
import { applyNative, isPrismaScalar, PRISMA_SCALARS, scalarOf } from "./native.ts";
import { type Argument, asArray, asFunction, asKeyValue, identifier, NAME, type Reporter, stringArgument, stringLiteral } from "./syntax.ts";
import { checkDefault } from "../datamodels/validator.ts";
import { parseCodec, parseTtl } from "./tableOptions.ts";

/** What field types can refer to, across all files. */
export interface TypeScope {
  /** Valid enums, and `null` for declared enums that had errors (already reported). */
  readonly enums: ReadonlyMap<string, EnumIR | null>;
  readonly models: ReadonlySet<string>;
  readonly composites: ReadonlySet<string>;
  /** Some file failed to parse, so an unknown type may be declared there. */
  readonly incomplete: boolean;
}

/** Returns the field, or undefined when it had errors (reported) and the model must go. */
export function buildField(
  node: Field,
  model: string,
  doc: string | undefined,
  scope: TypeScope,
  reporter: Reporter,
): FieldIR | undefined {
  const before = reporter.count;
  const source = reporter.ref(node);
  const what = `field \`${node.name}\` of model \`${model}\``;
  if (!NAME.test(node.name)) {
    reporter.error(source, `${what}: a name must be letters, digits and _ only`);
  }
  const declared = typeof node.fieldType === "string" ? node.fieldType : node.fieldType.name;
  let type = resolveType(node, what, scope, reporter);
  if (type === undefined) return undefined;
  const list = node.array === true;
  const optional = node.optional === true;

  let column = node.name;
  let id = false;
  let fallback: DefaultValue | undefined;
  let codec: ClickHouseText | undefined;
  let ttl: ClickHouseText | undefined;
  let nativeSeen: string | undefined;
  const seen = new Set<string>();
  for (const attr of node.attributes ?? []) {
    const at = reporter.ref(attr);
    const full = attr.group === undefined ? attr.name : `${attr.group}.${attr.name}`;
    if (seen.has(full)) {
      reporter.error(at, `${what} has \`@${full}\` twice`);
      continue;
    }
    seen.add(full);
    if (attr.group === "db") {
      // LowCardinality(FixedString(n)) is the one ClickHouse type made of two attributes.
      const pair = new Set([nativeSeen, attr.name]);
      if (nativeSeen !== undefined && !(pair.has("LowCardinality") && pair.has("FixedString"))) {
        reporter.error(
          at,
          `${what} has both \`@db.${nativeSeen}\` and \`@db.${attr.name}\``,
          "Keep one @db attribute (only LowCardinality combines, with FixedString).",
        );
        continue;
      }
      nativeSeen = attr.name;
      const result = applyNative(attr.name, (attr.args ?? []).map((arg) => arg.value), declared, type);
      if (result.ok) type = result.type;
      else reporter.error(at, `${what}: ${result.detail}`, result.hint);
      continue;
    }
    switch (full) {
      case "id":
        id = true;
        if (attr.args !== undefined && attr.args.length > 0) reporter.error(at, `${what}: \`@id\` takes no arguments here`);
        if (optional || list) reporter.error(at, `${what} is an id and so cannot be ${optional ? "optional" : "a list"}`);
        break;
      case "map": {
        const name = stringArgument(attr.args, "name");
        if (name === undefined || !NAME.test(name)) {
          reporter.error(at, `${what}: \`@map\` takes the column name as a string of letters, digits and _, e.g. @map("user_id")`);
        } else if (name === "__proto__") {
          // Rows travel as JSON objects keyed by column: this key is refused by ingest (a
          // prototype-pollution payload) and lost by JavaScript objects, so its values would be.
          reporter.error(at, `${what}: \`__proto__\` cannot be a column name`, 'Choose another name, e.g. @map("proto").');
        } else {
          column = name;
        }
        break;
      }
      case "default":
        // Checked once the type is final: `@db` attributes may follow `@default`.
        break;
      case "codec": {
        const text = (attr.args ?? []).length === 1 ? stringLiteral(attr.args?.[0]?.value) : undefined;
        const parsed = text === undefined ? { problem: "`@codec` takes the codecs in a string", hint: 'e.g. @codec("ZSTD(3)") or @codec("Delta, ZSTD")' } : parseCodec(text);
        if ("codec" in parsed) codec = { text: parsed.codec, source: at };
        else reporter.error(at, `${what}: ${parsed.problem}`, parsed.hint);
        break;
      }
      case "ttl": {
        const parsed = parseTtl(attr.args ?? [], at, "@ttl");
        if ("problem" in parsed) reporter.error(at, `${what}: ${parsed.problem}`, parsed.hint);
        else ttl = parsed;
        break;
      }
      case "unique":
        reporter.error(
          at,
          `${what}: OLAP tables don't enforce uniqueness, so \`@unique\` can't be honoured`,
          "Remove it; to keep one row per id, use @id with @@engine(ReplacingMergeTree).",
        );
        break;
      case "updatedAt":
        reporter.error(
          at,
          `${what}: \`@updatedAt\` is not supported; records are written once, not updated`,
          "Use @default(now()) to stamp the ingest time.",
        );
        break;
      case "ignore":
        reporter.error(at, `${what}: \`@ignore\` is not supported`, "Remove the field from the model instead.");
        break;
      case "relation":
        reporter.error(
          at,
          `${what}: relations are not supported; OLAP tables hold scalars and lists of scalars`,
          "Store the related id as a scalar field.",
        );
        break;
      default:
        reporter.error(at, `${what}: unknown attribute \`@${full}\``, "Field attributes are @id, @default, @map, @db.*, @codec and @ttl.");
    }
  }
  const defaultAttr = node.attributes?.find((attr) => attr.group === undefined && attr.name === "default");
  if (defaultAttr !== undefined && reporter.count === before) {
    fallback = buildDefault(defaultAttr, { type, list, optional }, what, reporter);
  }
  if (reporter.count > before) return undefined;
  return {
    name: node.name,
    column,
    type,
    optional,
    list,
    ...(fallback === undefined ? {} : { default: fallback }),
    id,
    ...(codec === undefined ? {} : { codec }),
    ...(ttl === undefined ? {} : { ttl }),
    ...(doc === undefined ? {} : { doc }),
    source,
  };
}

function resolveType(node: Field, what: string, scope: TypeScope, reporter: Reporter): ScalarType | undefined {
  const fieldType = node.fieldType;
  if (typeof fieldType !== "string") {
    reporter.error(
      reporter.ref(fieldType),
      `${what} has type \`${fieldType.name}(...)\`, which cannot be stored`,
      "Use a Prisma scalar type (String, Int, Float, DateTime, Json...) with a @db attribute if needed.",
    );
    return undefined;
  }
  const written = `${fieldType}${node.array === true ? "[]" : ""}${node.optional === true ? "?" : ""}`;
  if (isPrismaScalar(fieldType)) return scalarOf(fieldType);
  const enumIR = scope.enums.get(fieldType);
  if (enumIR !== undefined) {
    // A broken enum was reported where it is declared; the model just can't be built.
    return enumIR === null ? undefined : { kind: "enum", name: enumIR.name, values: enumIR.values };
  }
  const at = reporter.ref(node);
  if (scope.models.has(fieldType)) {
    reporter.error(
      at,
      `${what} has type \`${written}\`, a relation; OLAP tables hold scalars and lists of scalars.`,
      node.array === true ? "Use String[] or a Json field." : `Store the related id instead (e.g. ${lowerFirst(fieldType)}Id String).`,
    );
  } else if (scope.composites.has(fieldType)) {
    reporter.error(at, `${what} has type \`${written}\`, a composite type, which is not supported.`, "Use a Json field.");
  } else {
    const near = suggest(fieldType, [...PRISMA_SCALARS, ...scope.enums.keys()]);
    const maybe = scope.incomplete ? " (a file with syntax errors may declare it)" : "";
    reporter.error(
      at,
      `${what} has unknown type \`${fieldType}\`${maybe}`,
      near === undefined ? `Use one of ${PRISMA_SCALARS.join(", ")} or an enum.` : `Did you mean ${near}?`,
    );
  }
  return undefined;
}

const SEQUENCE_FUNCTIONS = new Set(["autoincrement", "cuid", "dbgenerated", "nanoid", "ulid", "sequence"]);

function buildDefault(
  attr: Attribute,
  field: { type: ScalarType; list: boolean; optional: boolean },
  what: string,
  reporter: Reporter,
): DefaultValue | undefined {
  const at = reporter.ref(attr);
  const args = attr.args ?? [];
  const arg = args[0]?.value;
  if (args.length !== 1 || arg === undefined || asKeyValue(arg) !== undefined) {
    reporter.error(at, `${what}: \`@default\` takes one value, e.g. @default(0) or @default(now())`);
    return undefined;
  }
  const func = asFunction(arg);
  if (func !== undefined) return defaultFunction(func, field, what, reporter, at);
  if (arg === "null") {
    reporter.error(at, `${what}: \`@default(null)\` is not needed`, "A missing optional field is stored as null; remove the default.");
    return undefined;
  }
  const value = literal(arg, field.type, field.list);
  if (value instanceof Problem) {
    reporter.error(at, `${what}: ${value.problem}`);
    return undefined;
  }
  const fallback: DefaultValue = { kind: "literal", value };
  const check = checkDefault({ ...field, name: "", column: "", id: false, default: fallback, source: at });
  if (!check.ok) {
    reporter.error(at, `${what}: the default is not valid for the field: ${check.error}`);
    return undefined;
  }
  return fallback;
}

function defaultFunction(
  func: Func,
  field: { type: ScalarType; list: boolean },
  what: string,
  reporter: Reporter,
  at: SourceRef,
): DefaultValue | undefined {
  const hasParams = (func.params ?? []).length > 0;
  const type = field.type;
  if (func.name === "now" && !hasParams) {
    if (!field.list && (type.kind === "datetime" || type.kind === "date")) return { kind: "now" };
    reporter.error(at, `${what}: \`now()\` is a default for DateTime fields only`);
  } else if (func.name === "uuid" && !hasParams) {
    if (!field.list && (type.kind === "uuid" || (type.kind === "string" && (type.fixedLength ?? 36) >= 36))) {
      return { kind: "uuid" };
    }
    reporter.error(at, `${what}: \`uuid()\` is a default for String fields holding 36 characters or more, and @db.Uuid fields`);
  } else if (SEQUENCE_FUNCTIONS.has(func.name)) {
    reporter.error(
      at,
      `${what}: \`@default(${func.name}(${hasParams ? "..." : ""}))\` is not supported; OLAP tables have no sequences or database-generated values`,
      "Use @default(uuid()) or send the id with each record.",
    );
  } else {
    reporter.error(
      at,
      `${what}: unknown default function \`${func.name}(${hasParams ? "..." : ""})\``,
      "Defaults are literals, now() or uuid().",
    );
  }
  return undefined;
}

type Literal = string | number | boolean | readonly unknown[];

class Problem {
  constructor(readonly problem: string) {}
}

/** An AST literal as the IR value for a field of `type`; wide numbers stay digit strings. */
function literal(value: Argument, type: ScalarType, list: boolean): Literal | Problem {
  const items = asArray(value);
  if (items !== undefined) {
    if (!list) return new Problem("a list default on a field that is not a list");
    const out: unknown[] = [];
    for (const item of items) {
      const converted = literal(item, type, false);
      if (converted instanceof Problem) return converted;
      out.push(converted);
    }
    return out;
  }
  if (list) return new Problem("a list field needs a list default, e.g. @default([])");
  if (typeof value !== "string") return new Problem("the default must be a literal, now() or uuid()");
  const text = stringLiteral(value);
  if (text !== undefined) return text;
  if (value === "true" || value === "false") return value === "true";
  if (/^-?\d/.test(value)) {
    const wide = (type.kind === "int" && type.bits > 32) || type.kind === "decimal";
    return wide ? value : Number(value);
  }
  if (identifier(value) !== undefined && type.kind === "enum") return value;
  return new Problem(`\`${value}\` is not a literal${type.kind === "enum" ? "" : '; write strings in quotes, e.g. @default("a")'}`);
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}
