/**
 * Ingest for one model: calls are merged into batches (by count, bytes or time), one
 * batch is in flight at a time (so records keep their order and a slow server slows the
 * sender, not the other way round), and the server's verdict on a batch is split back
 * into one verdict per call, with indexes relative to that call.
 *
 * This class keeps the queue and the loop; what goes in a request is packing.ts, how a
 * request is attempted and retried is ingestRequest.ts, how its answer is split among
 * the calls is verdicts.ts, and how callers are told is settle.ts.
 */
import type { IngestBuffer } from "./buffer.js";
import { IglooError } from "./errors.js";
import type { Transport } from "./http.js";
import { Flushes } from "./flushes.js";
import { attempt } from "./ingestRequest.js";
import type { IglooIngestOptions, IglooIngestVerdict } from "./ingestTypes.js";
import { isRun, One, pack, type Call, type Item, type Packed } from "./packing.js";
import { charsOf, callJson, closedError, recordJson } from "./records.js";
import { handlers, rejectAll, settleStored, type Outcomes } from "./settle.js";
import { halved, readAnswer, rejectionsBySegment, severalCalls, smallerLimits } from "./verdicts.js";

/** How sending a batch ended: stored, failed (its calls told), or to be sent again smaller or taken apart. */
type Outcome = "stored" | "failed" | "smaller" | "split";

/** One request: what packing took, and where in the queue it began. */
interface Batch extends Packed {
  /** Where in the queue, and at which sequence number, taking it began. */
  readonly startIndex: number;
  readonly startSeq: number;
  /** The sequence number after its last item. */
  readonly endSeq: number;
  /** Sent as `idempotency-key`, the same on every attempt, so a resend is stored once. */
  readonly key: string;
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
  /** Items are numbered as they are queued (flushes.ts): the item at the head, and the next one queued. */
  #headSeq = 0;
  #nextSeq = 0;
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
  readonly #flushes = new Flushes();
  /** Where what `send()` records come to goes: the onRejected and onError handlers, guarded. */
  readonly #outcomes: Outcomes;

