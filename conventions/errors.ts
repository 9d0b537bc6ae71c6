import type { SourceRef } from "./datamodels/ir.ts";

/**
 * What kind of failure an error is, for whoever answers it: runtime/server/errorStatus.ts
 * maps each kind to one HTTP status, the CLI prints the message. Domain code names a
 * kind, never a status.
 */
export type ErrorKind =
  /** The request is wrong: fix it before sending it again. */
  | "bad_input"
  /** The request carries no credential, or one nobody issued. */
  | "unauthenticated"
  /** The credential is known but does not grant this request. */
  | "forbidden"
  | "not_found"
  /** The request contradicts an earlier one (an idempotency key reused for another body). */
  | "conflict"
  /** The body did not arrive in time. */
  | "timeout"
  | "too_large"
  | "unsupported_media"
  /** A per-client or per-server allowance is used up: retry later, or hold fewer. */
  | "limit"
  /** Igloo or an engine cannot serve it right now; nothing was done: retry. */
  | "unavailable"
  /** Nobody knows whether it was done (a write whose answer was lost). */
  | "unknown_outcome"
  /** Igloo's own fault. */
  | "internal";

export interface IglooErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  /** "internal" when not given. */
  readonly kind?: ErrorKind;
  /** Fields an answer carries besides the message (a verdict's errors, an unknown outcome). */
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * What a client of the API may be told, when the message says more than that (where an
   * engine is, who Igloo connects as: for logs and the CLI). The message when not given.
   */
  readonly publicMessage?: string;
  /**
   * The failure lasts until someone acts (a view whose file does not load): a retry in a
   * moment would get the same answer, so none is suggested.
   */
  readonly lasting?: boolean;
}

/**
 * The one error shape Igloo raises on purpose: a stable `code` for programs, a `kind` the
 * edges map to their own answers, a message that says what is wrong and what to do for
 * people, and the cause kept for debugging.
 */
export class IglooError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly publicMessage: string;
  readonly lasting: boolean;

  constructor(code: string, message: string, options: IglooErrorOptions = {}) {
    super(options.hint ? `${message} ${options.hint}` : message, { cause: options.cause });
    this.name = "IglooError";
    this.code = code;
    this.kind = options.kind ?? "internal";
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.details !== undefined) this.details = options.details;
    this.publicMessage = options.publicMessage ?? this.message;
    this.lasting = options.lasting ?? false;
  }
}

/** A user's convention file is at fault: the message starts with `file:line:column`. */
export class ConventionError extends IglooError {
  readonly source: SourceRef;
  readonly detail: string;

  constructor(source: SourceRef, detail: string, options: { hint?: string; cause?: unknown } = {}) {
    super("E_CONVENTION", `${formatSource(source)}: ${detail}`, { ...options, kind: "bad_input" });
    this.name = "ConventionError";
    this.source = source;
    this.detail = detail;
  }
}

export function formatSource(source: SourceRef): string {
  return `${source.file}:${source.line}:${source.column}`;
}
