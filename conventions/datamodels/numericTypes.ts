/**
 * The ClickHouse names of the numeric types, shared by every place that prints one: model
 * messages, view parameter types and table DDL spell them alike. It lives here because
 * this folder is shipped into each project's `.igloo/lib` (the validators come from it),
 * so it imports nothing from outside the folder.
 */
export type NumericType =
  | { readonly kind: "int"; readonly bits: number; readonly signed: boolean }
  | { readonly kind: "float"; readonly bits: number }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number };

export function numericTypeName(type: NumericType): string {
  switch (type.kind) {
    case "int":
      return `${type.signed ? "Int" : "UInt"}${type.bits}`;
    case "float":
      return `Float${type.bits}`;
    case "decimal":
      return `Decimal(${type.precision}, ${type.scale})`;
  }
}
