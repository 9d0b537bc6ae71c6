/**
 * One live result: a view with one set of parameter values, shared by every subscriber
 * asking for it. Its rows are read once per change and each form of the event sent to
 * subscribers is encoded once, when first needed: a thousand subscribers to one view
 * cost one query and one encoding.
 *
 * Two forms: on a view's own stream (`GET /views/<name>/events`) the rows event carries
 * an id, a hash of the rows' text, and a client that reconnects with `Last-Event-ID`
 * equal to the current id is not sent the same rows again (the id survives a server
 * restart, since it is the rows' own); on a page's shared stream (`GET /_igloo/live`) the
 * event names the feed by its tag instead.
 */
const encoder = new TextEncoder();

/** Where a subscriber's events go: a connection that keeps only the latest unsent event of each feed. */
export interface Sink {
  /** The feed has news; the connection takes the frame it needs when it can write. */
  offer(feed: Feed): void;
  /** Ends the connection (the server is stopping). */
  end(): void;
}

export class Feed {
  readonly key: string;
  /** A short name for the feed on a shared stream: a hash of its key. */
  readonly tag: string;
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  readonly sinks = new Set<Sink>();
  /** Topics whose tables the view reads; undefined: any change may change it. */
  topics: ReadonlySet<string> | undefined;
  /** When a change under the view was seen that the rows do not show yet; undefined when up to date. */
  dirtySince: number | undefined;
  running = false;
  #id = "";
  #text: string | undefined;
  #error: string | undefined;
  #own: Uint8Array | undefined;
  #shared: Uint8Array | undefined;

  constructor(key: string, name: string, params: Readonly<Record<string, string>>) {
    this.key = key;
    this.tag = Bun.hash(key).toString(36);
    this.name = name;
    this.params = params;
  }

  /** The id of the rows now (empty before the first read and after a failure). */
  get id(): string {
    return this.#id;
  }

  /** Whether there is anything to tell a new subscriber yet. */
  get known(): boolean {
    return this.#text !== undefined || this.#error !== undefined;
  }

  /** The event for the view's own stream: the rows with their id, or the failure. */
  ownFrame(): Uint8Array | undefined {
    if (this.#own !== undefined || !this.known) return this.#own;
    return (this.#own = encoder.encode(
      this.#text !== undefined ? `id: ${this.#id}\nevent: rows\ndata: {"data":${this.#text}}\n\n` : `event: error\ndata: ${JSON.stringify({ error: this.#error })}\n\n`,
    ));
  }

  /** The event for a shared stream: the same, naming the feed. */
  sharedFrame(): Uint8Array | undefined {
    if (this.#shared !== undefined || !this.known) return this.#shared;
    return (this.#shared = encoder.encode(
      this.#text !== undefined ? `event: rows\ndata: {"feed":"${this.tag}","data":${this.#text}}\n\n` : `event: error\ndata: ${JSON.stringify({ feed: this.tag, error: this.#error })}\n\n`,
    ));
  }

  /** New rows: offered to every subscriber if they differ from the last; returns whether they did. */
  rows(text: string): boolean {
    if (text === this.#text) return false;
    this.#text = text;
    this.#error = undefined;
    this.#id = Bun.hash(text).toString(36);
    this.#changed();
    return true;
  }

  /** A failed read: subscribers are told, and the rows are read again at the next change. */
  failed(message: string): void {
    this.#text = undefined;
    this.#error = message;
    this.#id = "";
    this.#changed();
  }

  #changed(): void {
    this.#own = this.#shared = undefined;
    for (const sink of this.sinks) sink.offer(this);
  }
}

/** The key of a view with bound parameter values: the same values, however spelled, share a feed. */
export function feedKey(name: string, bound: Readonly<Record<string, unknown>>): string {
  return `${name}\u0000${JSON.stringify(Object.entries(bound).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}
