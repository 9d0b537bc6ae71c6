/**
 * The cross-site hole of a local dev server, closed: a page on a foreign origin, in
 * headless Chromium, tries every way a browser offers into a running `igloo dev` (fetch
 * with and without CORS, form posts into a frame, beacons, embeds, EventSource, DNS
 * rebinding) and nothing reaches `/query` or `/ingest`, nothing is stored, nothing is read
 * back. A page on a loopback origin, which dev allows, makes the same calls and succeeds,
 * so the refusals are the gate's and not a broken setup.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "./helpers/browser.ts";
import { countRows, eventually, freePort, initProject, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

/** One thing an attacker's page tries, run by `window.attempt` in the page. */
type Attempt =
  | { readonly how: "fetch"; readonly url: string; readonly init: { method?: string; mode: "cors" | "no-cors"; headers?: Record<string, string>; body?: string } }
  | { readonly how: "form"; readonly url: string; readonly enctype: string; readonly fields: readonly (readonly [string, string])[] }
  | { readonly how: "beacon"; readonly url: string; readonly body: string; readonly blobType?: string }
  | { readonly how: "img" | "script" | "eventsource"; readonly url: string };

/** What the page got to see of one attempt. */
interface Outcome {
  readonly type?: string;
  readonly status?: number;
  readonly body?: string;
  readonly rejected?: string;
  readonly event?: string;
  readonly readable?: string | null;
  readonly queued?: boolean;
  readonly threw?: string;
  readonly readyState?: number;
  readonly messages?: string[];
}

// Plain JavaScript, served by the attacker's server as a real attack page would be. Every
// branch reports only what the page itself can observe.
const PAGE_SCRIPT = `
const within = (ms, start) => new Promise((resolve) => {
  const timer = setTimeout(() => resolve({ event: "timeout" }), ms);
  start((outcome) => { clearTimeout(timer); resolve(outcome); });
});
let frames = 0;
window.attempt = async (a) => {
  switch (a.how) {
    case "fetch":
      try {
        const response = await fetch(a.url, a.init);
        return { type: response.type, status: response.status, body: await response.text() };
      } catch (error) {
        return { rejected: error.name };
      }
    case "form": {
      const frame = document.createElement("iframe");
      frame.name = "sink" + ++frames;
      document.body.append(frame);
      const form = document.createElement("form");
      Object.assign(form, { method: "POST", action: a.url, enctype: a.enctype, target: frame.name });
      for (const [name, value] of a.fields) form.append(Object.assign(document.createElement("input"), { type: "hidden", name, value }));
      document.body.append(form);
      return within(5000, (done) => {
        frame.onload = () => done({ event: "load", readable: frame.contentDocument === null ? null : frame.contentDocument.body.textContent });
        form.submit();
      });
    }
    case "beacon":
      try {
        return { queued: navigator.sendBeacon(a.url, a.blobType ? new Blob([a.body], { type: a.blobType }) : a.body) };
      } catch (error) {
        return { threw: error.name };
      }
    case "img":
    case "script": {
      const element = document.createElement(a.how);
      return within(5000, (done) => {
        element.onload = () => done({ event: "load" });
        element.onerror = () => done({ event: "error" });
        element.src = a.url;
        document.body.append(element);
      });
    }
    case "eventsource": {
      const source = new EventSource(a.url);
      const messages = [];
      source.onmessage = (e) => messages.push(e.data);
      source.addEventListener("rows", (e) => messages.push(e.data));
      const outcome = await within(5000, (done) => {
        source.onerror = () => done({ event: "error", readyState: source.readyState, messages });
      });
      source.close();
      return outcome;
    }
  }
};
`;

const PAGE = `<!doctype html><title>a page</title><body><script>${PAGE_SCRIPT}</script></body>`;

/** A page server on 127.0.0.1 that records the requests it gets. */
function pageServer() {
  const requests: { method: string; path: string; host: string | null }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: freePort(),
    fetch(request) {
      requests.push({ method: request.method, path: new URL(request.url).pathname, host: request.headers.get("host") });
      return new Response(PAGE, { headers: { "content-type": "text/html" } });
    },
  });
  return { server, requests };
}

const RECORD = { userId: "evil", path: "/pwned", country: "FR", device: "desktop", durationMs: 1 };
const JSON_RECORD = JSON.stringify(RECORD);
const SELECT = JSON.stringify({ sql: "SELECT 1" });
/** The remote code execution of the issue: a file written into functions/, which dev would load. */
const rce = (project: string) =>
  JSON.stringify({ sql: `INSERT INTO FUNCTION file('${project}/functions/x.ts','RawBLOB','a String') SELECT 'export default 1'` });
