/**
 * Ingest for one model: calls are merged into batches (by count, bytes or time), one
 * batch is in flight at a time (so records keep their order and a slow server slows the
 * sender, not the other way round), and the server's verdict on a batch is split back
 * into one verdict per call, with indexes relative to that call.
 *
 * A batch is resent only when the server said nothing was stored (503, 502, 504) or
 * never answered (a network error). An answered batch is never resent: a 200 is the
 * acknowledgement, even when its body is lost on the way back. A connection that breaks
 * after the server stored a batch but before its answer arrives is the one case where a
 * resend can store records twice; models with an `@id` on a ReplacingMergeTree merge
 * such duplicates away.
 */
import type { IngestBuffer } from "./buffer.js";
import { errorFromResponse, IglooError } from "./errors.js";
import { nextDelay, retryAfterMs, sleep, toJson, type BackoffOptions, type Transport } from "./http.js";

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
}

/** Statuses after which nothing was stored and the same request may succeed later. */
const RETRYABLE = new Set([502, 503, 504]);

interface Call {
  readonly id: number;
  readonly size: number;
  readonly verdict: IglooIngestVerdict;
  unanswered: number;
  settled: boolean;
  readonly resolve: (verdict: IglooIngestVerdict) => void;
  readonly reject: (error: IglooError) => void;
}

interface Entry {
  readonly call: Call;
  /** Index in the call's records. */
  readonly index: number;
  readonly text: string;
  readonly bytes: number;
  readonly at: number;
}

/** UTF-8 length of a string, without encoding it. */
const NON_ASCII = /[^\x00-\x7f]/;

function utf8Length(text: string): number {
  // Most records are ASCII: one native scan instead of a loop over every character.
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) i++; // a surrogate pair: 4 bytes, counted 2 + 2
    else if (c > 0x7ff) bytes += 2;
    else if (c > 0x7f) bytes += 1;
  }
  return bytes;
}

export interface BatcherContext {
  readonly transport: Transport;
  readonly buffer: IngestBuffer;
  readonly options: IglooIngestOptions;
  /** Aborts when the client is closed for good. */
  readonly closed: AbortSignal;
  /** Browsers: the page is going away, send with `keepalive`. */
  readonly leaving: () => boolean;
}

export class ModelBatcher {
  readonly #model: string;
  readonly #context: BatcherContext;
  #maxRecords: number;
  #maxBytes: number;
  #queue: Entry[] = [];
  #head = 0;
  #queuedBytes = 0;
  #lastCallId = 0;
  #urgentUpTo = 0;
  #running = false;
  #wake: (() => void) | undefined;
  /** Calls without an answer yet, in call order (a Set keeps insertion order). */
  readonly #open = new Set<Call>();
  /** `flush()` callers, each waiting for every call up to `upTo` to be answered. */
  #flushes: { upTo: number; resolve: () => void }[] = [];

