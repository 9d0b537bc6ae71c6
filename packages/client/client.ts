/**
 * The client a project's generated `index.ts` exports through `createClient`. This file
 * and its neighbours are copied verbatim next to it by `igloo generate`: the generated
 * part only names the models and views and their types, everything that runs is here.
 *
 * Pending work holds the process open in Node and Bun (a timer or a request is always
 * outstanding while records wait), so a script that ends naturally sends everything
 * first; `process.exit()` cannot be waited for: `await client.close()` before it. In a
 * browser, the records waiting when the page is hidden are sent at once with `keepalive`,
 * so they survive the page being closed.
 */
import { ModelBatcher, type BatcherContext } from "./batcher.js";
import { IngestBuffer } from "./buffer.js";
import type { IglooIngestOptions, IglooIngestVerdict } from "./ingestTypes.js";
import { Transport, type BackoffOptions, type Fetch } from "./http.js";
import type { IglooSubscribeOptions, IglooSubscription, SubscriptionContext } from "./subscription.js";
import { readView, subscribeView, type IglooQueryOptions } from "./viewRead.js";

export type { IglooIngestOptions, IglooIngestVerdict, IglooRejection } from "./ingestTypes.js";
export { IglooError, type IglooErrorCode } from "./errors.js";
export type { BackoffOptions as IglooBackoffOptions, Fetch as IglooFetch } from "./http.js";
export type { IglooSubscribeOptions, IglooSubscription } from "./subscription.js";
export type { IglooQueryOptions } from "./viewRead.js";

export interface IglooClientOptions {
  /** Where the project runs, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  /** An API key (`igloo keys create`), sent as `Authorization: Bearer <key>`. */
  readonly key?: string;
  /** The `fetch` to use; the platform's by default. */
  readonly fetch?: Fetch;
  /** Batching, buffering and retries of `client.ingest`. */
  readonly ingest?: IglooIngestOptions;
  readonly subscriptions?: {
    /** Waits between reconnections. Default 100 ms doubling up to 10 s. */
    readonly backoff?: BackoffOptions;
    /** Silence after which a connection is reopened; the server sends a keepalive every 5 s. Default 15 s. */
    readonly idleTimeoutMs?: number;
  };
}

export interface IglooViewShape {
  readonly params: object;
  readonly row: object;
}

/** A view without required parameters may be called with none. */
export type IglooQueryArgs<Params> = {} extends Params ? [params?: Params, options?: IglooQueryOptions] : [params: Params, options?: IglooQueryOptions];

export interface IglooView<Params, Row> {
  /** The view's rows for these parameters. */
  (...args: IglooQueryArgs<Params>): Promise<Row[]>;
  /** `onRows` gets the rows now and again whenever the data under the view changes. */
  subscribe(params: Params, onRows: (rows: Row[]) => void, options?: IglooSubscribeOptions): IglooSubscription;
}

export interface IglooIngest<Record> {
  /** Queues a record or an array of records; resolves to the server's verdict on them. */
  (records: Record | readonly Record[]): Promise<IglooIngestVerdict>;
  /**
   * Queues a record or an array of records with nothing to wait on, the cheapest way to
   * send one event at a time. Throws at once when they cannot be taken (closed client,
   * not JSON, buffer full); rejections and failures found later go to `ingest.onRejected`
   * and `ingest.onError` of the client's options. `flush()` waits for these records too.
   */
  send(records: Record | readonly Record[]): void;
}

export interface IglooClient<Models, Views extends { readonly [Name in keyof Views]: IglooViewShape }> {
  /** One function per model: `client.ingest.Model(records)` for a verdict, `client.ingest.Model.send(records)` for none. */
  readonly ingest: { readonly [Name in keyof Models]: IglooIngest<Models[Name]> };
  readonly views: { readonly [Name in keyof Views]: IglooView<Views[Name]["params"], Views[Name]["row"]> };
  /** Sends what is buffered now; resolves once every ingest call made so far has its answer. */
  flush(): Promise<void>;
  /**
   * Closes subscriptions, refuses new ingest calls, and sends what is buffered. With
   * `timeoutMs`, records still unsent by then are given up (their calls fail with E_CLOSED).
   */
  close(options?: { readonly timeoutMs?: number }): Promise<void>;
}

/** Just enough of `document` to notice the page being hidden, without the DOM library's types. */
interface PageDocument {
  readonly visibilityState?: string;
  addEventListener?(type: string, listener: () => void): void;
  removeEventListener?(type: string, listener: () => void): void;
}

export function createIglooClient<Models, Views extends { readonly [Name in keyof Views]: IglooViewShape }>(
  options: IglooClientOptions,
  schema: { readonly models: readonly string[]; readonly views: readonly string[] },
): IglooClient<Models, Views> {
  const transport = new Transport(options.url, options.key, options.fetch);
  const ingestClosed = new AbortController();
  const subscriptionsClosed = new AbortController();
  let closing = false;
  let leaving = false;
  const batcherContext: BatcherContext = {
    transport,
    buffer: new IngestBuffer(transport.url, options.ingest?.maxBufferedRecords ?? 100_000),
    options: options.ingest ?? {},
    closed: ingestClosed.signal,
    leaving: () => leaving,
    closing: () => closing,
    id: randomId(),
  };
  const subscriptionContext: SubscriptionContext = {
    transport,
    backoff: options.subscriptions?.backoff,
    idleTimeoutMs: options.subscriptions?.idleTimeoutMs ?? 15_000,
    closed: subscriptionsClosed.signal,
  };

  const batchers = schema.models.map((model) => new ModelBatcher(model, batcherContext));
  const ingest = Object.fromEntries(
    batchers.map((batcher, i) => [
      schema.models[i],
      Object.assign((records: unknown) => batcher.ingest(records), { send: (records: unknown) => batcher.send(records) }),
    ]),
  );

  const views = Object.fromEntries(
    schema.views.map((name) => {
      const query = (params?: object, q?: IglooQueryOptions): Promise<unknown[]> => readView(transport, name, params, q);
      const live = (params: object, onRows: (rows: unknown[]) => void, subscribeOptions?: IglooSubscribeOptions) =>
        subscribeView(subscriptionContext, name, params, onRows, subscribeOptions);
      return [name, Object.assign(query, { subscribe: live })];
    }),
  );

  const flush = async (): Promise<void> => {
    await Promise.all(batchers.map((b) => b.flush()));
  };

  const page = (globalThis as { document?: PageDocument }).document;
  const onVisibility = () => {
    leaving = page?.visibilityState === "hidden";
    if (leaving) void flush();
  };
  page?.addEventListener?.("visibilitychange", onVisibility);

  const close = async (closeOptions: { readonly timeoutMs?: number } = {}): Promise<void> => {
    closing = true;
    subscriptionsClosed.abort();
    page?.removeEventListener?.("visibilitychange", onVisibility);
    const flushed = flush();
    if (closeOptions.timeoutMs === undefined) await flushed;
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([flushed, new Promise<void>((resolve) => (timer = setTimeout(resolve, closeOptions.timeoutMs)))]);
      clearTimeout(timer);
    }
    // Whatever still waits (only after a timeout) now fails with E_CLOSED instead of retrying forever.
    ingestClosed.abort();
    await flushed;
  };

  return { ingest, views, flush, close } as unknown as IglooClient<Models, Views>;
}

/** 64 random bits as hex, from Web Crypto where there is one (browsers, Node 19+, Bun). */
function randomId(): string {
  const bytes = new Uint8Array(8);
  const crypto = (globalThis as { crypto?: { getRandomValues(array: Uint8Array): Uint8Array } }).crypto;
  if (crypto) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
