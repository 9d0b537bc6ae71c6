/**
 * `@db.*` attributes: the ClickHouse column type a Prisma scalar is stored as. Each
 * native type names the Prisma types it refines, so a misplaced one is reported with
 * the attributes that would fit.
 */
import type { IntWidth, ScalarType } from "../datamodels/ir.ts";

export const PRISMA_SCALARS = ["String", "Boolean", "Int", "BigInt", "Float", "Decimal", "DateTime", "Json", "Bytes"] as const;
export type PrismaScalar = (typeof PRISMA_SCALARS)[number];

export function isPrismaScalar(name: string): name is PrismaScalar {
  return (PRISMA_SCALARS as readonly string[]).includes(name);
}

export const DEFAULT_DECIMAL = { precision: 38, scale: 9 } as const;
export const DEFAULT_DATETIME_PRECISION = 3;

export function scalarOf(name: PrismaScalar): ScalarType {
  switch (name) {
    case "String":
      return { kind: "string", lowCardinality: false };
    case "Boolean":
      return { kind: "bool" };
    case "Int":
      return { kind: "int", bits: 32, signed: true };
    case "BigInt":
      return { kind: "int", bits: 64, signed: true };
    case "Float":
      return { kind: "float", bits: 64 };
    case "Decimal":
      return { kind: "decimal", ...DEFAULT_DECIMAL };
    case "DateTime":
      return { kind: "datetime", precision: DEFAULT_DATETIME_PRECISION };
    case "Json":
      return { kind: "json", native: false };
    case "Bytes":
      return { kind: "bytes" };
  }
}

interface NativeType {
  readonly on: readonly PrismaScalar[];
  /** How the attribute is written, for messages. */
  readonly usage: string;
  readonly params: number;
  /** The refined type, or what is wrong with the arguments. */
  readonly build: (args: readonly number[], base: ScalarType) => ScalarType | string;
}

const WIDTHS: readonly IntWidth[] = [8, 16, 32, 64, 128, 256];

const NATIVE_TYPES = new Map<string, NativeType>([
  ...WIDTHS.flatMap((bits) =>
    [true, false].map((signed): [string, NativeType] => {
      const name = `${signed ? "Int" : "UInt"}${bits}`;
      return [name, { on: ["Int", "BigInt"], usage: `@db.${name}`, params: 0, build: () => ({ kind: "int", bits, signed }) }];
    }),
  ),
  ["Float32", { on: ["Float"], usage: "@db.Float32", params: 0, build: () => ({ kind: "float", bits: 32 }) }],
  ["Float64", { on: ["Float"], usage: "@db.Float64", params: 0, build: () => ({ kind: "float", bits: 64 }) }],
  [
    "Decimal",
    {
      on: ["Decimal"],
      usage: "@db.Decimal(precision, scale)",
      params: 2,
      build: ([precision = 0, scale = 0]) =>
        precision < 1 || precision > 76
          ? "precision must be from 1 to 76"
          : scale > precision
            ? "scale must be from 0 to the precision"
            : { kind: "decimal", precision, scale },
    },
  ],
  [
    "DateTime64",
    {
      on: ["DateTime"],
      usage: "@db.DateTime64(precision)",
      params: 1,
      build: ([precision = 0]) =>
        precision > 9 ? "precision (fractional second digits) must be from 0 to 9" : { kind: "datetime", precision },
    },
  ],
  ["Date", { on: ["DateTime"], usage: "@db.Date", params: 0, build: () => ({ kind: "date" }) }],
  [
    "LowCardinality",
    {
      on: ["String"],
      usage: "@db.LowCardinality",
      params: 0,
      build: (_, base) => (base.kind === "string" ? { ...base, lowCardinality: true } : "it applies to String only"),
    },
  ],
  [
    "FixedString",
    {
      on: ["String"],
      usage: "@db.FixedString(length)",
      params: 1,
      // The engine refuses a longer one as "suspicious" unless a setting allows it.
      build: ([length = 0], base) =>
        length < 1 || length > 256
          ? "the length (in bytes) must be from 1 to 256 (for longer text use String)"
          : base.kind === "string"
            ? { ...base, fixedLength: length }
            : "it applies to String only",
    },
  ],
  ["Uuid", { on: ["String"], usage: "@db.Uuid", params: 0, build: () => ({ kind: "uuid" }) }],
  ["UUID", { on: ["String"], usage: "@db.UUID", params: 0, build: () => ({ kind: "uuid" }) }],
  ["JSON", { on: ["Json"], usage: "@db.JSON", params: 0, build: () => ({ kind: "json", native: true }) }],
]);

export type NativeResult = { ok: true; type: ScalarType } | { ok: false; detail: string; hint?: string };

/**
 * Applies `@db.<name>(args)` to `base`, the type so far of a field declared as the
 * Prisma type `declared`. `args` are the raw AST arguments.
 */
export function applyNative(name: string, args: readonly unknown[], declared: string, base: ScalarType): NativeResult {
  const native = NATIVE_TYPES.get(name);
  if (native === undefined) {
    return { ok: false, detail: `unknown attribute \`@db.${name}\``, hint: fitting(declared) };
  }
  if (!(native.on as readonly string[]).includes(declared)) {
    return {
      ok: false,
      detail: `\`@db.${name}\` applies to ${native.on.join(" or ")} fields, not ${declared}`,
      hint: fitting(declared),
    };
  }
  const numbers = args.map((arg) => (typeof arg === "string" && /^\d+$/.test(arg) ? Number(arg) : Number.NaN));
  if (numbers.length !== native.params || numbers.some((n) => Number.isNaN(n))) {
    const wants = native.params === 0 ? "takes no arguments" : `takes ${native.params === 1 ? "one whole number" : "two whole numbers"}`;
    return { ok: false, detail: `\`@db.${name}\` ${wants}: write ${native.usage}` };
  }
  const built = native.build(numbers, base);
  return typeof built === "string" ? { ok: false, detail: `\`${native.usage}\`: ${built}` } : { ok: true, type: built };
}

/** The `@db` attributes that fit a Prisma type, as a hint. */
function fitting(declared: string): string {
  const usages = [...NATIVE_TYPES.values()].filter((native) => (native.on as readonly string[]).includes(declared)).map((native) => native.usage);
  return usages.length === 0
    ? `${declared} fields take no @db attribute.`
    : `@db attributes are ClickHouse column types; for ${declared}: ${usages.join(", ")}.`;
}
