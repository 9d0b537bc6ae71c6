/**
 * The one table from error kinds to HTTP statuses, and the answer an IglooError gets:
 * domain code throws errors with a kind (conventions/errors.ts); only this edge knows HTTP.
 */
import { IglooError, type ErrorKind } from "../../conventions/errors.ts";

export const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  bad_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  timeout: 408,
  too_large: 413,
  unsupported_media: 415,
  conflict: 422,
  limit: 429,
  internal: 500,
  unavailable: 503,
  unknown_outcome: 504,
};

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" } as const;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** `{"error": message}`, for refusals the server itself decides on (a route's own checks). */
export function errorResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: message }, headers);
}

/**
 * The answer to an IglooError: `{"error": message, ...details}`, the message being what a
 * client may be told (never where an engine is, or who Igloo connects as). A 503, 429 or
 * 504 asks the client to retry after a second, unless the failure lasts until someone
 * acts; a body refused before it was read to its end (too large, too slow) closes the
 * connection, so the client cannot keep the server's socket busy.
 */
export function errorAnswer(error: IglooError, message = error.publicMessage): Response {
  const status = STATUS_OF_KIND[error.kind];
  const headers: Record<string, string> = {};
  if ((status === 503 || status === 429 || status === 504) && !error.lasting) headers["retry-after"] = "1";
  if (status === 408 || status === 413) headers.connection = "close";
  return json(status, { error: message, ...error.details }, headers);
}

/** The answer to an IglooError of a kind a client can act on; undefined for Igloo's own faults. */
export function codedAnswer(error: unknown): Response | undefined {
  return error instanceof IglooError && error.kind !== "internal" ? errorAnswer(error) : undefined;
}