/** A text/plain form posts `name=value`: a name ending in an open string makes the body JSON. */
const jsonField = (json: string): [string, string] => [`${json.slice(0, -1)},"pad":"`, '"}'];

const OPAQUE: Outcome = { type: "opaque", status: 0, body: "" };
const REJECTED: Outcome = { rejected: "TypeError" };
const FRAME_UNREADABLE: Outcome = { event: "load", readable: null };
const EMBED_FAILED: Outcome = { event: "error" };

/** Everything a page on another site can send to `target` (a base URL of the dev server), with what it must get. */
function crossSiteAttempts(target: string, project: string): { name: string; attempt: Attempt; expected: Outcome }[] {
  const query = `${target}/query`;
  const ingest = `${target}/ingest/PageView`;
  const view = `${target}/views/top_pages`;
  const post = (mode: "cors" | "no-cors", contentType: string, body: string) => ({ method: "POST", mode, headers: { "content-type": contentType }, body });
  return [
    { name: "no-cors text/plain POST /query", attempt: { how: "fetch", url: query, init: post("no-cors", "text/plain", SELECT) }, expected: OPAQUE },
    { name: "no-cors text/plain POST /query, file() payload", attempt: { how: "fetch", url: query, init: post("no-cors", "text/plain", rce(project)) }, expected: OPAQUE },
    { name: "CORS application/json POST /query", attempt: { how: "fetch", url: query, init: post("cors", "application/json", SELECT) }, expected: REJECTED },
    { name: "CORS application/json POST /query, file() payload", attempt: { how: "fetch", url: query, init: post("cors", "application/json", rce(project)) }, expected: REJECTED },
    { name: "no-cors text/plain POST /ingest", attempt: { how: "fetch", url: ingest, init: post("no-cors", "text/plain", JSON_RECORD) }, expected: OPAQUE },
    { name: "CORS application/json POST /ingest", attempt: { how: "fetch", url: ingest, init: post("cors", "application/json", JSON_RECORD) }, expected: REJECTED },
    { name: "no-cors urlencoded POST /ingest", attempt: { how: "fetch", url: ingest, init: post("no-cors", "application/x-www-form-urlencoded", "userId=evil") }, expected: OPAQUE },
    { name: "CORS urlencoded POST /ingest", attempt: { how: "fetch", url: ingest, init: post("cors", "application/x-www-form-urlencoded", "userId=evil") }, expected: REJECTED },
    { name: "text/plain form to /ingest", attempt: { how: "form", url: ingest, enctype: "text/plain", fields: [jsonField(JSON_RECORD)] }, expected: FRAME_UNREADABLE },
    { name: "urlencoded form to /ingest", attempt: { how: "form", url: ingest, enctype: "application/x-www-form-urlencoded", fields: Object.entries(RECORD).map(([k, v]) => [k, String(v)]) }, expected: FRAME_UNREADABLE },
    { name: "text/plain form to /query", attempt: { how: "form", url: query, enctype: "text/plain", fields: [jsonField(rce(project))] }, expected: FRAME_UNREADABLE },
    { name: "urlencoded form to /query", attempt: { how: "form", url: query, enctype: "application/x-www-form-urlencoded", fields: [["sql", "SELECT 1"]] }, expected: FRAME_UNREADABLE },
    { name: "beacon with a string to /ingest", attempt: { how: "beacon", url: ingest, body: JSON_RECORD }, expected: { queued: true } },
    { name: "beacon with a JSON Blob to /ingest", attempt: { how: "beacon", url: ingest, body: JSON_RECORD, blobType: "application/json" }, expected: { queued: true } },
    { name: "beacon with a text Blob to /ingest", attempt: { how: "beacon", url: ingest, body: JSON_RECORD, blobType: "text/plain" }, expected: { queued: true } },
    { name: "CORS GET a view", attempt: { how: "fetch", url: view, init: { mode: "cors" } }, expected: REJECTED },
    { name: "no-cors GET a view", attempt: { how: "fetch", url: view, init: { mode: "no-cors" } }, expected: OPAQUE },
    { name: "<img> of a view", attempt: { how: "img", url: view }, expected: EMBED_FAILED },
    { name: "<img> of a view's events", attempt: { how: "img", url: `${view}/events` }, expected: EMBED_FAILED },
    { name: "<script> of a view", attempt: { how: "script", url: view }, expected: EMBED_FAILED },
    { name: "<script> of a view's events", attempt: { how: "script", url: `${view}/events` }, expected: EMBED_FAILED },
    { name: "EventSource on a view's events", attempt: { how: "eventsource", url: `${view}/events` }, expected: { event: "error", readyState: 2, messages: [] } },
  ];
}

