/**
 * Live view subscriptions. While anyone is subscribed, one loop watches the table
 * writers' committed offsets (what has reached the tables); when they move, each
 * subscribed view is queried again and its rows are pushed if they changed. The loop's
 * interval coalesces a burst of ingests into a bounded number of pushes, and a view whose
 * answer did not change pushes nothing. Works the same for every process role: it reads
 * the stream, not this process's writers.
 *
 * Each subscription holds a connection and costs a query per change, so there are at
 * most `maxSubscriptions` in the process and `maxPerClient` for one client (one API key,
 * or one address without a key); past them a subscribe is refused with a clear message.
 *
 * A failed read is pushed to the subscriber as an error event, and the view is read again
 * at the next change; only when the first read finds the store unreachable is the
 * subscription refused, so that the client is told to retry, as a read of the view is.
 */
import { IglooError } from "../../conventions/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { UserReads } from "../query/userReads.ts";
import type { Stream } from "../stream/stream.ts";
import type { ViewManager } from "../views/viewManager.ts";
import { writerGroup } from "../writer/tableWriter.ts";

interface Subscriber {
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  /** The rows, as the text of a JSON array. */
  readonly push: (rows: string) => void;
  readonly fail: (message: string) => void;
  /** Ends the subscriber's connection (the server is stopping). */
  readonly end: () => void;
  last: string;
}

export interface SubscriptionsOptions {
  readonly stream: Stream;
  /** The topics whose tables views read: the models' topics. */
  readonly topics: () => readonly string[];
  readonly views: Pick<ViewManager, "resolve">;
  readonly reads: Pick<UserReads, "viewText">;
  /** Failures that are Igloo's own fault are logged, not shown to subscribers. */
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly maxSubscriptions: number;
  readonly maxPerClient: number;
}

export class ViewSubscriptions {
  readonly #options: SubscriptionsOptions;
  readonly #subscribers = new Set<Subscriber>();
  readonly #perClient = new Map<string, number>();
  #loop: Promise<void> | undefined;
  #seen = "";

  constructor(options: SubscriptionsOptions) {
    this.#options = options;
  }

  /**
   * Takes a place for `client`, or throws an IglooError (E_TOO_MANY_SUBSCRIPTIONS) when
   * the process or the client holds as many as allowed. Then pushes the current rows at
   * once, and again on every change; returns the unsubscribe function. Throws the read's
   * IglooError when the first read finds the store unavailable.
   */
  async subscribe(
    name: string,
    params: Readonly<Record<string, string>>,
    client: string,
    push: Subscriber["push"],
    fail: Subscriber["fail"],
    end: Subscriber["end"],
  ): Promise<() => void> {
    const { maxSubscriptions, maxPerClient } = this.#options;
    const held = this.#perClient.get(client) ?? 0;
    if (this.#subscribers.size >= maxSubscriptions) {
      throw new IglooError("E_TOO_MANY_SUBSCRIPTIONS", `this server already holds ${maxSubscriptions} live subscriptions (IGLOO_MAX_SUBSCRIPTIONS); retry later, or share one subscription between views of a page`, { kind: "limit" });
    }
    if (held >= maxPerClient) {
      throw new IglooError("E_TOO_MANY_SUBSCRIPTIONS", `this client already holds ${maxPerClient} live subscriptions (IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT); close some first`, { kind: "limit" });
    }
    const subscriber: Subscriber = { name, params, push, fail, end, last: "" };
    this.#subscribers.add(subscriber);
    this.#perClient.set(client, held + 1);
    let subscribed = true;
    const unsubscribe = () => {
      if (!subscribed) return;
      subscribed = false;
      this.#subscribers.delete(subscriber);
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
    };
    try {
      await this.#refresh(subscriber, true);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    this.#loop ??= this.#run();
    return unsubscribe;
  }

  /**
   * Ends every open subscription: a stopping server cannot finish while a client holds an
   * event stream open, and clients reconnect to the next server anyway.
   */
  closeAll(): void {
    for (const subscriber of this.#subscribers) subscriber.end();
    this.#subscribers.clear();
    this.#perClient.clear();
  }

  /** Reads the view and pushes its rows if they changed, or the failure's public message. */
  async #refresh(subscriber: Subscriber, first = false): Promise<void> {
    const { views, reads, logger } = this.#options;
    let text: string;
    try {
      text = await reads.viewText(views.resolve(subscriber.name, subscriber.params));
    } catch (error) {
      if (error instanceof IglooError) {
        if (first && error.kind === "unavailable") throw error;
        subscriber.fail(error.publicMessage);
        return;
      }
      logger.error(`live read of view ${subscriber.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      subscriber.fail("internal error; the subscription retries at the next change");
      return;
    }
    if (text === subscriber.last) return;
    subscriber.last = text;
    subscriber.push(text);
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
