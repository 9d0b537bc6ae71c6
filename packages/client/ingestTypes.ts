/** The public face of `client.ingest`: its options, and what a call is answered with. */
import type { IglooError } from "./errors.js";
import type { BackoffOptions } from "./http.js";

/** The server's answer to an ingest call, for that call's records. */
export interface IglooIngestVerdict {
  accepted: number;
  rejected: number;
  /** One per rejected record: its index in the call's records and why. */
  errors: { index: number; message: string }[];
  /** Pass as `after` to a view query to read these records back. */
  token: string;
}

export interface IglooIngestOptions {
  /** Most records in one request. Default 500. */
  readonly maxBatchRecords?: number;
  /** Most bytes of JSON in one request (a larger single record goes alone). Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /** How long a record waits for others to share its request. Default 50 ms. */
  readonly lingerMs?: number;
  /** Most records held for the server, across models, before calls are refused. Default 100,000. */
  readonly maxBufferedRecords?: number;
  /** Waits between attempts while the server is unavailable; retries never stop on their own. */
  readonly backoff?: BackoffOptions;
  /** For records given to `send()`: one the server rejected, and why. Default: `console.warn`. */
  readonly onRejected?: (rejection: IglooRejection) => void;
  /**
   * For records given to `send()`: a batch that will not be stored (a refused request,
   * an answer cut off, the client closed). Called once per batch. Default: `console.error`.
   */
  readonly onError?: (error: IglooError) => void;
}

/** A record given to `send()` that the server rejected. */
export interface IglooRejection {
  readonly model: string;
  /** The record as sent (wide integers as digit strings). */
  readonly record: unknown;
  readonly message: string;
}