/**
 * What Chromium put on the wire to the dev server, from its own network log (CDP): the
 * answer's status even where the page sees none (no-cors, beacons, embeds, frames of
 * another origin), and CORS preflights, which pages never see.
 */
interface WireRequest {
  method?: string;
  url?: string;
  type?: string;
  status?: number;
  /** Why the browser failed the request; a `Preflight...` CORS error means its preflight was refused and it was never sent. */
  failure?: string;
}

async function watchWire(context: BrowserContext, page: Page): Promise<Map<string, WireRequest>> {
  const wire = new Map<string, WireRequest>();
  const entry = (id: string) => wire.get(id) ?? wire.set(id, {}).get(id)!;
  const cdp = await context.newCDPSession(page);
  // The events of one request come in no fixed order: merge them by id.
  cdp.on("Network.requestWillBeSent", (e) => Object.assign(entry(e.requestId), { method: e.request.method, url: e.request.url, type: e.type }));
  cdp.on("Network.responseReceivedExtraInfo", (e) => Object.assign(entry(e.requestId), { status: e.statusCode }));
  cdp.on("Network.loadingFailed", (e) => Object.assign(entry(e.requestId), { failure: e.corsErrorStatus?.corsError ?? e.errorText }));
  await cdp.send("Network.enable");
  return wire;
}

