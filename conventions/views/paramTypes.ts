/**
 * The types a view parameter (`{name:Type}`) may have. The list is deliberately short:
 * each type here has a checker for query-string values (runtime/views/params.ts), so a
 * bad value is a 400 naming the parameter, never an engine error or a silent cast.
 */
import { numericTypeName } from "../datamodels/numericTypes.ts";

export type ParamType =
  | { readonly kind: "string" }
  | { readonly kind: "int"; readonly bits: 8 | 16 | 32 | 64 | 128 | 256; readonly signed: boolean }
  | { readonly kind: "float"; readonly bits: 32 | 64 }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number }
  | { readonly kind: "bool" }
  | { readonly kind: "date" }
  | { readonly kind: "date32" }
  | { readonly kind: "datetime" }
  | { readonly kind: "datetime64"; readonly precision: number }
  | { readonly kind: "uuid" }
  | { readonly kind: "array"; readonly of: ParamType }
  | { readonly kind: "nullable"; readonly of: ParamType };

const SUPPORTED_PARAM_TYPES =
  "String, Int8..Int256, UInt8..UInt256, Float32, Float64, Decimal(P, S), Bool, Date, Date32, DateTime, DateTime64(P), UUID, and Array(T) or Nullable(T) of those";

const SIMPLE: Readonly<Record<string, ParamType>> = {
  String: { kind: "string" },
  Float32: { kind: "float", bits: 32 },
  Float64: { kind: "float", bits: 64 },
  Bool: { kind: "bool" },
  Date: { kind: "date" },
  Date32: { kind: "date32" },
  DateTime: { kind: "datetime" },
  UUID: { kind: "uuid" },
};

/** The parsed type, or a reason it is not supported. */
export function parseParamType(text: string): ParamType | { readonly problem: string } {
  const spelled = text.trim();
  const simple = SIMPLE[spelled];
  if (simple !== undefined) return simple;
  const int = /^(U?)Int(8|16|32|64|128|256)$/.exec(spelled);
  if (int) return { kind: "int", bits: Number(int[2]) as 8 | 16 | 32 | 64 | 128 | 256, signed: int[1] === "" };
  const call = /^([A-Za-z0-9]+)\s*\(([\s\S]*)\)$/.exec(spelled);
  if (call) {
    const [, name, inner] = call as unknown as [string, string, string];
    if (name === "Array" || name === "Nullable") {
      const of = parseParamType(inner);
      if ("problem" in of) return of;
      if (name === "Array") return { kind: "array", of };
      if (of.kind === "array" || of.kind === "nullable") return { problem: `Nullable(${inner.trim()}) is not a type the engine allows; use Array(Nullable(T)) or Nullable(T) of a scalar` };
      return { kind: "nullable", of };
    }
    if (name === "Decimal") {
      const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(inner);
      const precision = Number(m?.[1]);
      const scale = Number(m?.[2]);
      if (!m || precision < 1 || precision > 76 || scale > precision) return { problem: `Decimal(P, S) needs 1 <= P <= 76 and 0 <= S <= P, got Decimal(${inner})` };
      return { kind: "decimal", precision, scale };
    }
    if (name === "DateTime64") {
      const m = /^\s*(\d)\s*$/.exec(inner);
      if (!m) return { problem: `DateTime64(P) takes one precision from 0 to 9 (timestamps are UTC), got DateTime64(${inner})` };
      return { kind: "datetime64", precision: Number(m[1]) };
    }
  }
  return { problem: `type \`${spelled}\` is not supported for view parameters; use ${SUPPORTED_PARAM_TYPES}` };
}

/** The canonical spelling, so `Decimal(10,2)` and `Decimal(10, 2)` are one type. */
export function formatParamType(type: ParamType): string {
  switch (type.kind) {
    case "string":
      return "String";
    case "int":
    case "float":
    case "decimal":
      return numericTypeName(type);
    case "bool":
      return "Bool";
    case "date":
      return "Date";
    case "date32":
      return "Date32";
    case "datetime":
      return "DateTime";
    case "datetime64":
      return `DateTime64(${type.precision})`;
    case "uuid":
      return "UUID";
    case "array":
      return `Array(${formatParamType(type.of)})`;
    case "nullable":
      return `Nullable(${formatParamType(type.of)})`;
  }
}
