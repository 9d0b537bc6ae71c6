/**
 * The one table from error kinds to HTTP statuses, and the answer an IglooError gets:
 * domain code throws errors with a kind (conventions/errors.ts); only this edge knows HTTP.
 */
import { IglooError, type ErrorKind } from "../../conventions/errors.ts";

export const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  bad_input: 400,
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

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" } as const;

/**
 * The answer to an IglooError: `{"error": message, ...details}`. A 503, 429 or 504 asks the
 * client to retry after a second; a body refused before it was read to its end (too large,
 * too slow) closes the connection, so the client cannot keep the server's socket busy.
 */
export function errorAnswer(error: IglooError, message = error.message): Response {
  const status = STATUS_OF_KIND[error.kind];
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (status === 503 || status === 429 || status === 504) headers["retry-after"] = "1";
  if (status === 408 || status === 413) headers.connection = "close";
  return new Response(JSON.stringify({ error: message, ...error.details }), { status, headers });
}
