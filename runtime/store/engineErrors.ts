/**
 * What an engine's error means for a writer, decided by ClickHouse's error code (the
 * number: servers before 21.x print no type name). Only an error about the rows of an
 * insert may lead to dead letters; everything else (a full disk, memory, too many parts,
 * a view that cannot take the rows, an unreachable engine, an error we do not know) is
 * retried with the same rows and token until it clears, and never splits a batch.
 *
 * Codes from ClickHouse's src/Common/ErrorCodes.cpp, checked with `errorCodeToName` on
 * chDB 3.4 (25.x); they are stable across versions.
 */
import { StoreError } from "./store.ts";

/** The insert's body does not fit the table: a parse or range error on some row. */
const DATA_ERROR_CODES: ReadonlyMap<string, string> = new Map([
  ["6", "CANNOT_PARSE_TEXT"],
  ["25", "CANNOT_PARSE_ESCAPE_SEQUENCE"],
  ["26", "CANNOT_PARSE_QUOTED_STRING"],
  ["27", "CANNOT_PARSE_INPUT_ASSERTION_FAILED"],
  // A truncated row: in an insert these are about the body (a disk read error could use
  // them too, but the writer confirms a data error in a staging table before splitting).
  ["32", "ATTEMPT_TO_READ_AFTER_EOF"],
  ["33", "CANNOT_READ_ALL_DATA"],
  ["38", "CANNOT_PARSE_DATE"],
  ["41", "CANNOT_PARSE_DATETIME"],
  ["53", "TYPE_MISMATCH"],
  ["69", "ARGUMENT_OUT_OF_BOUND"],
  ["72", "CANNOT_PARSE_NUMBER"],
  ["117", "INCORRECT_DATA"],
  ["130", "CANNOT_READ_ARRAY_FROM_TEXT"],
  ["131", "TOO_LARGE_STRING_SIZE"],
  ["321", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"],
  ["376", "CANNOT_PARSE_UUID"],
  ["407", "DECIMAL_OVERFLOW"],
  ["441", "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING"],
  ["467", "CANNOT_PARSE_BOOL"],
  ["691", "UNKNOWN_ELEMENT_OF_ENUM"],
]);

/** Resources of the engine's machine: they clear by themselves or by an operator. */
const RESOURCE_ERROR_CODES: ReadonlyMap<string, string> = new Map([
  ["74", "CANNOT_READ_FROM_FILE_DESCRIPTOR"],
  ["75", "CANNOT_WRITE_TO_FILE_DESCRIPTOR"],
  ["241", "MEMORY_LIMIT_EXCEEDED"],
  ["243", "NOT_ENOUGH_SPACE"],
  ["252", "TOO_MANY_PARTS"],
  ["425", "SYSTEM_ERROR"],
  ["1001", "STD_EXCEPTION"],
]);

export type EngineErrorKind =
  /** Some rows of the insert are wrong for the table: find them, dead-letter them, insert the rest. */
  | "data"
  /** The engine's machine is short of something (disk, memory, parts): retry with backoff. */
  | "resource"
  /** The engine cannot be reached: retry with backoff. */
  | "unavailable"
  /** Anything else (a view that refuses the rows, a schema mismatch, an unknown code): retry, loudly. */
  | "other";

export function classifyEngineError(error: unknown): EngineErrorKind {
  if (!(error instanceof StoreError)) return "other";
  if (error.kind === "unavailable") return "unavailable";
  const code = error.engineCode;
  if (code !== undefined && DATA_ERROR_CODES.has(code)) return "data";
  if (code !== undefined && RESOURCE_ERROR_CODES.has(code)) return "resource";
  if (/no space left on device|not enough space|ENOSPC/i.test(error.message)) return "resource";
  return "other";
}

/** The engine's name for an error code, when it is one of those above. */
export function engineErrorName(code: string | undefined): string | undefined {
  return code === undefined ? undefined : (DATA_ERROR_CODES.get(code) ?? RESOURCE_ERROR_CODES.get(code));
}
