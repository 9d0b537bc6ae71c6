/**
 * Live view subscriptions. Subscribers of the same view with the same parameter values
 * share a feed (feed.ts): one read per change, its result sent to all of them. One loop
 * watches the table writers' committed offsets (what has reached the tables) per topic;
 * when a topic moves, only the feeds whose views read its table (directly or through
 * other views) are marked stale, and a reloaded view marks its feeds stale too. Stale
 * feeds are read again, the longest-waiting first, as the query budget allows
 * (budget.ts: a share of the CPU, smaller while the process is busy), so an expensive
 * view re-runs less often and ingest keeps the CPU it needs. Works the same for every
 * process role: it reads the stream, not this process's writers.
 *
 * Each subscription holds a connection, so there are at most `maxSubscriptions` in the
 * process and `maxPerClient` for one client (one API key, or one address without a key);
 * past them a subscribe is refused with a clear message.
 *
 * A failed read is sent to the subscribers as an error event, and the view is read again
 * at the next change; only when the first read of a new feed finds the store unreachable
 * is the subscription refused, so that the client is told to retry, as a read of the view
 * is.
 */
import { IglooError } from "../../conventions/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Counter, Gauge, Histogram } from "../observability/metrics.ts";
import type { UserReads } from "../query/userReads.ts";
import type { Stream } from "../stream/stream.ts";
import type { ViewManager } from "../views/viewManager.ts";
import { writerGroup } from "../writer/tableWriter.ts";
import { QueryBudget } from "./budget.ts";
import { batchStatement, splitBatch } from "./batch.ts";
import { Feed, feedKey, type Sink } from "./feed.ts";

export interface LiveMetrics {
  readonly pushDelay: Histogram<Record<never, string>>;
  readonly reads: Counter<Record<never, string>>;
  readonly subscribers: Gauge<Record<never, string>>;
  readonly feeds: Gauge<Record<never, string>>;
}

/** A subscriber's place: the tag its feed's events carry on a shared stream, and how to leave. */
export interface LiveSubscription {
  readonly feed: string;
  close(): void;
}

export interface SubscriptionsOptions {
  readonly stream: Stream;
  /** Each table a view may read, with the topic its writer consumes. */
  readonly tables: () => ReadonlyMap<string, string>;
  readonly views: Pick<ViewManager, "resolve" | "sources" | "generation">;
  readonly reads: Pick<UserReads, "viewRows">;
  /** Failures that are Igloo's own fault are logged, not shown to subscribers. */
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly maxSubscriptions: number;
  readonly maxPerClient: number;
  /** The share of the machine's CPU live reads may take (QueryBudget); default 0.25. */
  readonly cpuShare?: number;
  readonly metrics?: LiveMetrics;
  /** Reads of stale feeds at once (Store.backgroundReads); default 1. */
  readonly parallelReads?: number;
}



export class ViewSubscriptions {
  readonly #options: SubscriptionsOptions;
  readonly #feeds = new Map<string, Feed>();
  readonly #perClient = new Map<string, number>();
  readonly #budget: QueryBudget;
  #count = 0;
  #loop: Promise<void> | undefined;
  #positions = new Map<string, string>();
  #generation = -1;
  #reading = 0;
  /** Views whose feeds the engine would not read in one batch (batch.ts). */
  readonly #unbatched = new Set<string>();
  readonly #parallel: number;

  constructor(options: SubscriptionsOptions) {
    this.#options = options;
    this.#budget = new QueryBudget(options.cpuShare);
    this.#parallel = Math.max(1, options.parallelReads ?? 1);
  }

  /** Subscribers now. */
  get size(): number {
    return this.#count;
  }

