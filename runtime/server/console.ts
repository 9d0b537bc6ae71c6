/**
 * The dev console (`igloo dev` only): one HTML shell for every page under `/_igloo/`, the
 * console's module (packages/console, bundled by build.ts), and a small JSON API:
 *
 *   GET  /_igloo/api/project        what runs: models, functions, views, limits, problems,
 *                                   held changes, the reload log
 *   GET  /_igloo/api/status         counters, lag and dead letters now (consoleData.ts)
 *   GET  /_igloo/api/pulse?v=<n>    answers once a consumer group (a table writer, a function)
 *                                   or the project moved past <n>: the pages' cue to read again
 *   POST /_igloo/api/changes/apply  applies the held schema changes (typing `y` at the terminal)
 *
 * Pages read data through the public API (`POST /query`, `GET /views/<name>`, the
 * dashboard elements), as any client would. Everything here sits behind the gate
 * (gate.ts): loopback hosts and origins only. The one route that changes anything is a
 * POST that must say `content-type: application/json`, which no form, link or beacon of
 * another site can send without a CORS preflight, and the gate refuses those origins
 * before any route. The pages forbid framing (CSP `frame-ancestors`), so another site
 * cannot overlay the Apply button either, and may load nothing but this server
 * (`default-src 'self'`): no request of theirs leaves loopback.
 */
import type { ApplyAnswer, HeldChange, LimitInfo, ProjectInfo, ReloadEntry } from "../../packages/console/protocol.ts";
import { DEAD_LETTER_TABLE, DEAD_LETTER_TOPIC } from "../deadLetters/deadLetters.ts";
import { writerGroup } from "../writer/tableWriter.ts";
import { BodyError } from "../ingest/parseBody.ts";
import type { IglooApp } from "./app.ts";
import type { KeyRing } from "./auth.ts";
import { bodyFormat, readBody } from "./body.ts";
import { describeFunctions, describeModels, describeViews, positions, readStatus, type ConsoleParts } from "./consoleData.ts";
import { moduleResponse } from "./dashboards.ts";
import { errorAnswer, errorResponse, json } from "./errorStatus.ts";

/** What the dev command knows beyond the running parts: its files, its held changes, its log. */
export interface ConsoleProject {
  readonly limits: readonly LimitInfo[];
  held(): readonly HeldChange[];
  reloads(): readonly ReloadEntry[];
  problems(): readonly { readonly folder: string; readonly message: string }[];
  /** Bumped by every load and apply, so an open page hears of a save. */
  version(): number;
  /** Applies the held changes; the log entry of what that did (none when nothing was held). */
  applyHeld(): Promise<ReloadEntry | undefined>;
}

export interface ConsoleOptions {
  readonly parts: ConsoleParts;
  readonly project: ConsoleProject;
  /** The console's ES module. */
  readonly script: () => string;
  /** Where keys are on (dev beyond loopback), the API needs an admin key; the shell and module hold no data. */
  readonly keys?: KeyRing;
}

/**
 * The pages, each the same shell: the module reads `location.pathname` and draws the page.
 * Elysia answers a path with and without its trailing slash alike, so `/_igloo` is home too.
 */
const PAGES = ["/_igloo/", "/_igloo/models/:name", "/_igloo/functions/:name", "/_igloo/views/:name", "/_igloo/dead-letters", "/_igloo/sql", "/_igloo/changes"];

/** Under Bun.serve's idle timeout (10 s): a pulse with nothing to say answers before it. */
const PULSE_WAIT_MS = 8_000;
/** A check reads offsets from memory (the embedded log): cheap enough to run 20 times a second while a page waits. */
const PULSE_CHECK_MS = 50;

