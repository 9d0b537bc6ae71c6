/**
 * One ingest request, attempted until the server answers it for good. A request is
 * resent only when the server said nothing was stored (503, 502, 504) or never answered
 * (a network error). An answered request is never resent: a 200 is the acknowledgement,
 * even when its body is lost on the way back. Every attempt carries the same
 * `idempotency-key`, so when a connection breaks after the server stored the records but
 * before its answer arrived, the resend gets the first answer back instead of storing
 * the records again (the server remembers keys for 10 minutes, in the process that took
 * the request).
 */
import type { IngestBuffer } from "./buffer.js";
import { errorFromResponse, IglooError } from "./errors.js";
import { nextDelay, retryAfterMs, sleep, type BackoffOptions, type Transport } from "./http.js";

/** Statuses after which nothing was stored and the same request may succeed later. */
const RETRYABLE = new Set([502, 503, 504]);

export interface IngestRequest {
  readonly transport: Transport;
  readonly buffer: IngestBuffer;
  readonly model: string;
  readonly body: string;
  readonly key: string;
  /** Aborts when the client is closed for good. */
  readonly closed: AbortSignal;
  /** Browsers: the page is going away, send with `keepalive` (asked on every attempt). */
  readonly leaving: () => boolean;
  readonly backoff: BackoffOptions | undefined;
}

/** How a request ended: stored (its answer still to be read), refused with a status, or given up as the client closed. */
export type Attempted = { readonly stored: Response } | { readonly status: number; readonly error: IglooError } | { readonly closed: IglooError };

/** Sends until the server answers with anything but "try again later", or the client closes. */
export async function attempt(request: IngestRequest): Promise<Attempted> {
  const { transport, buffer, closed, body } = request;
  const what = `ingest ${request.model}`;
  for (let attempt = 0; ; attempt++) {
    let retryAfter: number | undefined;
    try {
      const response = await transport.request(`/ingest/${encodeURIComponent(request.model)}`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": request.key },
        body,
        signal: closed,
        keepalive: request.leaving() && body.length < 60_000,
      });
      if (response.status === 200) return { stored: response };
      const error = await errorFromResponse(response, what);
      if (!RETRYABLE.has(response.status)) {
        buffer.healthy();
        return { status: response.status, error };
      }
      retryAfter = retryAfterMs(response.headers.get("retry-after"));
      buffer.failing(error.message);
    } catch (error) {
      if (closed.aborted) return { closed: new IglooError("E_CLOSED", `${what}: the client was closed while sending; these records may or may not have been stored`) };
      buffer.failing(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
    try {
      await sleep(nextDelay(attempt, retryAfter, request.backoff), closed);
    } catch {
      return { closed: new IglooError("E_CLOSED", `${what}: the client was closed before these records were stored`) };
    }
  }
}
