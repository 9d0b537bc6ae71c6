/**
 * The bound on what the client holds for the server: every record from the moment a
 * call hands it over until the server's verdict on it, across all models. Past the bound
 * a call is refused at once, saying why, rather than holding memory without limit while
 * the server is away. It also remembers since when sending fails, for that message.
 */
import { IglooError } from "./errors.js";

export class IngestBuffer {
  readonly max: number;
  readonly #url: string;
  #used = 0;
  #failingSince: number | undefined;
  #lastFailure = "";

  constructor(url: string, max: number) {
    this.#url = url;
    this.max = max;
  }

  /** Records handed over and not yet answered. */
  get used(): number {
    return this.#used;
  }

  /** Takes `count` records in, or says why not. */
  admit(model: string, count: number): IglooError | undefined {
    if (this.#used + count <= this.max) {
      this.#used += count;
      return undefined;
    }
    if (count > this.max) {
      return new IglooError("E_BUFFER_FULL", `ingest ${model}: this call has ${count} records, more than the client buffers (maxBufferedRecords ${this.max}); split it into smaller calls or raise maxBufferedRecords. Nothing of it was sent.`);
    }
    const state =
      this.#failingSince === undefined
        ? `the server at ${this.#url} is not keeping up`
        : `the server at ${this.#url} has been unreachable for ${Math.round((Date.now() - this.#failingSince) / 1000)} s (last failure: ${this.#lastFailure})`;
    return new IglooError(
      "E_BUFFER_FULL",
      `ingest ${model}: ${state}; ${this.#used} records wait in the client's buffer (maxBufferedRecords ${this.max}), so this call's ${count} records were not taken. Retry later, await client.flush() before sending more, or raise maxBufferedRecords.`,
    );
  }

  release(count: number): void {
    this.#used -= count;
  }

  failing(reason: string): void {
    this.#failingSince ??= Date.now();
    this.#lastFailure = reason;
  }

  /** The server answered: whatever failed before is over. */
  healthy(): void {
    this.#failingSince = undefined;
  }
}
