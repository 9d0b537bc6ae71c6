import type { ReadLimits } from "./store.ts";

/**
 * Engine settings that make results exact and predictable whatever engine answers:
 * 64-bit integers and decimals as JSON strings (JavaScript numbers would drop digits),
 * decimals with their full scale, timestamps as ISO-8601 in UTC.
 */
export const OUTPUT_SETTINGS: Readonly<Record<string, string | number>> = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_decimals: 1,
  output_format_decimal_trailing_zeros: 1,
  date_time_output_format: "iso",
  session_timezone: "UTC",
};

/**
 * The validator emits ISO-8601 timestamps with offsets normalised to `Z`. Records written
 * before a field was removed from a model still carry it: the table ignores it. A batch may
 * span any number of partitions: the engine refuses more than 100 in one insert by default
 * (TOO_MANY_PARTS), and a writer would then retry acknowledged records forever (a backfill
 * spanning ten years of a table partitioned by month did).
 */
export const INSERT_SETTINGS: Readonly<Record<string, string | number>> = {
  date_time_input_format: "best_effort",
  input_format_skip_unknown_fields: 1,
  max_partitions_per_insert_block: 0,
};

/**
 * The engine's own limits on a user read, as settings: a read that passes one fails with
 * the engine's error (TIMEOUT_EXCEEDED, MEMORY_LIMIT_EXCEEDED, TOO_MANY_ROWS_OR_BYTES),
 * which runtime/query turns into a message naming Igloo's setting. The result limits
 * hold for the final result only, not for subqueries.
 */
export function readLimitSettings(limits: ReadLimits): Record<string, string | number> {
  return {
    max_execution_time: Math.max(1, Math.ceil(limits.timeoutMs / 1000)),
    timeout_overflow_mode: "throw",
    max_memory_usage: limits.maxMemoryBytes,
    max_result_rows: limits.maxResultRows,
    max_result_bytes: limits.maxResultBytes,
    result_overflow_mode: "throw",
  };
}
