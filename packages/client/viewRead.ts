/**
 * Reading a view: once (`GET /views/<name>`) or live (`GET /views/<name>/events`). The
 * generated client's `client.views.<name>` and the dashboard elements (packages/components)
 * both call these, so a change of the protocol reaches both.
 */
import { errorFromResponse, IglooError } from "./errors.js";
import { queryString, type Transport } from "./http.js";
import { subscribe, type IglooSubscribeOptions, type IglooSubscription, type SubscriptionContext } from "./subscription.js";

export interface IglooQueryOptions {
  /** Ingest tokens (`verdict.token`): answer only once those records are queryable. */
  readonly after?: string | readonly string[];
  /** How long the server may wait for `after` before failing with E_WAIT_TIMEOUT (server default 5000). */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

/** `/views/<name>`, the view's path on the server. */
export function viewPath(name: string): string {
  return `/views/${encodeURIComponent(name)}`;
}

/** The view's rows for these parameters; an IglooError naming the view when there are none to give. */
export async function readView(transport: Transport, name: string, params?: object, options: IglooQueryOptions = {}): Promise<unknown[]> {
  const headers: Record<string, string> = { accept: "application/json" };
  const after = (typeof options.after === "string" ? [options.after] : (options.after ?? [])).filter((t) => t !== "").join(",");
  if (after !== "") headers["x-igloo-after"] = after;
  if (options.waitMs !== undefined) headers["x-igloo-wait-ms"] = String(Math.max(0, Math.round(options.waitMs)));
  let response: Response;
  try {
    response = await transport.request(viewPath(name) + queryString(params), options.signal ? { headers, signal: options.signal } : { headers });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new IglooError("E_NETWORK", `view ${name}: the server at ${transport.url} could not be reached (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (response.status !== 200) throw await errorFromResponse(response, `view ${name}`, response.status === 504 && after !== "" ? "E_WAIT_TIMEOUT" : "E_HTTP");
  const body = (await response.json().catch(() => undefined)) as { data?: unknown; error?: unknown } | undefined;
  // A large answer is streamed; a failure after its first rows ends it with `error`.
  if (typeof body?.error === "string") throw new IglooError("E_HTTP", `view ${name}: ${body.error}`, { status: 200 });
  if (!Array.isArray(body?.data)) throw new IglooError("E_PROTOCOL", `view ${name}: the answer is not { data: [...] }; is ${transport.url} an Igloo server?`, { status: 200 });
  return body.data;
}

/** `onRows` gets the view's rows now and again whenever the data under it changes. */
export function subscribeView<Row>(
  context: SubscriptionContext,
  name: string,
  params: object | undefined,
  onRows: (rows: Row[]) => void,
  options?: IglooSubscribeOptions,
): IglooSubscription {
  return subscribe(context, name, `${viewPath(name)}/events${queryString(params)}`, onRows, options);
}