  constructor(model: string, context: BatcherContext) {
    this.#model = model;
    this.#context = context;
    this.#linger = context.options.lingerMs ?? 50;
    this.#maxRecords = context.options.maxBatchRecords ?? 500;
    this.#maxBytes = context.options.maxBatchBytes ?? 1024 * 1024;
    context.closed.addEventListener("abort", () => this.#nudge(), { once: true });
    this.#outcomes = handlers(model, context.options);
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
    if (this.#context.closing()) return closedError(this.#model);
    const text = recordJson(this.#model, record, 0);
    if (text instanceof IglooError) return text;
    return this.#context.buffer.admit(this.#model, 1) ?? text;
  }

  #enqueueCall(input: readonly unknown[], resolve?: Call["resolve"], reject?: Call["reject"]): Call | IglooError | undefined {
    if (this.#context.closing()) return closedError(this.#model);
    if (input.length === 0) return undefined;
    const json = callJson(this.#model, input);
    if (json instanceof IglooError) return json;
    const { texts, chars } = json;
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

  /** Sends what is buffered now; resolves once every call made so far has its answer. */
  flush(): Promise<void> {
    const upTo = this.#nextSeq;
    this.#urgentSeq = upTo;
    this.#nudge();
    return this.#flushes.wait(upTo);
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
        if (await this.#lingered()) continue;
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
      this.#ended(batch, outcome);
    }
  }

  /** Waits for company for the records at the head, unless they are due; says whether it waited. */
  async #lingered(): Promise<boolean> {
    const wait = this.#since + this.#linger - Date.now();
    if (wait <= 0 || this.#full() || this.#headSeq < this.#urgentSeq) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#nudge(), wait);
      this.#wake = () => (clearTimeout(timer), resolve());
    });
    return true;
  }

  /** After a batch: a refused one goes back to be sent smaller (413) or taken apart (400). */
  #ended(batch: Batch, outcome: Outcome): void {
    if (outcome === "smaller") {
      ({ maxBytes: this.#maxBytes, maxRecords: this.#maxRecords } = smallerLimits(batch.body, batch.records));
      this.#untake(batch);
    }
    if (outcome === "split") {
      this.#splitting = halved(batch.records);
      this.#untake(batch);
    } else if (outcome === "stored") {
      this.#splitting = undefined;
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
      this.#drop(item);
      this.#head++;
      this.#headSeq++;
    }
    return undefined;
  }

  /** Lets go of the records of a failed call that were never taken. */
  #drop(call: Call): void {
    const size = call.texts.length;
    const untaken = size - call.next;
    if (untaken === 0) return;
    this.#queuedRecords -= untaken;
    this.#queuedChars -= charsOf(call.texts, call.next, size);
    this.#context.buffer.release(untaken);
    call.next = size; // so that passing it again (after #untake) drops nothing twice
  }

  /** The next batch, packed (packing.ts) and taken from the queue. */
  #take(): Batch {
    const startIndex = this.#head;
    const startSeq = this.#headSeq;
    const packed = pack(this.#queue, startIndex, { maxRecords: Math.min(this.#maxRecords, this.#splitting ?? Infinity), maxBytes: this.#maxBytes });
    for (const call of packed.dropped) this.#drop(call);
    const { segments, from, counts } = packed;
    for (let s = 0; s < segments.length; s++) {
      const segment = segments[s]!;
      if (!isRun(segment)) segment.next = from[s]! + counts[s]!;
    }
    this.#head = packed.end;
    this.#headSeq = startSeq + (packed.end - startIndex);
    this.#queuedRecords -= packed.records;
    this.#queuedChars -= packed.chars;
    return { ...packed, startIndex, startSeq, endSeq: this.#headSeq, key: `${this.#context.id}-${++this.#batches}` };
  }

  /** Puts a batch back at the head of the queue, as if it had never been taken. */
  #untake(batch: Batch): void {
    const { segments, from } = batch;
    for (let s = 0; s < segments.length; s++) {
      const segment = segments[s]!;
      if (!isRun(segment)) segment.next = from[s]!;
    }
    this.#head = batch.startIndex;
    this.#headSeq = batch.startSeq;
    this.#queuedRecords += batch.records;
    this.#queuedChars += batch.chars;
  }

  /** Sends until answered for good (ingestRequest.ts); says how it ended. */
  async #send(batch: Batch): Promise<Outcome> {
    const { transport, buffer, closed, leaving, options } = this.#context;
    const ended = await attempt({ transport, buffer, model: this.#model, body: batch.body, key: batch.key, closed, leaving, backoff: options.backoff });
    if ("stored" in ended) {
      const what = `ingest ${this.#model}: the client failed reading the server's answer`;
      this.#answers = this.#answers
        .then(() => this.#acknowledged(batch, ended.stored))
        .catch((error: unknown) => this.#fail(batch, new IglooError("E_PROTOCOL", `${what} (${String(error)}); the records are kept and not resent`, { status: 200, cause: error })));
      return "stored";
    }
    if ("closed" in ended) return this.#failInOrder(batch, ended.closed);
    // Refused whole (a hostile record, too many invalid ones): nothing was stored. If
    // the batch holds records of several calls, only the one at fault may fail.
    const { status, error } = ended;
    if (status === 400 && severalCalls(batch.segments, batch.records)) {
      await this.#answers;
      return "split";
    }
    if (status !== 413 || batch.records === 1) return this.#failInOrder(batch, error);
    await this.#answers;
    return "smaller";
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
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      const message = `ingest ${this.#model}: the server stored this batch but its answer was cut off; the records are kept and not resent, their verdicts are unknown`;
      return this.#fail(batch, new IglooError("E_VERDICT_LOST", message, { status: 200, cause: error }));
    }
    const answer = readAnswer(json);
    if (answer === undefined) {
      const message = `ingest ${this.#model}: the server acknowledged this batch with an answer this client does not understand; the records are kept and not resent`;
      return this.#fail(batch, new IglooError("E_PROTOCOL", message, { status: 200 }));
    }
    const { segments, from, counts } = batch;
    settleStored(segments, counts, batch.ones, rejectionsBySegment(from, counts, answer.reasons), answer.token, this.#outcomes);
    this.#context.buffer.release(batch.records);
    this.#flushes.answered(batch.endSeq);
  }

  /** Rejects every call with records in `batch`; their records still queued are dropped. */
  #fail(batch: Batch, error: IglooError): void {
    this.#context.buffer.release(batch.records);
    rejectAll(batch.segments, error, this.#outcomes);
    this.#flushes.answered(batch.endSeq + (batch.cutShort ? 1 : 0));
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
    rejectAll(rest, error, this.#outcomes);
    this.#flushes.answered(this.#nextSeq);
  }

}