const SHELL = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Igloo console</title><link rel="icon" href="data:,">
<script type="module" src="/_igloo/components.js"></script>
<script type="module" src="/_igloo/console.js"></script>
</head><body><noscript>The Igloo console needs JavaScript.</noscript></body></html>`;

const SHELL_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // The elements style their shadow roots with <style> and uPlot sets style attributes.
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

/**
 * The pulse: one check of the positions every PULSE_CHECK_MS while some page waits, none
 * otherwise. Each change bumps the version; a page waits for a version past its own.
 */
class Pulse {
  #version = 0;
  #last: string | undefined;
  readonly #waiters = new Set<() => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking: Promise<void> | undefined;
  readonly #signature: () => Promise<string>;

  constructor(signature: () => Promise<string>) {
    this.#signature = signature;
  }

  async wait(after: number, signal: AbortSignal): Promise<number> {
    await this.#check();
    if (after !== this.#version) return this.#version;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, PULSE_WAIT_MS);
      signal.addEventListener("abort", done);
      this.#waiters.add(done);
      this.#timer ??= setInterval(() => void this.#check(), PULSE_CHECK_MS);
    });
    return this.#version;
  }

  #check(): Promise<void> {
    return (this.#checking ??= (async () => {
      try {
        const signature = await this.#signature().catch(() => this.#last ?? "");
        if (signature !== this.#last) {
          if (this.#last !== undefined) this.#version++;
          this.#last = signature;
          for (const done of [...this.#waiters]) done();
        }
      } finally {
        this.#checking = undefined;
        if (this.#waiters.size === 0 && this.#timer !== undefined) {
          clearInterval(this.#timer);
          this.#timer = undefined;
        }
      }
    })());
  }

  /** Answers every waiting page, so a stopping server is not held up by them. */
  close(): void {
    for (const done of [...this.#waiters]) done();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Adds the console's routes to the app (after the gate and error hooks, which apply to them too). */
export function mountConsole(app: IglooApp, options: ConsoleOptions): { close(): void } {
  const { parts, project } = options;
  const pulse = new Pulse(async () => `${project.version()};${await positions(parts)}`);

  const admin =
    (handle: (request: Request) => Promise<Response>) =>
    async ({ request }: { request: Request }): Promise<Response> => {
      if (options.keys) {
        const verdict = options.keys.authorize(request.headers.get("authorization"), "admin");
        if (!verdict.ok) return errorAnswer(verdict.error);
      }
      return await handle(request);
    };

  const projectInfo = (): ProjectInfo => ({
    models: describeModels(parts),
    functions: describeFunctions(parts),
    views: describeViews(parts),
    deadLetterTable: DEAD_LETTER_TABLE,
    deadLetterGroup: writerGroup(DEAD_LETTER_TOPIC),
    limits: project.limits,
    problems: project.problems(),
    held: project.held(),
    reloads: project.reloads(),
  });

  async function apply(request: Request): Promise<Response> {
    try {
      // Only JSON: a cross-site form or beacon cannot send it without a preflight (see the top).
      if (bodyFormat(request.headers.get("content-type")) !== "json") return errorResponse(415, "send content-type application/json");
      await readBody(request, 1024, 5_000);
    } catch (error) {
      if (error instanceof BodyError) return errorAnswer(error);
      throw error;
    }
    const entry = await project.applyHeld();
    const answer: ApplyAnswer = { held: project.held(), ...(entry ? { entry } : {}) };
    return json(200, answer);
  }

  const shell = () => new Response(SHELL, { headers: SHELL_HEADERS });
  for (const page of PAGES) app.get(page, shell);
  app.get("/_igloo/console.js", ({ request }) => moduleResponse(request, options.script()));
  app.get("/_igloo/api/project", admin(async () => json(200, projectInfo())));
  app.get("/_igloo/api/status", admin(async () => json(200, await readStatus(parts))));
  app.get(
    "/_igloo/api/pulse",
    admin(async (request) => {
      const after = Number(new URL(request.url).searchParams.get("v") ?? -1);
      return json(200, { v: await pulse.wait(Number.isInteger(after) ? after : -1, request.signal) });
    }),
  );
  app.post("/_igloo/api/changes/apply", admin(apply), { parse: "none" });
  return { close: () => pulse.close() };
}