  /**
   * Takes a place for `client`, or throws an IglooError (E_TOO_MANY_SUBSCRIPTIONS) when
   * the process or the client holds as many as allowed. Then offers the current rows at
   * once (unless they are the ones `lastEventId` names), and again on every change. Throws the view's IglooError for an unknown view or
   * a parameter at fault, and the read's when the first read finds the store unavailable.
   */
  async subscribe(name: string, params: Readonly<Record<string, string>>, client: string, sink: Sink, lastEventId?: string): Promise<LiveSubscription> {
    const { maxSubscriptions, maxPerClient } = this.#options;
    const statement = this.#options.views.resolve(name, params);
    const held = this.#perClient.get(client) ?? 0;
    if (this.#count >= maxSubscriptions) {
      throw new IglooError("E_TOO_MANY_SUBSCRIPTIONS", `this server already holds ${maxSubscriptions} live subscriptions (IGLOO_MAX_SUBSCRIPTIONS); retry later, or share one subscription between views of a page`, { kind: "limit" });
    }
    if (held >= maxPerClient) {
      throw new IglooError("E_TOO_MANY_SUBSCRIPTIONS", `this client already holds ${maxPerClient} live subscriptions (IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT); close some first`, { kind: "limit" });
    }
    this.#perClient.set(client, held + 1);
    this.#count++;
    const key = feedKey(name, statement.params);
    let feed = this.#feeds.get(key);
    let subscribed = true;
    const unsubscribe = () => {
      if (!subscribed) return;
      subscribed = false;
      this.#count--;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
      const current = this.#feeds.get(key);
      current?.sinks.delete(sink);
      if (current?.sinks.size === 0 && !current.running) this.#feeds.delete(key);
      this.#gauge();
    };
    try {
      if (feed === undefined) {
        feed = new Feed(key, name, params);
        feed.topics = this.#topicsOf(name);
        this.#feeds.set(key, feed);
        await this.#read(feed, true);
      }
    } catch (error) {
      unsubscribe();
      throw error;
    }
    feed.sinks.add(sink);
    if (feed.known && (feed.id === "" || feed.id !== lastEventId)) sink.offer(feed);
    this.#gauge();
    this.#loop ??= this.#run();
    return { feed: feed.tag, close: unsubscribe };
  }

  /**
   * Ends every open subscription: a stopping server cannot finish while a client holds an
   * event stream open, and clients reconnect to the next server anyway.
   */
  closeAll(): void {
    for (const feed of this.#feeds.values()) for (const sink of feed.sinks) sink.end();
    this.#feeds.clear();
    this.#perClient.clear();
    this.#count = 0;
    this.#gauge();
  }

  #gauge(): void {
    this.#options.metrics?.subscribers.set({}, this.#count);
    this.#options.metrics?.feeds.set({}, this.#feeds.size);
  }

