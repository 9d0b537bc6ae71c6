import type { SourceRef } from "../datamodels/ir.ts";
import { ConventionError } from "../errors.ts";

/** A ConventionError whose detail ends its sentence before the hint is appended. */
export function viewError(at: SourceRef, detail: string, hint?: string, cause?: unknown): ConventionError {
  if (hint === undefined) return new ConventionError(at, detail, cause === undefined ? {} : { cause });
  return new ConventionError(at, /[.?!]$/.test(detail) ? detail : `${detail}.`, cause === undefined ? { hint } : { hint, cause });
}
