/**
 * The one error the client raises. `code` is for programs, the message is for people
 * (what went wrong and what to do), `status` is the server's HTTP status when it answered.
 */
export type IglooErrorCode =
  /** The server answered with an error (`status` holds it); retrying the same request would not help. */
  | "E_HTTP"
  /** The server could not be reached, or the connection broke before it answered. */
  | "E_NETWORK"
  /** The ingest buffer is full: the server has been unreachable (or slow) for a while. */
  | "E_BUFFER_FULL"
  /** The client was closed before the records were sent. */
  | "E_CLOSED"
  /** A record cannot be written as JSON (a cycle, say). */
  | "E_SERIALIZE"
  /** The server acknowledged a batch but its answer was cut off: the records are stored, their verdicts unknown. */
  | "E_VERDICT_LOST"
  /** Read-your-writes: the records of `after` were not queryable within `waitMs`. */
  | "E_WAIT_TIMEOUT"
  /** A subscription's `onRows` threw; the subscription goes on. */
  | "E_CALLBACK"
  /** The server answered something this client does not understand (a proxy's page, say). */
  | "E_PROTOCOL";

export class IglooError extends Error {
  readonly code: IglooErrorCode;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;

  constructor(code: IglooErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "IglooError";
    this.code = code;
    this.status = options.status;
  }
}

/** The `{ error }` of an error answer, or a description of what came instead. */
export async function errorFromResponse(response: Response, what: string, code: IglooErrorCode = "E_HTTP"): Promise<IglooError> {
  let message: string;
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text) as { error?: unknown };
      message = typeof body.error === "string" ? body.error : text.slice(0, 200);
    } catch {
      message = text.slice(0, 200) || response.statusText;
    }
  } catch {
    message = response.statusText;
  }
  return new IglooError(code, `${what}: ${response.status} ${message}`, { status: response.status });
}
