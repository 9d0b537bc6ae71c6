/**
 * Who may talk to this server at all, decided before any route runs: the `Host` a request
 * names, the `Origin` of the page that sent it, and which origins get CORS headers.
 *
 * `igloo dev` runs beside the developer's browser, so every page the developer opens is a
 * potential attacker. Three rules close the ways in (each is the fix of a known dev-server
 * hole: webpack-dev-server CVE-2018-14732, Vite CVE-2025-24010, esbuild GHSA-67mh-4wv8-2f99):
 * - DNS rebinding: a page on `attacker.example` re-points its name at 127.0.0.1 and
 *   reads our answers as same-origin. Its requests still say `Host: attacker.example`, so
 *   only loopback names and IP literals (which no rebinding can produce) are answered,
 *   plus the names the developer allows, as Vite's `server.allowedHosts` does.
 * - Cross-site requests: browsers attach `Origin` to every cross-origin request that is
 *   not a plain navigation or embed. A request whose origin is not allowed is refused
 *   before it does anything, preflight or not, so a "simple" request (a form post, a
 *   beacon) that needs no preflight cannot act either. Embeds and no-cors fetches carry
 *   no Origin but `Sec-Fetch-Site: cross-site`, and are refused too; a top-level
 *   navigation (a link the developer clicks) is let through, since only the developer
 *   sees its answer.
 * - CORS headers only for allowed origins: in dev, loopback pages (any port) and the
 *   origins the developer lists; in production, the configured list.
 */

export interface GateOptions {
  /**
   * `Host` names answered besides loopback names and IP addresses; `"any"` answers every
   * name (production, where keys guard the API and a proxy usually sets the name).
   */
  readonly allowedHosts: "any" | readonly string[];
  /** Origins browser pages may call from, exactly (`scheme://host[:port]`), or `*`. */
  readonly corsOrigins: readonly string[];
  /** Dev: pages served from a loopback name (any port) may call too. */
  readonly loopbackOrigins: boolean;
}

export interface GateRefusal {
  readonly status: 403;
  readonly message: string;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The host name of a `Host` header: no port, no IPv6 brackets, lower case. Anything but
 * digits after the colon leaves the whole text, which then names no allowed host.
 */
export function hostName(host: string): string {
  const text = host.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d*)?$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const port = /^([^:]*):\d*$/.exec(text);
  return port ? port[1]! : text;
}

function isIpAddress(name: string): boolean {
  return IPV4.test(name) || (name.includes(":") && /^[0-9a-f:.]+$/.test(name));
}

/** `localhost`, `*.localhost` (RFC 6761 keeps them on this machine), 127.0.0.0/8 and ::1. */
export function isLoopbackName(name: string): boolean {
  const n = name.toLowerCase();
  return n === "localhost" || n.endsWith(".localhost") || /^127(\.\d{1,3}){3}$/.test(n) || n === "::1" || n === "0:0:0:0:0:0:0:1";
}

/** Whether an interface address stays on this machine (`--host 127.0.0.1`, `::1`, `localhost`). */
export function isLoopbackAddress(address: string): boolean {
  return isLoopbackName(hostName(address.includes(":") && !address.startsWith("[") ? `[${address}]` : address));
}

function originHostName(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.hostname.replace(/^\[|\]$/g, "");
  } catch {
    return undefined;
  }
}

export class RequestGate {
  readonly #options: GateOptions;
  readonly #hosts: ReadonlySet<string>;
  readonly #origins: ReadonlySet<string>;
  /** Host headers already allowed: most requests name the same one or two. */
  readonly #allowedSeen = new Set<string>();

  constructor(options: GateOptions) {
    this.#options = options;
    this.#hosts = new Set(options.allowedHosts === "any" ? [] : options.allowedHosts.map((h) => hostName(h)));
    this.#origins = new Set(options.corsOrigins.map((o) => o.replace(/\/+$/, "").toLowerCase()));
  }

  hostAllowed(host: string | null): boolean {
    if (this.#options.allowedHosts === "any") return true;
    if (host === null || host === "") return false;
    if (this.#allowedSeen.has(host)) return true;
    if (!this.#allowedName(hostName(host))) return false;
    if (this.#allowedSeen.size < 64) this.#allowedSeen.add(host);
    return true;
  }

  #allowedName(name: string): boolean {
    if (isLoopbackName(name) || isIpAddress(name)) return true;
    // A leading dot allows the name and all its subdomains, as in Vite.
    for (const allowed of this.#hosts) {
      if (allowed === name || (allowed.startsWith(".") && (name.endsWith(allowed) || name === allowed.slice(1)))) return true;
    }
    return false;
  }

  originAllowed(origin: string): boolean {
    if (this.#origins.has("*") || this.#origins.has(origin.toLowerCase())) return true;
    if (!this.#options.loopbackOrigins) return false;
    const name = originHostName(origin);
    return name !== undefined && isLoopbackName(name);
  }

  /** Why this request may not be served, or undefined when it may. */
  check(request: Request): GateRefusal | undefined {
    // A request built in-process (app.handle) has no Host header; its URL's host stands in.
    const host = request.headers.get("host") ?? new URL(request.url).host;
    if (!this.hostAllowed(host)) {
      return {
        status: 403,
        message:
          `requests for host \`${host ?? ""}\` are refused: this server answers only loopback names (localhost, 127.0.0.1, ::1), IP addresses` +
          " and the names it was told to allow, so that a web page cannot reach it through DNS rebinding; allow a name with --allowed-hosts (IGLOO_ALLOWED_HOSTS)",
      };
    }
    const origin = request.headers.get("origin");
    if (origin !== null) {
      // `Origin: null` comes from sandboxed frames, file: pages and redirects: never allowed.
      if (this.originAllowed(origin)) return undefined;
      return {
        status: 403,
        message: `requests from web pages of origin \`${origin}\` are refused; allow the origin with --cors-origins (IGLOO_CORS_ORIGINS) if you trust it`,
      };
    }
    if (request.headers.get("sec-fetch-site") === "cross-site" && request.headers.get("sec-fetch-mode") !== "navigate") {
      return { status: 403, message: "cross-site requests from web pages are refused; call this API from a page of an allowed origin" };
    }
    return undefined;
  }

  /** CORS response headers for a request from an allowed origin; undefined for any other. */
  corsHeaders(request: Request): Record<string, string> | undefined {
    const origin = request.headers.get("origin");
    if (origin === null || !this.originAllowed(origin)) return undefined;
    return {
      "access-control-allow-origin": this.#origins.has("*") ? "*" : origin,
      "access-control-allow-methods": "GET, POST, OPTIONS",
      "access-control-allow-headers": "authorization, content-type, idempotency-key, x-igloo-after, x-igloo-wait-ms, last-event-id",
      "access-control-expose-headers": "retry-after, idempotent-replayed",
      "access-control-max-age": "600",
      vary: "origin",
    };
  }
}
