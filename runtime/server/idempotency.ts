/**
 * `Idempotency-Key` on ingest requests (the header of the IETF httpapi working group's
 * draft-ietf-httpapi-idempotency-key-header). A client that never got the answer to a
 * request (the connection dropped after the server stored the records) sends it again
 * with the same key and gets the first answer back, with `idempotent-replayed: true`,
 * instead of the records being stored twice.
 *
 * Keys are remembered by this process, in memory, for 10 minutes, the last 10,000 keys
 * or the last 16 MiB of answers, whichever ends first: a retry that reaches another
 * ingest process, or this one after a restart, is not recognised. Only an answer is
 * remembered (the body of a 200); an attempt that failed (threw) stored nothing, and its
 * retry runs again. The same key with another body is a client bug and gets a 422; a
 * retry that arrives while the first attempt still runs waits for that attempt's answer.
 *
 * Keys are scoped by the caller (the server scopes them by API key and model), so one
 * client can neither replay nor block another's key. Bodies are compared by their
 * SHA-256, so no other body can pass for the first one.
 */
import { createHash } from "node:crypto";
import { IglooError } from "../../conventions/errors.ts";

interface Entry {
  readonly fingerprint: string;
  readonly at: number;
  /** What it holds: its key and, once answered, the answer. */
  bytes: number;
  /** The first attempt's answer, or undefined once it failed. */
  readonly answer: Promise<string | undefined>;
}

/** Visible ASCII, as the draft's sf-string allows, and short enough to keep (the OpenAPI document quotes it). */
export const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/** A malformed idempotency key, or one reused for another body. */
export class IdempotencyError extends IglooError {
  constructor(kind: "bad_input" | "conflict", message: string) {
    super("E_IDEMPOTENCY", message, { kind });
    this.name = "IdempotencyError";
  }
}

export class IdempotencyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #ttlMs: number;
  #bytes = 0;

  constructor(options: { maxEntries?: number; maxBytes?: number; ttlMs?: number } = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#ttlMs = options.ttlMs ?? 10 * 60_000;
  }

  /**
   * Runs `work` once per key: the first time for real, afterwards answering with what it
   * answered, as long as it did not throw. Throws IdempotencyError for a malformed key
   * and for a key reused with another body.
   */
  async run(scope: string, key: string, body: string, work: () => Promise<string>): Promise<{ answer: string; replayed: boolean }> {
    if (!IDEMPOTENCY_KEY.test(key)) throw new IdempotencyError("bad_input", "idempotency-key must be 1 to 255 visible ASCII characters");
    const id = `${scope}\u0000${key}`;
    const fingerprint = createHash("sha256").update(body).digest("base64");
    this.#evict();
    const seen = this.#entries.get(id);
    if (seen !== undefined) {
      if (seen.fingerprint !== fingerprint) {
        throw new IdempotencyError("conflict", `idempotency-key ${JSON.stringify(key)} was already used for a request with another body; use a new key for new records`);
      }
      const answer = await seen.answer;
      if (answer !== undefined) return { answer, replayed: true };
      // The first attempt failed and stored nothing: this one runs.
      return this.run(scope, key, body, work);
    }
    let settle!: (answer: string | undefined) => void;
    const entry: Entry = { fingerprint, at: Date.now(), bytes: id.length, answer: new Promise((resolve) => (settle = resolve)) };
    this.#entries.set(id, entry);
    this.#bytes += entry.bytes;
    try {
      const answer = await work();
      settle(answer);
      if (this.#entries.get(id) === entry) {
        entry.bytes += answer.length;
        this.#bytes += answer.length;
        this.#evict();
      }
      return { answer, replayed: false };
    } catch (error) {
      this.#forget(id, entry);
      settle(undefined);
      throw error;
    }
  }

  #forget(id: string, entry: Entry): void {
    if (this.#entries.get(id) !== entry) return;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
  }

  /** Forgets the oldest keys past the count, size and age limits (a Map keeps insertion order). */
  #evict(): void {
    const oldest = Date.now() - this.#ttlMs;
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes && entry.at >= oldest) break;
      this.#forget(id, entry);
    }
  }
}
