/**
 * Live view subscriptions. While anyone is subscribed, one loop watches the table
 * writers' committed offsets (what has reached the tables); when they move, each
 * subscribed view is queried again and its rows are pushed if they changed. The loop's
 * interval coalesces a burst of ingests into a bounded number of pushes, and a view whose
 * answer did not change pushes nothing. Works the same for every process role: it reads
 * the stream, not this process's writers.
 */
import type { Stream } from "../stream/stream.ts";
import type { ViewAnswer } from "../views/viewManager.ts";
import { writerGroup } from "../writer/tableWriter.ts";

interface Subscriber {
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  readonly push: (rows: Record<string, unknown>[]) => void;
  readonly fail: (message: string) => void;
  /** Ends the subscriber's connection (the server is stopping). */
  readonly end: () => void;
  last: string;
}

export interface SubscriptionsOptions {
  readonly stream: Stream;
  /** The topics whose tables views read: the models' topics. */
  readonly topics: () => readonly string[];
  readonly query: (name: string, params: Readonly<Record<string, string>>) => Promise<ViewAnswer>;
  readonly intervalMs?: number;
}

export class ViewSubscriptions {
  readonly #options: SubscriptionsOptions;
  readonly #subscribers = new Set<Subscriber>();
  #loop: Promise<void> | undefined;
  #seen = "";

  constructor(options: SubscriptionsOptions) {
    this.#options = options;
  }

  /** Pushes the current rows at once, then on every change; returns the unsubscribe function. */
  async subscribe(name: string, params: Readonly<Record<string, string>>, push: Subscriber["push"], fail: Subscriber["fail"], end: Subscriber["end"]): Promise<() => void> {
    const subscriber: Subscriber = { name, params, push, fail, end, last: "" };
    await this.#refresh(subscriber);
    this.#subscribers.add(subscriber);
    this.#loop ??= this.#run();
    return () => this.#subscribers.delete(subscriber);
  }

  /**
   * Ends every open subscription: a stopping server cannot finish while a client holds an
   * event stream open, and clients reconnect to the next server anyway.
   */
  closeAll(): void {
    for (const subscriber of this.#subscribers) subscriber.end();
    this.#subscribers.clear();
  }

  async #refresh(subscriber: Subscriber): Promise<void> {
    const answer = await this.#options.query(subscriber.name, subscriber.params);
    if (answer.status !== 200) {
      subscriber.fail(answer.error);
      return;
    }
    const text = JSON.stringify(answer.rows);
    if (text === subscriber.last) return;
    subscriber.last = text;
    subscriber.push(answer.rows);
  }

  async #position(): Promise<string> {
    const { stream, topics } = this.#options;
    const parts: string[] = [];
    for (const topic of topics()) {
      const committed = await stream.committed(topic, writerGroup(topic));
      parts.push(`${topic}:${[...committed].map(([p, c]) => `${p}=${c.offset}`).join(",")}`);
    }
    return parts.join(";");
  }

  async #run(): Promise<void> {
    this.#seen = await this.#position().catch(() => "");
    while (this.#subscribers.size > 0) {
      await Bun.sleep(this.#options.intervalMs ?? 100);
      try {
        const position = await this.#position();
        if (position === this.#seen) continue;
        this.#seen = position;
        await Promise.all([...this.#subscribers].map((s) => this.#refresh(s)));
      } catch {
        // The stream or store hiccuped: try again at the next tick; subscribers stay.
      }
    }
    this.#loop = undefined;
  }
}
