/**
 * The model description every other layer works from: engine-independent, plain data,
 * serialisable to JSON (the build manifest stores it as is). Parsing `.prisma` files
 * produces it; the validator, the DDL, the generated types and the SDKs consume it.
 */

/** Where in a user's file something was declared, for error messages. */
export interface SourceRef {
  /** Path relative to the project root, e.g. `datamodels/PageView.prisma`. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

import type { ScalarType } from "./types.ts";

export type { IntWidth, ScalarType } from "./types.ts";

/**
 * How a missing value is filled in at ingest. A literal is kept as written (64-bit and
 * wider ints and decimals as digit strings, so nothing is rounded); for Json fields it is
 * the JSON text, as Prisma writes Json defaults. The validator normalizes it.
 */
export type DefaultValue =
  | { readonly kind: "literal"; readonly value: string | number | boolean | null | readonly unknown[] }
  | { readonly kind: "now" }
  | { readonly kind: "uuid" };

export interface FieldIR {
  /** Name in records (the Prisma field name). */
  readonly name: string;
  /** Name of the table column (`@map("...")`, otherwise the field name). */
  readonly column: string;
  readonly type: ScalarType;
  readonly optional: boolean;
  readonly list: boolean;
  readonly default?: DefaultValue;
  /** Part of the model's identity (`@id` or `@@id`). */
  readonly id: boolean;
  /** `@codec("Delta, ZSTD(3)")`: the column's compression codecs, as written. */
  readonly codec?: ClickHouseText;
  /** `@ttl("expr")`: when a value returns to the column's default (column TTL). */
  readonly ttl?: ClickHouseText;
  readonly doc?: string;
  readonly source: SourceRef;
}

/**
 * ClickHouse text an attribute hands to the engine verbatim (a TTL expression, a codec
 * list), with where it was written: the engine, not Igloo, has the last word on it, and
 * its refusals are reported there.
 */
export interface ClickHouseText {
  readonly text: string;
  readonly source: SourceRef;
}

/** `@@skipIndex(name: "i", expr: "userId", type: "bloom_filter(0.01)", granularity: 4)`: a data-skipping index. */
export interface SkipIndexIR {
  readonly name: string;
  /** A ClickHouse expression over columns (column names, as `@map` gives them). */
  readonly expression: string;
  /** The index type with its arguments, e.g. `minmax`, `set(100)`, `bloom_filter(0.01)`. */
  readonly type: string;
  readonly granularity: number;
  readonly source: SourceRef;
}

/** `@@projection(name: "p", select: "SELECT ... GROUP BY ...")`: a projection the engine keeps beside the table. */
export interface ProjectionIR {
  readonly name: string;
  /** `SELECT ...` without FROM (it reads the table itself). */
  readonly select: string;
  readonly source: SourceRef;
}

/** One entry of `@@settings(name: value, ...)`: a MergeTree setting of the table. */
export interface TableSettingIR {
  readonly name: string;
  readonly value: string | number | boolean;
  readonly source: SourceRef;
}

export type TableEngine =
  | { readonly kind: "MergeTree" }
  /** `version` is a field name, like `id`, `orderBy` and `key`. */
  | { readonly kind: "ReplacingMergeTree"; readonly version?: string };

export interface ModelIR {
  readonly name: string;
  /** OLAP table name (`@@map("...")`, otherwise the model name). */
  readonly table: string;
  readonly fields: readonly FieldIR[];
  /** Field names forming the model's identity; empty when the model has none. */
  readonly id: readonly string[];
  /** Field names for ORDER BY (the DDL maps them to columns); empty means `tuple()`. */
  readonly orderBy: readonly string[];
  readonly partitionBy?: string;
  readonly engine: TableEngine;
  /**
   * Field whose value keys stream records (`@@key(field)`, otherwise the single `@id`
   * field if there is one). Records of one key keep their order through functions.
   */
  readonly key?: string;
  /**
   * `@@streamOnly`: the model has an ingest endpoint and a topic, but no table. For records
   * that only feed functions (raw input a function cleans into another model), so each
   * event is stored once, in the function's target table.
   */
  readonly streamOnly?: boolean;
  /**
   * `@@internal`: only the project's functions write the model. It has no public ingest
   * endpoint (`POST /ingest/<Model>` answers 404 saying so) and no method in the generated
   * client; functions, replays and views use it as any model.
   */
  readonly internal?: boolean;
  /**
   * Table options, each absent (or empty) unless its attribute is used, so a model without
   * them has the IR it always had. `@@ttl("expr")`: when rows are deleted (the table's TTL).
   */
  readonly ttl?: ClickHouseText;
  /** `@@skipIndex(...)`, in the order written. */
  readonly skipIndexes?: readonly SkipIndexIR[];
  /** `@@projection(...)`, in the order written. */
  readonly projections?: readonly ProjectionIR[];
  /** `@@settings(...)`, in the order written. */
  readonly settings?: readonly TableSettingIR[];
  readonly doc?: string;
  readonly source: SourceRef;
}

export interface EnumIR {
  readonly name: string;
  readonly values: readonly string[];
  readonly doc?: string;
  readonly source: SourceRef;
}

export interface ModelSet {
  readonly models: readonly ModelIR[];
  readonly enums: readonly EnumIR[];
}
