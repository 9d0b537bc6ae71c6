/**
 * Ingest for one model: calls are merged into batches (by count, bytes or time), one
 * batch is in flight at a time (so records keep their order and a slow server slows the
 * sender, not the other way round), and the server's verdict on a batch is split back
 * into one verdict per call, with indexes relative to that call.
 *
 * A batch is resent only when the server said nothing was stored (503, 502, 504) or
 * never answered (a network error). An answered batch is never resent: a 200 is the
 * acknowledgement, even when its body is lost on the way back. Every attempt of a batch
 * carries the same `idempotency-key`, so when a connection breaks after the server
 * stored the batch but before its answer arrived, the resend gets the first answer back
 * instead of storing the records again (the server remembers keys for 10 minutes, in
 * the process that took the batch).
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

/** Statuses after which nothing was stored and the same request may succeed later. */
const RETRYABLE = new Set([502, 503, 504]);

/**
 * A call with an array of records, queued as it came: the queue holds calls, not
 * records, so a call costs one object however it is batched. Its records go out in
 * order, possibly over several batches (`next` is the first one not yet taken).
 */
interface Call {
  /** The JSON of each record. */
  readonly texts: readonly string[];
  next: number;
  unanswered: number;
  accepted: number;
  rejected: number;
  errors: { index: number; message: string }[] | undefined;
  token: string;
  settled: boolean;
  /** Unset for `send()` calls, whose outcomes go to the onRejected and onError handlers. */
  readonly resolve: ((verdict: IglooIngestVerdict) => void) | undefined;
  readonly reject: ((error: IglooError) => void) | undefined;
}

/** A call with one record: always wholly in one batch, so it needs little keeping. */
class One {
  readonly text: string;
  readonly resolve: (verdict: IglooIngestVerdict) => void;
  readonly reject: (error: IglooError) => void;

