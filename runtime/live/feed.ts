/**
 * One live result: a view with one set of parameter values, shared by every subscriber
 * asking for it. Its rows are read once per change and the frame sent to subscribers is
 * encoded once: a thousand subscribers to one view cost one query and one encoding.
 *
 * Each version of the rows has an id, a hash of their text: a client that reconnects
 * with `Last-Event-ID` equal to the current id is not sent the same rows again (and the
 * id survives a server restart, since it is the rows' own).
 */
const encoder = new TextEncoder();

/** Where a subscriber's events go: a connection that keeps only the latest unsent one. */
export interface Sink {
  offer(frame: Uint8Array): void;
  /** Ends the connection (the server is stopping). */
  end(): void;
}

export interface FeedState {
  /** The id of the rows now (empty before the first read). */
  readonly id: string;
  /** The event to send a new subscriber: the rows, or the last read's failure. */
  readonly frame: Uint8Array | undefined;
}

export class Feed {
  readonly key: string;
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
  #frame: Uint8Array | undefined;

  constructor(key: string, name: string, params: Readonly<Record<string, string>>) {
    this.key = key;
    this.name = name;
    this.params = params;
  }

  state(): FeedState {
    return { id: this.#id, frame: this.#frame };
  }

  /** New rows: sent to every subscriber if they differ from the last; returns whether they did. */
  rows(text: string): boolean {
    if (text === this.#text) return false;
    this.#text = text;
    this.#id = Bun.hash(text).toString(36);
    this.#frame = encoder.encode(`id: ${this.#id}\nevent: rows\ndata: {"data":${text}}\n\n`);
    for (const sink of this.sinks) sink.offer(this.#frame);
    return true;
  }

  /** A failed read: subscribers are told, and the rows are read again at the next change. */
  failed(message: string): void {
    this.#text = undefined;
    this.#id = "";
    this.#frame = encoder.encode(`event: error\ndata: ${JSON.stringify({ error: message })}\n\n`);
    for (const sink of this.sinks) sink.offer(this.#frame);
  }
}

/** The key of a view with bound parameter values: the same values, however spelled, share a feed. */
export function feedKey(name: string, bound: Readonly<Record<string, unknown>>): string {
  return `${name}\u0000${JSON.stringify(Object.entries(bound).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}