  /** The topics under a view, or undefined when it reads something no writer fills (any change may matter). */
  #topicsOf(name: string): ReadonlySet<string> | undefined {
    const sources = this.#options.views.sources(name);
    if (sources === undefined) return undefined;
    const tables = this.#options.tables();
    const topics = new Set<string>();
    for (const table of sources) {
      const topic = tables.get(table);
      if (topic === undefined) return undefined;
      topics.add(topic);
    }
    return topics;
  }

  /** Reads the feed's view and offers its rows if they changed, or the failure's public message; whether the read succeeded. */
  async #read(feed: Feed, first = false): Promise<boolean> {
    const { views, reads, logger, metrics } = this.#options;
    const since = feed.dirtySince;
    feed.dirtySince = undefined;
    feed.running = true;
    const started = performance.now();
    const cpu = process.cpuUsage();
    // What the read cost: its own running time, not its wait for a turn (a failure: all of it).
    let ms: number | undefined;
    try {
      const read = await reads.viewRows(views.resolve(feed.name, feed.params));
      ms = read.ms;
      this.#offer(feed, read.rows, since);
    } catch (error) {
      if (error instanceof IglooError) {
        if (first && error.kind === "unavailable") {
          // Whoever joined the feed meanwhile gets it at the next turn.
          feed.dirtySince = since ?? performance.now();
          throw error;
        }
        // All read slots busy: not the view's fault; read it again at the next turn.
        if (error.code === "E_QUERY_BUSY") feed.dirtySince ??= since ?? performance.now();
        else feed.failed(error.publicMessage);
      } else {
        logger.error(`live read of view ${feed.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        feed.failed("internal error; the subscription retries at the next change");
      }
    } finally {
      ms ??= performance.now() - started;
      feed.running = false;
      // A first read runs beside others (subscribers arrive together): its wall time only.
      if (first) this.#budget.spend(ms);
      else this.#charge(ms, cpu);
      metrics?.reads.inc({});
      if (feed.sinks.size === 0 && !first) this.#feeds.delete(feed.key);
    }
    return ms !== undefined;
  }

  /**
   * Charges a read of the loop to the budget: its running time, or, with the engine in
   * this process (the loop reads one at a time), the CPU the process spent meanwhile if
   * that is more. A scan
   * on several threads costs more than its wall time (20 subscribers to a FINAL view of
   * a growing table cut full-speed ingest to 70% when only wall time was charged).
   */
  #charge(ms: number, cpuAtStart: NodeJS.CpuUsage): void {
    if (this.#parallel > 1) return this.#budget.spend(ms);
    const used = process.cpuUsage(cpuAtStart);
    this.#budget.spend(Math.max(ms, (used.user + used.system) / 1_000));
  }

  /** New rows for a feed, timed from when its change was seen. */
  #offer(feed: Feed, rows: readonly string[], since: number | undefined): void {
    if (feed.rows(`[${rows.join(",")}]`) && since !== undefined) this.#options.metrics?.pushDelay.observe({}, (performance.now() - since) / 1_000);
  }

  /**
   * Reads stale feeds of one parameterized view in one query (batch.ts). If the batch
   * fails, each is read on its own; when those all succeed, the batch form is what the
   * engine refused, and the view is read feed by feed from then on (until it reloads).
   */
  async #readBatch(feeds: readonly Feed[]): Promise<void> {
    const { views, reads, metrics } = this.#options;
    let batch: ReturnType<typeof batchStatement>;
    try {
      batch = batchStatement(feeds.map((f) => views.resolve(f.name, f.params)));
    } catch {
      batch = undefined;
    }
    if (batch === undefined) {
      for (const feed of feeds) await this.#read(feed);
      return;
    }
    const covered = feeds.slice(0, batch.count);
    const since = covered.map((f) => f.dirtySince);
    for (const feed of covered) {
      feed.dirtySince = undefined;
      feed.running = true;
    }
    const started = performance.now();
    const cpu = process.cpuUsage();
    let split: string[][] | undefined;
    try {
      const read = await reads.viewRows(batch.statement);
      this.#charge(read.ms, cpu);
      split = splitBatch(read.rows, batch.count);
    } catch {
      this.#charge(performance.now() - started, cpu);
    } finally {
      metrics?.reads.inc({});
      for (const feed of covered) feed.running = false;
    }
    if (split !== undefined) {
      for (const [i, feed] of covered.entries()) this.#offer(feed, split[i]!, since[i]);
    } else {
      let fine = true;
      for (const [i, feed] of covered.entries()) {
        feed.dirtySince = since[i];
        fine = (await this.#read(feed)) && fine;
      }
      if (fine) this.#unbatched.add(covered[0]!.name);
    }
    for (const feed of covered) if (feed.sinks.size === 0) this.#feeds.delete(feed.key);
  }

  /**
   * The topics whose table writer committed since the last look; with `backlog`, also
   * how many records the writers have yet to write (for the budget's look at ingest).
   */
  async #moved(backlog?: (records: number) => void): Promise<Set<string>> {
    const { stream, tables } = this.#options;
    const moved = new Set<string>();
    let behind = 0;
    for (const topic of new Set(tables().values())) {
      const committed = await stream.committed(topic, writerGroup(topic));
      const position = [...committed].map(([p, c]) => `${p}=${c.offset}`).join(",");
      if (this.#positions.has(topic) && this.#positions.get(topic) !== position) moved.add(topic);
      this.#positions.set(topic, position);
      if (backlog) for (const [partition, end] of await stream.endOffsets(topic)) behind += Math.max(0, end - (committed.get(partition)?.offset ?? 0));
    }
    backlog?.(behind);
    return moved;
  }

  /** Marks the feeds under what changed as stale. */
  async #notice(): Promise<void> {
    const now = performance.now();
    const generation = this.#options.views.generation();
    const reloaded = generation !== this.#generation;
    this.#generation = generation;
    if (reloaded) this.#unbatched.clear();
    const moved = await this.#moved(this.#budget.due() ? (records) => this.#budget.adapt(records) : undefined);
    if (!reloaded && moved.size === 0) return;
    for (const feed of this.#feeds.values()) {
      if (reloaded) feed.topics = this.#topicsOf(feed.name);
      const touched = reloaded || feed.topics === undefined || [...feed.topics].some((t) => moved.has(t));
      if (touched) feed.dirtySince ??= now;
    }
  }

  /** Starts reads of stale feeds, longest waiting first, while the budget and the read slots allow. */
  #dispatch(): void {
    const stale = [...this.#feeds.values()].filter((f) => f.dirtySince !== undefined && !f.running).sort((a, b) => a.dirtySince! - b.dirtySince!);
    const waiting = (f: Feed) => f.dirtySince !== undefined && !f.running;
    for (const feed of stale) {
      if (!waiting(feed)) continue; // taken by a batch
      if (this.#reading >= this.#parallel || !this.#budget.available()) return;
      this.#reading++;
      // Feeds of a parameterized view differ by their parameters: read them together.
      const group = this.#unbatched.has(feed.name) ? [feed] : stale.filter((f) => f.name === feed.name && waiting(f));
      void (group.length > 1 ? this.#readBatch(group) : this.#read(feed)).finally(() => {
        this.#reading--;
        this.#dispatch();
      });
    }
  }

  async #run(): Promise<void> {
    await this.#moved().catch(() => new Set<string>());
    this.#generation = this.#options.views.generation();
    while (this.#feeds.size > 0) {
      await Bun.sleep(this.#options.intervalMs ?? 100);
      try {
        await this.#notice();
        this.#dispatch();
      } catch {
        // The stream hiccuped: try again at the next tick; subscribers stay.
      }
    }
    this.#loop = undefined;
  }
}