describe("a foreign web page against igloo dev in headless Chromium", () => {
  let dir: string;
  let dev: DevProcess;
  let browser: Browser;
  let evil: ReturnType<typeof pageServer>;
  let control: ReturnType<typeof pageServer>;
  let functionsBefore: string[];

  beforeAll(async () => {
    dir = initProject("attack");
    dev = await startDev(dir);
    functionsBefore = readdirSync(join(dir, "functions")).sort();
    evil = pageServer();
    control = pageServer();
    // evil.test serves the attacker's page, rebind.test is a name it re-pointed at this
    // machine: both resolve to 127.0.0.1, so requests really reach the dev server, from
    // origins that are not loopback.
    browser = await launchChromium(["--host-resolver-rules=MAP evil.test 127.0.0.1, MAP rebind.test 127.0.0.1"]);
  });
  afterAll(async () => {
    await browser?.close();
    evil?.server.stop(true);
    control?.server.stop(true);
    await dev?.stop();
    if (dir) removeDir(dirname(dir));
  });

  const attempt = (page: Page, a: Attempt): Promise<Outcome> =>
    page.evaluate((a) => (globalThis as unknown as { attempt(a: Attempt): Promise<Outcome> }).attempt(a), a);

  /** The dev server's part of the wire log, once every request is answered or has failed (beacons leave after the call returns). */
  async function settled(wire: Map<string, WireRequest>): Promise<WireRequest[]> {
    const toDev = () => [...wire.values()].filter((r) => r.url !== undefined && new URL(r.url).port === String(dev.port));
    await eventually(async () => toDev().filter((r) => r.status === undefined && r.failure === undefined).length, (n) => n === 0, 10_000);
    return toDev();
  }

  test("from http://evil.test, every cross-site route is refused by the server and the page reads nothing", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const wire = await watchWire(context, page);
    await page.goto(`http://evil.test:${evil.server.port}/`);
    const targets = [`http://127.0.0.1:${dev.port}`, `http://localhost:${dev.port}`];
    const planned = targets.flatMap((target) => crossSiteAttempts(target, dir).map((a) => ({ ...a, target })));
    // Every attempt runs even if one gets through, so a failure shows them all.
    const seen: { name: string; target: string; outcome: Outcome }[] = [];
    for (const { name, target, attempt: a } of planned) seen.push({ name, target, outcome: await attempt(page, a) });
    expect(seen).toEqual(planned.map(({ name, target, expected }) => ({ name, target, outcome: expected })));

    const requests = await settled(wire);
    // In dev on loopback only the gate answers 403 (no keys, and no route answers it), and a
    // request whose preflight it refused never leaves the browser.
    expect(requests.filter((r) => r.status !== undefined && r.status !== 403)).toEqual([]);
    expect(requests.filter((r) => r.status === undefined && !r.failure!.startsWith("Preflight"))).toEqual([]);
    for (const target of targets) {
      // One request reached the server per attempt: the attack itself or its preflight.
      const answered = requests.filter((r) => r.url!.startsWith(target) && r.status !== undefined);
      expect(answered.length).toBe(crossSiteAttempts(target, dir).length);
      expect(new Set(answered.map((r) => new URL(r.url!).pathname))).toEqual(new Set(["/query", "/ingest/PageView", "/views/top_pages", "/views/top_pages/events"]));
    }
    // The page really came from the foreign name, so every attempt above was cross-site.
    expect(evil.requests.length).toBeGreaterThan(0);
    expect(evil.requests.filter((r) => r.host !== `evil.test:${evil.server.port}`)).toEqual([]);
    await context.close();
  });

  test("DNS rebinding: a foreign name pointed at 127.0.0.1 gets 403 for everything, even same-origin", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const wire = await watchWire(context, page);
    const origin = `http://rebind.test:${dev.port}`;
    // The refusal, whole: an object with one message naming the attack, and no data.
    const refusal = /^\{"error":"requests for host `rebind\.test:\d+` are refused[^"]*DNS rebinding[^"]*"\}$/;
    const landing = await page.goto(`${origin}/health`);
    expect(landing?.status()).toBe(403);
    expect(await landing?.text()).toMatch(refusal);
    // The page is now same-origin with the dev server as far as the browser knows: it may read every answer.
    await page.addScriptTag({ content: PAGE_SCRIPT });
    const json = (body: string) => ({ method: "POST", mode: "cors" as const, headers: { "content-type": "application/json" }, body });
    const attempts: Attempt[] = [
      { how: "fetch", url: `${origin}/query`, init: json(SELECT) },
      { how: "fetch", url: `${origin}/query`, init: json(rce(dir)) },
      { how: "fetch", url: `${origin}/ingest/PageView`, init: json(JSON_RECORD) },
      { how: "fetch", url: `${origin}/views/top_pages`, init: { mode: "cors" } },
      { how: "fetch", url: `${origin}/views/top_pages/events`, init: { mode: "cors" } },
    ];
    const seen: { url: string; outcome: Outcome }[] = [];
    for (const a of attempts) seen.push({ url: a.url, outcome: await attempt(page, a) });
    expect(seen).toEqual(attempts.map((a) => ({ url: a.url, outcome: { type: "basic", status: 403, body: expect.stringMatching(refusal) } })));
    const requests = await settled(wire);
    expect(requests.length).toBeGreaterThan(attempts.length);
    expect(requests.filter((r) => r.status !== 403)).toEqual([]);
    await context.close();
  });

  test("after the attacks: nothing reached /ingest, nothing is stored, no file written, nothing reloaded, the server serves on", async () => {
    // Every request that passes the gate into POST /ingest is counted here, whatever its answer.
    const metrics = await (await fetch(`${dev.url}/metrics`)).text();
    expect(metrics).not.toMatch(/^igloo_ingest_(requests|records)_total\{/m);
    for (const table of ["PageView", "Purchase", "PurchaseItem", "igloo_dead_letters"]) expect(await countRows(dev.url, table)).toBe(0);
    expect(existsSync(join(dir, "functions", "x.ts"))).toBe(false);
    expect(readdirSync(join(dir, "functions")).sort()).toEqual(functionsBefore);
    const afterReady = dev.output().slice(dev.output().indexOf("ready at"));
    expect(afterReady).not.toMatch(/reload|request failed/);
    expect(await (await fetch(`${dev.url}/health`)).json()).toEqual({ status: "ok" });
  });

  test("control: a page on a loopback origin may ingest, query and read a view", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://localhost:${control.server.port}/`);
    const records = [1, 2, 3].map((n) => ({ ...RECORD, userId: `control-${n}`, path: "/control" }));
    const ingested = await attempt(page, {
      how: "fetch",
      url: `${dev.url}/ingest/PageView`,
      init: { method: "POST", mode: "cors", headers: { "content-type": "application/json" }, body: JSON.stringify(records) },
    });
    expect(ingested).toMatchObject({ type: "cors", status: 200 });
    const verdict = JSON.parse(ingested.body!) as { accepted: number; rejected: number; token: string };
    expect(verdict).toMatchObject({ accepted: 3, rejected: 0 });
    const view = await attempt(page, { how: "fetch", url: `${dev.url}/views/top_pages`, init: { mode: "cors", headers: { "x-igloo-after": verdict.token } } });
    expect(view).toMatchObject({ type: "cors", status: 200 });
    expect(JSON.parse(view.body!)).toEqual({ data: [expect.objectContaining({ path: "/control", views: "3", users: "3" })] });
    const queried = await attempt(page, {
      how: "fetch",
      url: `${dev.url}/query`,
      init: { method: "POST", mode: "cors", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql: "SELECT count() AS c FROM PageView" }) },
    });
    expect(queried).toMatchObject({ type: "cors", status: 200 });
    expect(JSON.parse(queried.body!)).toMatchObject({ data: [{ c: "3" }] });
    expect(await countRows(dev.url, "PageView")).toBe(3);
    // The counter the previous test found empty does count a browser's ingest once the gate lets it through.
    expect(await (await fetch(`${dev.url}/metrics`)).text()).toContain('igloo_ingest_requests_total{model="PageView",status="200"} 1');
    await context.close();
  });
});