  constructor(model: string, context: BatcherContext) {
    this.#model = model;
    this.#context = context;
    this.#maxRecords = context.options.maxBatchRecords ?? 500;
    this.#maxBytes = context.options.maxBatchBytes ?? 1024 * 1024;
    context.closed.addEventListener("abort", () => this.#nudge(), { once: true });
  }

  ingest(input: unknown): Promise<IglooIngestVerdict> {
    const what = `ingest ${this.#model}`;
    if (this.#context.closed.aborted) return Promise.reject(new IglooError("E_CLOSED", `${what}: the client is closed; create a new one to send more`));
    const records: readonly unknown[] = Array.isArray(input) ? input : [input];
    const texts: string[] = [];
    for (const [i, record] of records.entries()) {
      try {
        const text = toJson(record) as string | undefined;
        if (text === undefined) throw new TypeError(`${typeof record} is not a JSON value`);
        texts.push(text);
      } catch (error) {
        return Promise.reject(new IglooError("E_SERIALIZE", `${what}: record ${i} cannot be written as JSON (${error instanceof Error ? error.message : String(error)}); nothing of this call was sent`, { cause: error }));
      }
    }
    if (texts.length === 0) return Promise.resolve({ accepted: 0, rejected: 0, errors: [], token: "" });
    const refused = this.#context.buffer.admit(this.#model, texts.length);
    if (refused) return Promise.reject(refused);
    return new Promise<IglooIngestVerdict>((resolve, reject) => {
      // No second promise per call for flush() to wait on: a call is an entry in #open,
      // and flushes are woken when the oldest open call passes their mark.
      const finish = () => {
        this.#open.delete(call);
        if (this.#flushes.length > 0) this.#wakeFlushes();
      };
      const call: Call = {
        id: ++this.#lastCallId,
        size: texts.length,
        verdict: { accepted: 0, rejected: 0, errors: [], token: "" },
        unanswered: texts.length,
        settled: false,
        resolve: (verdict) => (finish(), resolve(verdict)),
        reject: (error) => (finish(), reject(error)),
      };
      this.#open.add(call);
      const at = Date.now();
      for (const [index, text] of texts.entries()) {
        const bytes = utf8Length(text);
        this.#queue.push({ call, index, text, bytes, at });
        this.#queuedBytes += bytes;
      }
      if (this.#full()) this.#nudge();
      this.#run();
    });
  }

  /** Sends what is buffered now; resolves once every call made so far has its answer. */
  flush(): Promise<void> {
    this.#urgentUpTo = this.#lastCallId;
    this.#nudge();
    const upTo = this.#lastCallId;
    return new Promise<void>((resolve) => {
      this.#flushes.push({ upTo, resolve });
      this.#wakeFlushes();
    });
  }

  #wakeFlushes(): void {
    const oldest = this.#open.values().next().value?.id ?? Number.POSITIVE_INFINITY;
    const waiting: { upTo: number; resolve: () => void }[] = [];
    for (const flush of this.#flushes) {
      if (oldest > flush.upTo) flush.resolve();
      else waiting.push(flush);
    }
    this.#flushes = waiting;
  }

  #full(): boolean {
    return this.#queue.length - this.#head >= this.#maxRecords || this.#queuedBytes >= this.#maxBytes;
  }

  #nudge(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #run(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop()
      .catch((error: unknown) => this.#failQueued(new IglooError("E_PROTOCOL", `ingest ${this.#model}: the client failed unexpectedly (${String(error)})`, { cause: error })))
      .finally(() => {
        this.#running = false;
        if (this.#peek()) this.#run();
      });
  }

  async #loop(): Promise<void> {
    for (let head = this.#peek(); head; head = this.#peek()) {
      if (this.#context.closed.aborted) return this.#failQueued(new IglooError("E_CLOSED", `ingest ${this.#model}: the client was closed before these records were sent`));
      const wait = head.at + (this.#context.options.lingerMs ?? 50) - Date.now();
      if (wait > 0 && !this.#full() && head.call.id > this.#urgentUpTo) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => this.#nudge(), wait);
          this.#wake = () => (clearTimeout(timer), resolve());
        });
        continue;
      }
      await this.#send(this.#take());
    }
  }

  /** The first queued record whose call is still waiting; records of failed calls are dropped. */
  #peek(): Entry | undefined {
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head]!;
      if (!entry.call.settled) return entry;
      this.#head++;
      this.#queuedBytes -= entry.bytes;
      this.#context.buffer.release(1);
    }
    return undefined;
  }

  #take(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 2;
    for (let entry = this.#peek(); entry && batch.length < this.#maxRecords; entry = this.#peek()) {
      if (batch.length > 0 && bytes + entry.bytes + 1 > this.#maxBytes) break;
      batch.push(entry);
      bytes += entry.bytes + 1;
      this.#head++;
      this.#queuedBytes -= entry.bytes;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  async #send(batch: Entry[]): Promise<void> {
    const what = `ingest ${this.#model}`;
    const { transport, buffer, closed } = this.#context;
    const body = `[${batch.map((e) => e.text).join(",")}]`;
    for (let attempt = 0; ; attempt++) {
      let retryAfter: number | undefined;
      try {
        const response = await transport.request(`/ingest/${encodeURIComponent(this.#model)}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: closed,
          keepalive: this.#context.leaving() && body.length < 60_000,
        });
        if (response.status === 200) return await this.#acknowledged(batch, response);
        const error = await errorFromResponse(response, what);
        if (!RETRYABLE.has(response.status)) {
          buffer.healthy();
          if (response.status === 413 && batch.length > 1) return this.#requeueSmaller(batch);
          return this.#fail(batch, error);
        }
        retryAfter = retryAfterMs(response.headers.get("retry-after"));
        buffer.failing(error.message);
      } catch (error) {
        if (closed.aborted) return this.#fail(batch, new IglooError("E_CLOSED", `${what}: the client was closed while sending; these records may or may not have been stored`));
        buffer.failing(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
      try {
        await sleep(nextDelay(attempt, retryAfter, this.#context.options.backoff), closed);
      } catch {
        return this.#fail(batch, new IglooError("E_CLOSED", `${what}: the client was closed before these records were stored`));
      }
    }
  }

  async #acknowledged(batch: Entry[], response: Response): Promise<void> {
    this.#context.buffer.healthy();
    let answer: { errors?: unknown; token?: unknown };
    try {
      answer = (await response.json()) as typeof answer;
    } catch (error) {
      const message = `ingest ${this.#model}: the server stored this batch but its answer was cut off; the records are kept and not resent, their verdicts are unknown`;
      return this.#fail(batch, new IglooError("E_VERDICT_LOST", message, { status: 200, cause: error }));
    }
    if (!Array.isArray(answer.errors) || typeof answer.token !== "string") {
      const message = `ingest ${this.#model}: the server acknowledged this batch with an answer this client does not understand; the records are kept and not resent`;
      return this.#fail(batch, new IglooError("E_PROTOCOL", message, { status: 200 }));
    }
    const reasons = new Map<number, string>();
    for (const e of answer.errors as { index?: unknown; message?: unknown }[]) {
      if (typeof e.index === "number") reasons.set(e.index, String(e.message));
    }
    for (const [i, entry] of batch.entries()) {
      const { call } = entry;
      const reason = reasons.get(i);
      if (reason === undefined) call.verdict.accepted++;
      else {
        call.verdict.rejected++;
        call.verdict.errors.push({ index: entry.index, message: reason });
      }
      // Batches of one model go one after another, so the last token covers the earlier ones.
      call.verdict.token = answer.token;
      if (--call.unanswered === 0 && !call.settled) {
        call.settled = true;
        call.resolve(call.verdict);
      }
    }
    this.#context.buffer.release(batch.length);
  }

  /** 413: the server takes smaller bodies than configured; halve the batch limits and go again. */
  #requeueSmaller(batch: Entry[]): void {
    const bytes = batch.reduce((sum, e) => sum + e.bytes, 0);
    this.#maxBytes = Math.max(1, Math.floor(bytes / 2));
    this.#maxRecords = Math.max(1, Math.floor(batch.length / 2));
    this.#queue = batch.concat(this.#queue.slice(this.#head));
    this.#head = 0;
    this.#queuedBytes += bytes;
  }

  /** Rejects every call with records in `batch`; their records still queued are dropped. */
  #fail(batch: readonly Entry[], error: IglooError): void {
    this.#context.buffer.release(batch.length);
    for (const { call } of batch) {
      if (call.settled) continue;
      call.settled = true;
      const { accepted, rejected } = call.verdict;
      if (accepted + rejected === 0) call.reject(error);
      else {
        const partly = `${error.message} (of this call's ${call.size} records, ${accepted} had already been accepted and ${rejected} rejected in earlier batches)`;
        call.reject(new IglooError(error.code, partly, { ...(error.status === undefined ? {} : { status: error.status }), cause: error }));
      }
    }
  }

  #failQueued(error: IglooError): void {
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#fail(rest, error);
  }
}
