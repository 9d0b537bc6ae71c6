import type { SourceRef } from "./datamodels/ir.ts";

/**
 * The one error shape Igloo raises on purpose: a stable `code` for programs, a message
 * that says what is wrong and what to do for people, and the cause kept for debugging.
 */
export class IglooError extends Error {
  readonly code: string;
  readonly hint?: string;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(options.hint ? `${message} ${options.hint}` : message, { cause: options.cause });
    this.name = "IglooError";
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/** A user's convention file is at fault: the message starts with `file:line:column`. */
export class ConventionError extends IglooError {
  readonly source: SourceRef;
  readonly detail: string;

  constructor(source: SourceRef, detail: string, options: { hint?: string; cause?: unknown } = {}) {
    super("E_CONVENTION", `${formatSource(source)}: ${detail}`, options);
    this.name = "ConventionError";
    this.source = source;
    this.detail = detail;
  }
}

export function formatSource(source: SourceRef): string {
  return `${source.file}:${source.line}:${source.column}`;
}