  constructor(text: string, resolve: (verdict: IglooIngestVerdict) => void, reject: (error: IglooError) => void) {
    this.text = text;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/**
 * What the queue holds: a call, a one-record call, or, for the commonest case of all,
 * `send()` of one record: nothing but that record's JSON, no object, no promise.
 */
type Item = Call | One | string;

/** Consecutive one-record items, taken together. */
type Run = readonly (One | string)[];

/** One request: its body, and which records of which items it carries, in order. */
interface Batch {
  readonly body: string;
  readonly segments: (Run | Call)[];
  /** For each call among the segments: the index (in that call) of its first record here, and how many follow. */
  readonly from: number[];
  readonly counts: number[];
  readonly records: number;
  /** How many of its records are one-record calls with a promise to resolve. */
  readonly ones: number;
  /** What taking it removed from the queue's size estimate (UTF-16 lengths). */
  readonly chars: number;
  /** Where in the queue, and at which sequence number, taking it began. */
  readonly startIndex: number;
  readonly startSeq: number;
  /** The sequence number after its last item, and whether that item goes on in a later batch. */
  readonly endSeq: number;
  readonly cutShort: boolean;
  /** Sent as `idempotency-key`, the same on every attempt, so a resend is stored once. */
  readonly key: string;
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
  /** True from the moment `close()` is called: calls made after it are refused. */
  readonly closing: () => boolean;
  /** Aborts when the client is closed for good (after `close()` sent what it could). */
  readonly closed: AbortSignal;
  /** Browsers: the page is going away, send with `keepalive`. */
  readonly leaving: () => boolean;
  /** This client's own random name, the start of its batches' idempotency keys. */
  readonly id: string;
}

export class ModelBatcher {
  readonly #model: string;
  readonly #context: BatcherContext;
  readonly #linger: number;
  #maxRecords: number;
  #maxBytes: number;
  /**
   * Records the next batch may hold while a batch refused whole (400) is taken apart: each
   * refusal halves it, so the record at fault ends up alone and fails only its own call;
   * a stored batch lifts it.
   */
  #splitting: number | undefined;
  #queue: Item[] = [];
  #head = 0;
  /**
   * Items are numbered as they are queued: `#headSeq` is the number of the item at the
   * head, `#nextSeq` the number the next one gets. Items are answered in that order
   * (batches go one at a time, in queue order, their answers are read in order), so
   * "every item before `#answeredSeq` has its answer" is all flush() needs to know.
   */
  #headSeq = 0;
  #nextSeq = 0;
  #answeredSeq = 0;
  /** Items numbered below this skip lingering: flush() asked for them. */
  #urgentSeq = 0;
  /** Records queued and not yet taken into a batch, and an estimate of their size (UTF-16 lengths). */
  #queuedRecords = 0;
  #queuedChars = 0;
  /** When the oldest record not yet taken arrived (or earlier: it never delays a batch). */
  #since = 0;
  #inFlight: Batch | undefined;
  /** The next batch, built while the one before it is in flight. */
  #ready: Batch | undefined;
  /**
   * Answers being read. A 200 is the acknowledgement, so the next batch goes out while
   * the previous answer is parsed and its calls resolved; everything that settles calls
   * otherwise waits for this first, so calls are always answered in order.
   */
  #answers: Promise<void> = Promise.resolve();
  #running = false;
  #batches = 0;
  #wake: (() => void) | undefined;
  /** `flush()` callers, in the order they asked, each waiting for every item before `upTo`. */
  #flushes: { upTo: number; resolve: () => void }[] = [];

  constructor(model: string, context: BatcherContext) {
    this.#model = model;
    this.#context = context;
    this.#linger = context.options.lingerMs ?? 50;
    this.#maxRecords = context.options.maxBatchRecords ?? 500;
    this.#maxBytes = context.options.maxBatchBytes ?? 1024 * 1024;
    context.closed.addEventListener("abort", () => this.#nudge(), { once: true });
  }

  /** Queues a record or an array of records; resolves to the server's verdict on them. */
  ingest(input: unknown): Promise<IglooIngestVerdict> {
    if (!Array.isArray(input)) {
      const text = this.#admitOne(input);
      if (text instanceof IglooError) return Promise.reject(text);
      return new Promise<IglooIngestVerdict>((resolve, reject) => this.#push(new One(text, resolve, reject), 1, text.length));
    }
    return new Promise<IglooIngestVerdict>((resolve, reject) => {
      // The call is queued with its resolvers, so nothing can answer it before it has them.
      const call = this.#enqueueCall(input, resolve, reject);
      if (call instanceof IglooError) reject(call);
      else if (call === undefined) resolve({ accepted: 0, rejected: 0, errors: [], token: "" });
    });
  }

  /**
   * Queues a record or an array of records and returns nothing to wait on: the cheapest
   * way to send one event at a time. Throws at once what can be known at once (closed
   * client, a record that is not JSON, a full buffer); rejections and failures found
   * later go to the onRejected and onError handlers, and `flush()` waits for these records too.
   */
  send(input: unknown): void {
    const refused = Array.isArray(input) ? this.#enqueueCall(input) : this.#enqueueOne(input);
    if (refused instanceof IglooError) throw refused;
  }

  #enqueueOne(record: unknown): IglooError | undefined {
    const text = this.#admitOne(record);
    if (text instanceof IglooError) return text;
    this.#push(text, 1, text.length);
    return undefined;
  }

  /** One record's JSON, taken into the buffer, or why not. */
  #admitOne(record: unknown): string | IglooError {
    if (this.#context.closing()) return this.#closedError();
    const text = this.#serialize(record, 0);
    if (text instanceof IglooError) return text;
    return this.#context.buffer.admit(this.#model, 1) ?? text;
  }

  #enqueueCall(input: readonly unknown[], resolve?: Call["resolve"], reject?: Call["reject"]): Call | IglooError | undefined {
    if (this.#context.closing()) return this.#closedError();
    if (input.length === 0) return undefined;
    const texts = new Array<string>(input.length);
    let chars = 0;
    for (let i = 0; i < input.length; i++) {
      const text = this.#serialize(input[i], i);
      if (text instanceof IglooError) return text;
      texts[i] = text;
      chars += text.length;
    }
    const refused = this.#context.buffer.admit(this.#model, texts.length);
    if (refused) return refused;
    const call: Call = { texts, next: 0, unanswered: texts.length, accepted: 0, rejected: 0, errors: undefined, token: "", settled: false, resolve, reject };
    this.#push(call, texts.length, chars);
    return call;
  }

  #push(item: Item, records: number, chars: number): void {
    // Only an item arriving to an empty queue reads the clock; the ones after it are
    // counted from its time, which can only send them sooner.
    if (this.#queuedRecords === 0) this.#since = Date.now();
    this.#queue.push(item);
    this.#nextSeq++;
    this.#queuedRecords += records;
    this.#queuedChars += chars;
    if (this.#full()) this.#nudge();
    if (!this.#running) this.#run();
  }

  #closedError(): IglooError {
    return new IglooError("E_CLOSED", `ingest ${this.#model}: the client is closed; create a new one to send more`);
  }

  #serialize(record: unknown, index: number): string | IglooError {
    try {
      const text = toJson(record) as string | undefined;
      if (text === undefined) throw new TypeError(`${typeof record} is not a JSON value`);
      return text;
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return new IglooError("E_SERIALIZE", `ingest ${this.#model}: record ${index} cannot be written as JSON (${why}); nothing of this call was sent`, { cause: error });
    }
  }

  /** Sends what is buffered now; resolves once every call made so far has its answer. */
  flush(): Promise<void> {
    const upTo = this.#nextSeq;
    this.#urgentSeq = upTo;
    this.#nudge();
    if (this.#answeredSeq >= upTo) return Promise.resolve();
    return new Promise<void>((resolve) => this.#flushes.push({ upTo, resolve }));
  }

  /** Every item before `seq` has its answer. */
  #answered(seq: number): void {
    if (seq > this.#answeredSeq) this.#answeredSeq = seq;
    while (this.#flushes.length > 0 && this.#flushes[0]!.upTo <= this.#answeredSeq) this.#flushes.shift()!.resolve();
  }

  #full(): boolean {
    return this.#queuedRecords >= this.#maxRecords || this.#queuedChars >= this.#maxBytes;
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
      .catch(async (error: unknown) => {
        await this.#answers;
        const failure = new IglooError("E_PROTOCOL", `ingest ${this.#model}: the client failed unexpectedly (${String(error)})`, { cause: error });
        if (this.#inFlight) this.#fail(this.#inFlight, failure);
        if (this.#ready) this.#fail(this.#ready, failure);
        this.#failQueued(failure);
      })
      .finally(() => {
        this.#inFlight = undefined;
        this.#ready = undefined;
        this.#running = false;
        if (this.#peek() !== undefined) this.#run();
      });
  }

  async #loop(): Promise<void> {
    for (;;) {
      if (this.#ready === undefined) {
        // No batch taken is outstanding, so the queue may be shortened.
        this.#compact();
        if (this.#peek() === undefined) return;
      }
      if (this.#context.closed.aborted) {
        await this.#answers;
        if (this.#ready) this.#untake(this.#ready);
        this.#ready = undefined;
        return this.#failQueued(new IglooError("E_CLOSED", `ingest ${this.#model}: the client was closed before these records were sent`));
      }
      let batch = this.#ready;
      this.#ready = undefined;
      if (batch === undefined) {
        const wait = this.#since + this.#linger - Date.now();
        if (wait > 0 && !this.#full() && this.#headSeq >= this.#urgentSeq) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => this.#nudge(), wait);
            this.#wake = () => (clearTimeout(timer), resolve());
          });
          continue;
        }
        batch = this.#take();
      }
      this.#inFlight = batch;
      const sending = this.#send(batch);
      // While this one is in flight, a full batch already waiting is built, to go out the
      // moment this one is stored. Anything but "stored" puts it back, so order holds.
      if (this.#full()) this.#ready = this.#take();
      const outcome = await sending;
      this.#inFlight = undefined;
      if (outcome !== "stored" && this.#ready !== undefined) {
        this.#untake(this.#ready);
        this.#ready = undefined;
      }
      if (outcome === "smaller") this.#requeueSmaller(batch);
      if (outcome === "split") {
        this.#splitting = Math.max(1, Math.floor(batch.records / 2));
        this.#untake(batch);
      } else if (outcome === "stored") {
        this.#splitting = undefined;
      }
    }
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The item at the head of the queue; what is left of failed calls is dropped on the way. */
  #peek(): Item | undefined {
    while (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head]!;
      if (typeof item === "string" || item instanceof One || !item.settled) return item;
      const size = item.texts.length;
      const untaken = size - item.next;
      if (untaken > 0) {
        this.#queuedRecords -= untaken;
        this.#queuedChars -= chars(item.texts, item.next, size);
        this.#context.buffer.release(untaken);
        item.next = size; // so that passing it again (after #untake) drops nothing twice
      }
      this.#head++;
      this.#headSeq++;
    }
    return undefined;
  }

  /**
   * The next batch: whole items while they fit, and the first records of the one that
   * does not. Sizes are first taken as UTF-16 lengths, which are the UTF-8 ones for ASCII
   * text; only a body that could be over the limit is scanned, and only one that is not
   * ASCII and over the limit is taken again, measuring each record.
   */
  #take(exact = false): Batch {
    const startIndex = this.#head;
    const startSeq = this.#headSeq;
    const parts: string[] = [];
    const segments: (Run | Call)[] = [];
    const from: number[] = [];
    const counts: number[] = [];
    const maxRecords = Math.min(this.#maxRecords, this.#splitting ?? Infinity);
    // The body's bytes: brackets, the records, a comma before each but the first. A
    // batch's first record goes even when it alone is over the limit.
    const room = this.#maxBytes - 1;
    let records = 0;
    let recordBytes = 0;
    let taken = 0;
    let ones = 0;
    let cutShort = false;
    for (let item = this.#peek(); item !== undefined && records < maxRecords; item = this.#peek()) {
      if (typeof item === "string" || item instanceof One) {
        // A run of one-record items: measured one by one, copied and joined at once.
        const queue = this.#queue;
        const start = this.#head;
        const onesBefore = ones;
        let end = start;
        let full = false;
        for (; end < queue.length && records < maxRecords; end++) {
          const next = queue[end]!;
          let text: string;
          if (typeof next === "string") text = next;
          else if (next instanceof One) {
            text = next.text;
            ones++;
          } else break;
          const bytes = exact ? utf8Length(text) : text.length;
          if (records > 0 && recordBytes + records + bytes >= room) {
            if (next instanceof One) ones--;
            full = true;
            break;
          }
          records++;
          recordBytes += bytes;
          taken += text.length;
        }
        if (end === start) break;
        const run = queue.slice(start, end) as (One | string)[];
        segments.push(run);
        parts.push(ones === onesBefore ? run.join(",") : run.map(textOf).join(","));
        this.#headSeq += end - start;
        this.#head = end;
        if (full) break;
        continue;
      }
      const start = item.next;
      let count = 0;
      const texts = item.texts;
      for (let i = start; i < texts.length && records + count < maxRecords; i++, count++) {
        const text = texts[i]!;
        const bytes = exact ? utf8Length(text) : text.length;
        const before = records + count;
        if (before > 0 && recordBytes + before + bytes >= room) break;
        recordBytes += bytes;
        taken += text.length;
      }
      if (count === 0) break;
      parts.push(count === texts.length ? texts.join(",") : texts.slice(start, start + count).join(","));
      segments.push(item);
      from.push(start);
      counts.push(count);
      records += count;
      item.next = start + count;
      if (item.next < texts.length) {
        cutShort = true; // the batch is full; the rest of this call goes next
        break;
      }
      this.#head++;
      this.#headSeq++;
    }
    this.#queuedRecords -= records;
    this.#queuedChars -= taken;
    const body = `[${parts.join(",")}]`;
    const key = `${this.#context.id}-${++this.#batches}`;
    const batch: Batch = { body, segments, from, counts, records, ones, chars: taken, startIndex, startSeq, endSeq: this.#headSeq, cutShort, key };
    // UTF-8 takes at most 3 bytes per UTF-16 unit: most bodies cannot be over, unscanned.
    if (!exact && records > 1 && body.length * 3 > this.#maxBytes && NON_ASCII.test(body) && utf8Length(body) > this.#maxBytes) {
      this.#untake(batch);
      return this.#take(true);
    }
    return batch;
  }

  /** Puts a batch back at the head of the queue, as if it had never been taken. */
  #untake(batch: Batch): void {
    let c = 0;
    for (const segment of batch.segments) if (!isRun(segment)) segment.next = batch.from[c++]!;
    this.#head = batch.startIndex;
    this.#headSeq = batch.startSeq;
    this.#queuedRecords += batch.records;
    this.#queuedChars += batch.chars;
  }

  /** Sends until stored (retrying what may be retried); says how it ended. */
  async #send(batch: Batch): Promise<"stored" | "failed" | "smaller" | "split"> {
    const what = `ingest ${this.#model}`;
    const { transport, buffer, closed } = this.#context;
    const { body } = batch;
    for (let attempt = 0; ; attempt++) {
      let retryAfter: number | undefined;
      try {
        const response = await transport.request(`/ingest/${encodeURIComponent(this.#model)}`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": batch.key },
          body,
          signal: closed,
          keepalive: this.#context.leaving() && body.length < 60_000,
        });
        if (response.status === 200) {
          this.#answers = this.#answers
            .then(() => this.#acknowledged(batch, response))
            .catch((error: unknown) => this.#fail(batch, new IglooError("E_PROTOCOL", `${what}: the client failed reading the server's answer (${String(error)}); the records are kept and not resent`, { status: 200, cause: error })));
          return "stored";
        }
        const error = await errorFromResponse(response, what);
        if (!RETRYABLE.has(response.status)) {
          buffer.healthy();
          // Refused whole (a hostile record, too many invalid ones): nothing was stored. If
          // the batch holds records of several calls, only the one at fault may fail.
          if (response.status === 400 && severalCalls(batch)) {
            await this.#answers;
            return "split";
          }
          if (response.status !== 413 || batch.records === 1) return this.#failInOrder(batch, error);
          await this.#answers;
          return "smaller";
        }
        retryAfter = retryAfterMs(response.headers.get("retry-after"));
        buffer.failing(error.message);
      } catch (error) {
        if (closed.aborted) return this.#failInOrder(batch, new IglooError("E_CLOSED", `${what}: the client was closed while sending; these records may or may not have been stored`));
        buffer.failing(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
      try {
        await sleep(nextDelay(attempt, retryAfter, this.#context.options.backoff), closed);
      } catch {
        return this.#failInOrder(batch, new IglooError("E_CLOSED", `${what}: the client was closed before these records were stored`));
      }
    }
  }

  /** Fails a batch once the answers before it are read, so calls are answered in order. */
  async #failInOrder(batch: Batch, error: IglooError): Promise<"failed"> {
    await this.#answers;
    this.#fail(batch, error);
    return "failed";
  }

  /** Reads a 200's answer and splits it into the verdicts of the batch's calls. */
  async #acknowledged(batch: Batch, response: Response): Promise<void> {
    this.#context.buffer.healthy();
    let answer: { errors?: unknown; token?: unknown };
    try {
      answer = (await response.json()) as typeof answer;
      if (answer === null || typeof answer !== "object") answer = {};
    } catch (error) {
      const message = `ingest ${this.#model}: the server stored this batch but its answer was cut off; the records are kept and not resent, their verdicts are unknown`;
      return this.#fail(batch, new IglooError("E_VERDICT_LOST", message, { status: 200, cause: error }));
    }
    const { errors, token } = answer;
    if (!Array.isArray(errors) || typeof token !== "string") {
      const message = `ingest ${this.#model}: the server acknowledged this batch with an answer this client does not understand; the records are kept and not resent`;
      return this.#fail(batch, new IglooError("E_PROTOCOL", message, { status: 200 }));
    }
    // The server lists rejected records by their index in the batch; map each to its call.
    const reasons = new Map<number, string>();
    for (const e of errors as unknown[]) {
      const { index, message } = (typeof e === "object" && e !== null ? e : {}) as { index?: unknown; message?: unknown };
      if (typeof index === "number") reasons.set(index, String(message));
    }
    const { segments, from, counts } = batch;
    let offset = 0;
    let c = 0;
    for (const item of segments) {
      if (isRun(item)) {
        if (reasons.size > 0 || batch.ones > 0) {
          for (let i = 0; i < item.length; i++) {
            const one = item[i]!;
            const reason = reasons.size > 0 ? reasons.get(offset + i) : undefined;
            if (typeof one !== "string") {
              const errors = reason === undefined ? [] : [{ index: 0, message: reason }];
              one.resolve({ accepted: 1 - errors.length, rejected: errors.length, errors, token });
            } else if (reason !== undefined) this.#reportRejection(one, reason);
          }
        }
        offset += item.length;
        continue;
      }
      const count = counts[c]!;
      const first = from[c++]!;
      let rejected = 0;
      if (reasons.size > 0) {
        for (let i = 0; i < count; i++) {
          const reason = reasons.get(offset + i);
          if (reason === undefined) continue;
          rejected++;
          (item.errors ??= []).push({ index: first + i, message: reason });
        }
      }
      offset += count;
      item.accepted += count - rejected;
      item.rejected += rejected;
      // Batches of one model go one after another, so the last token covers the earlier ones.
      item.token = token;
      item.unanswered -= count;
      if (item.unanswered === 0 && !item.settled) {
        item.settled = true;
        if (item.resolve) item.resolve({ accepted: item.accepted, rejected: item.rejected, errors: item.errors ?? [], token });
        else if (item.errors) for (const { index, message } of item.errors) this.#reportRejection(item.texts[index]!, message);
      }
    }
    this.#context.buffer.release(batch.records);
    this.#answered(batch.endSeq);
  }

  /** 413: the server takes smaller bodies than configured; halve the batch limits and go again. */
  #requeueSmaller(batch: Batch): void {
    this.#maxBytes = Math.max(1, Math.floor(utf8Length(batch.body) / 2));
    this.#maxRecords = Math.max(1, Math.floor(batch.records / 2));
    this.#untake(batch);
  }

  /** Rejects every call with records in `batch`; their records still queued are dropped. */
  #fail(batch: Batch, error: IglooError): void {
    this.#context.buffer.release(batch.records);
    this.#rejectAll(batch.segments, error);
    this.#answered(batch.endSeq + (batch.cutShort ? 1 : 0));
  }

  /** Rejects every queued call that has not been answered. */
  #failQueued(error: IglooError): void {
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#headSeq = this.#nextSeq;
    this.#context.buffer.release(this.#queuedRecords);
    this.#queuedRecords = 0;
    this.#queuedChars = 0;
    this.#rejectAll(rest, error);
    this.#answered(this.#nextSeq);
  }

  #rejectAll(items: readonly (Item | Run)[], error: IglooError): void {
    let sent = 0;
    const single = (item: One | string) => {
      if (typeof item === "string") sent++;
      else item.reject(error);
    };
    for (const item of items) {
      if (typeof item === "string" || item instanceof One) {
        single(item);
        continue;
      }
      if (isRun(item)) {
        item.forEach(single);
        continue;
      }
      if (item.settled) continue;
      item.settled = true;
      const { accepted, rejected } = item;
      const size = item.texts.length;
      if (!item.reject) sent += size - accepted - rejected;
      else if (accepted + rejected === 0) item.reject(error);
      else item.reject(restated(error, `${error.message} (of this call's ${size} records, ${accepted} had already been accepted and ${rejected} rejected in earlier batches)`));
    }
    if (sent > 0) {
      const lost = restated(error, `${error.message} (${sent} records given to send())`);
      this.#report(() => (this.#context.options.onError ?? defaultOnError)(lost));
    }
  }

  #reportRejection(text: string, message: string): void {
    const onRejected = this.#context.options.onRejected ?? defaultOnRejected;
    this.#report(() => onRejected({ model: this.#model, record: JSON.parse(text) as unknown, message }));
  }

  /** A handler's own error must not stop the batcher: it is logged and sending goes on. */
  #report(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      console.error(`igloo client: an ingest ${this.#model} handler threw (${error instanceof Error ? error.message : String(error)}); sending goes on`);
    }
  }
}

function defaultOnRejected(rejection: IglooRejection): void {
  console.warn(`igloo client: ingest ${rejection.model} rejected a record given to send(): ${rejection.message}`);
}

function defaultOnError(error: IglooError): void {
  console.error(`igloo client: ${error.message}`);
}

/** The same failure in other words: its code and status kept, the original as its cause. */
function restated(error: IglooError, message: string): IglooError {
  return new IglooError(error.code, message, error.status === undefined ? { cause: error } : { status: error.status, cause: error });
}

function isRun(segment: Run | Call | One | string): segment is Run {
  return Array.isArray(segment);
}

/** Whether a batch holds records of more than one call (send() records are each their own). */
function severalCalls(batch: Batch): boolean {
  if (batch.records < 2) return false;
  const [first] = batch.segments;
  return batch.segments.length > 1 || (first !== undefined && isRun(first));
}

function textOf(item: One | string): string {
  return typeof item === "string" ? item : item.text;
}

/** The UTF-16 length of texts[from..to). */
function chars(texts: readonly string[], from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) total += texts[i]!.length;
  return total;
}
