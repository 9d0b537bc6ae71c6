/**
 * What Igloo serves to web pages besides its API: the dashboard elements' module
 * (`GET /_igloo/components.js`), a project's dashboards (`GET /dashboards/<name>`, the file
 * `dashboards/<name>.html`), the column types the elements format values by
 * (`GET /_igloo/views/<name>/columns`) and, in dev, the reload stream a dashboard listens
 * to (`GET /_igloo/reload`), which says "reload" when a file of the folder is saved.
 *
 * The module and the pages hold no data, and a browser cannot send a key with a script
 * tag or a link, so they are served without one; what the elements then read goes
 * through the API, keys and all. The gate (gate.ts) still runs first.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { typeName } from "../../conventions/datamodels/typeFaces.ts";
import { EVENT_STREAM_HEADERS, eventConnection } from "../live/eventStream.ts";
import type { ViewManager } from "../views/viewManager.ts";
import { errorResponse, json } from "./errorStatus.ts";

/** A dashboard's name, and so its file's: nothing that could climb out of the folder. */
export const DASHBOARD_NAME = /^[A-Za-z0-9_-]{1,100}$/;

/** Editors write a file in several steps: changes this close together are one save. */
const SETTLE_MS = 50;

type FolderEvent = "changed" | "closed";

/** A project's `dashboards/` folder, read on each request; with `live`, watched for saves. */
export class DashboardFolder {
  readonly dir: string;
  readonly live: boolean;
  #watcher: FSWatcher | undefined;
  #settle: ReturnType<typeof setTimeout> | undefined;
  readonly #listeners = new Set<(event: FolderEvent) => void>();

  constructor(dir: string, options: { readonly live: boolean }) {
    this.dir = dir;
    this.live = options.live;
  }

  /** The dashboards there are, by name. */
  names(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((file) => file.endsWith(".html"))
      .map((file) => file.slice(0, -".html".length))
      .filter((name) => DASHBOARD_NAME.test(name))
      .sort();
  }

  /** The page's HTML; undefined for a name that is not a dashboard's. */
  page(name: string): string | undefined {
    if (!DASHBOARD_NAME.test(name)) return undefined;
    try {
      return readFileSync(join(this.dir, `${name}.html`), "utf8");
    } catch {
      return undefined;
    }
  }

  /**
   * Live folders: (re)starts watching, as the folder appears or is replaced (the caller
   * watches the project root for that). A folder not there yet is not an error.
   */
  watch(): void {
    if (!this.live) return;
    this.#watcher?.close();
    this.#watcher = undefined;
    try {
      this.#watcher = watch(this.dir, () => this.#changed());
      this.#watcher.on("error", () => {});
    } catch {
      // Not there (yet).
    }
  }

  /** `listener` hears of each save, and of the folder closing; returns the unsubscribe. */
  listen(listener: (event: FolderEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#watcher?.close();
    clearTimeout(this.#settle);
    for (const listener of [...this.#listeners]) listener("closed");
    this.#listeners.clear();
  }

  #changed(): void {
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => {
      for (const listener of [...this.#listeners]) listener("changed");
    }, SETTLE_MS);
  }
}

/**
 * Added to each dev dashboard: reloads the page on a save, and once the server is back
 * after a restart (EventSource reconnects by itself).
 */
const RELOAD_SCRIPT =
  '<script>(()=>{let lost=false;const s=new EventSource("/_igloo/reload");' +
  's.addEventListener("reload",()=>location.reload());s.onerror=()=>{lost=true};s.onopen=()=>{if(lost)location.reload()}})()</script>';

function withReload(html: string): string {
  const end = html.toLowerCase().lastIndexOf("</body>");
  return end < 0 ? html + RELOAD_SCRIPT : html.slice(0, end) + RELOAD_SCRIPT + html.slice(end);
}

export function dashboardResponse(folder: DashboardFolder | undefined, name: string): Response {
  const html = folder?.page(name);
  if (html === undefined) {
    if (!DASHBOARD_NAME.test(name)) return errorResponse(404, "a dashboard's name is its file's, dashboards/<name>.html: letters, digits, `_` and `-`");
    const names = folder?.names() ?? [];
    return errorResponse(404, `no dashboard named \`${name}\`; ${names.length === 0 ? "add dashboards/<name>.html to the project" : `dashboards: ${names.join(", ")}`}`);
  }
  return new Response(folder!.live ? withReload(html) : html, {
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": folder!.live ? "no-store" : "no-cache", "x-content-type-options": "nosniff" },
  });
}

const RELOAD = new TextEncoder().encode("event: reload\ndata: \n\n");

/** `GET /_igloo/reload`: an event each time a dashboard file is saved (dev only). */
export function reloadStream(folder: DashboardFolder | undefined, request: Request): Response {
  if (!folder?.live) return errorResponse(404, "dashboards reload only under igloo dev");
  const connection = eventConnection(request.signal);
  const stop = folder.listen((event) => (event === "changed" ? connection.send("reload", () => RELOAD) : connection.end()));
  connection.onClose(stop);
  return new Response(connection.body, { headers: EVENT_STREAM_HEADERS });
}

let tagged: { readonly text: string; readonly etag: string } | undefined;

/**
 * An ES module, revalidated on each load (`no-cache` with an ETag: a 304 costs a round
 * trip and no bytes), so a page gets a new igloo's elements as soon as it runs.
 */
export function moduleResponse(request: Request, text: string): Response {
  if (tagged?.text !== text) tagged = { text, etag: `"${createHash("sha256").update(text).digest("base64url").slice(0, 22)}"` };
  const headers = { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache", etag: tagged.etag, "x-content-type-options": "nosniff" };
  if (request.headers.get("if-none-match") === tagged.etag) return new Response(null, { status: 304, headers });
  return new Response(text, { headers });
}

/**
 * `GET /_igloo/views/<name>/columns`: the view's result columns and parameters with their
 * types, as the engine spells them; the elements parse them with the same type module.
 */
export function viewColumnsResponse(views: (Pick<ViewManager, "resolve"> & Partial<Pick<ViewManager, "columns" | "params">>) | undefined, name: string): Response {
  if (!views?.columns || !views.params) return errorResponse(404, "this server does not describe its views");
  const columns = views.columns(name);
  // No entry: resolve throws the error a view read would get (unknown, or not loaded).
  if (columns === undefined) views.resolve(name, {});
  return json(200, {
    columns: (columns ?? []).map((c) => ({ name: c.name, type: c.type })),
    params: (views.params(name) ?? []).map((p) => ({ name: p.name, type: typeName(p.type) })),
  });
}
