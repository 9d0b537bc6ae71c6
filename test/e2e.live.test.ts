/**
 * Read-your-writes and live subscriptions over plain HTTP (the generated client builds on
 * these): a query given an ingest token sees those records; a subscription is pushed the
 * new rows after an ingest, without polling.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import { initProject, postIngest, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const purchase = (id: string, items: string[]) => ({ orderId: id, ts: "2026-01-01T00:00:00Z", userId: "u", amount: 1, items });

describe("read-your-writes and subscriptions", () => {
  let dir: string;
  let dev: DevProcess;
  beforeAll(async () => {
    dir = initProject("live");
    dev = await startDev(dir);
  });
  afterAll(async () => {
    await dev?.stop();
    removeDir(dirname(dir));
  });

  test("a query with the ingest token answers only once the records are queryable", async () => {
    const { body } = await postIngest(dev.url, "Purchase", purchase("ryw-1", ["a"]));
    expect(typeof body.token).toBe("string");
    const response = await fetch(`${dev.url}/query`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-igloo-after": body.token },
      body: JSON.stringify({ sql: "SELECT count() AS c FROM Purchase WHERE orderId = 'ryw-1'" }),
    });
    expect(((await response.json()) as { data: { c: string }[] }).data).toEqual([{ c: "1" }]);
    const bad = await fetch(`${dev.url}/views/sales_by_sku`, { headers: { "x-igloo-after": "garbage" } });
    expect(bad.status).toBe(400);
  });

  test("a subscription gets the new rows pushed after an ingest", async () => {
    const controller = new AbortController();
    const response = await fetch(`${dev.url}/views/sales_by_sku/events`, { signal: controller.signal });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const nextEvent = async (): Promise<{ data: { sku: string; items: string }[] }> => {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (data) return JSON.parse(data.slice(6));
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        buffer += decoder.decode(value, { stream: true });
      }
    };
    const initial = await nextEvent();
    const before = Number(initial.data.find((r) => r.sku === "live-sku")?.items ?? 0);
    const sent = performance.now();
    await postIngest(dev.url, "Purchase", purchase("live-1", ["live-sku", "live-sku"]));
    let pushed = await nextEvent();
    while (Number(pushed.data.find((r) => r.sku === "live-sku")?.items ?? 0) < before + 2) pushed = await nextEvent();
    expect(performance.now() - sent).toBeLessThan(5000);
    // The push was timed, and the subscription is counted, in /metrics.
    const metrics = await (await fetch(`${dev.url}/metrics`)).text();
    expect(Number(/^igloo_live_push_delay_seconds_count (\d+)$/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    expect(metrics).toMatch(/^igloo_live_subscribers 1$/m);
    expect(metrics).toMatch(/^igloo_live_feeds 1$/m);
    controller.abort();
  });

  /** Reads server-sent events from `path`: each as { type, id, data (parsed) }. */
  async function events(path: string, headers: Record<string, string> = {}) {
    const controller = new AbortController();
    const response = await fetch(`${dev.url}${path}`, { signal: controller.signal, headers });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const next = async (timeoutMs = 5_000): Promise<{ type: string; id: string; data: any } | undefined> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end).split("\n");
          buffer = buffer.slice(end + 2);
          const field = (name: string) => block.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          if (field("data") === undefined) continue; // a keepalive
          return { type: field("event") ?? "message", id: field("id") ?? "", data: JSON.parse(field("data")!) };
        }
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        const step = await Promise.race([reader.read(), Bun.sleep(left).then(() => "timeout" as const)]);
        if (step === "timeout") return undefined;
        if (step.done) throw new Error("stream ended");
        buffer += decoder.decode(step.value, { stream: true });
      }
    };
    return { status: response.status, next, close: () => controller.abort() };
  }

  test("one shared stream follows several views: a feeds event tags each (or says why not), then rows events name their feed", async () => {
    const since = encodeURIComponent("2026-01-01 00:00:00");
    const specs = ["sales_by_sku", `user_purchases?userId=shared-u&since=${since}`, "nope", "user_purchases?userId=x", "sales_by_sku"];
    const stream = await events(`/_igloo/live?${specs.map((s) => `s=${encodeURIComponent(s)}`).join("&")}`);
    expect(stream.status).toBe(200);
    const feeds = await stream.next();
    expect(feeds?.type).toBe("feeds");
    expect(feeds!.data[0]).toEqual({ feed: expect.any(String) });
    expect(feeds!.data[1]).toEqual({ feed: expect.any(String) });
    expect(feeds!.data[2].error).toContain("no view named `nope`");
    expect(feeds!.data[3].error).toContain("`since`");
    // The same view twice is the same feed.
    expect(feeds!.data[4].feed).toBe(feeds!.data[0].feed);
    const seen = new Map<string, unknown[]>();
    for (let event = await stream.next(); event !== undefined && seen.size < 2; event = seen.size < 2 ? await stream.next() : undefined) seen.set(event.data.feed, event.data.data);
    expect([...seen.keys()].sort()).toEqual([feeds!.data[0].feed, feeds!.data[1].feed].sort());
    expect(seen.get(feeds!.data[1].feed)).toEqual([]);
    await postIngest(dev.url, "Purchase", { orderId: "shared-1", ts: "2026-03-01T00:00:00Z", userId: "shared-u", amount: 2, items: ["shared-sku"] });
    let pushed: { feed: string; data: { orderId: string }[] } | undefined;
    for (let event = await stream.next(); event !== undefined; event = await stream.next()) {
      if (event.data.feed === feeds!.data[1].feed) {
        pushed = event.data;
        break;
      }
    }
    expect(pushed?.data.map((r) => r.orderId)).toEqual(["shared-1"]);
    stream.close();
    const none = await events("/_igloo/live");
    expect(none.status).toBe(400);
    // At most 100 views on one stream: more is refused whole, holding nothing.
    const many = await fetch(`${dev.url}/_igloo/live?${Array.from({ length: 101 }, () => "s=sales_by_sku").join("&")}`);
    expect(many.status).toBe(400);
    expect(((await many.json()) as { error: string }).error).toContain("name 1 to 100 views");
  });

  test("a view's own stream: rows carry an id, and a reconnect with that Last-Event-ID is not sent the same rows again", async () => {
    // A user nobody ingests for: rows that cannot change while the test runs.
    const path = `/views/user_purchases/events?userId=still&since=${encodeURIComponent("2026-01-01 00:00:00")}`;
    const first = await events(path);
    const rows = await first.next();
    first.close();
    expect(rows?.id).toMatch(/^[0-9a-z]+$/);
    const again = await events(path, { "last-event-id": rows!.id });
    expect(await again.next(1_500)).toBeUndefined();
    again.close();
    const stale = await events(path, { "last-event-id": "stale" });
    expect((await stale.next())?.data).toEqual(rows!.data);
    stale.close();
  });

  test("/openapi.json is a valid OpenAPI 3.1 document generated from the models and views", async () => {
    const document = (await (await fetch(`${dev.url}/openapi.json`)).json()) as Record<string, any>;
    // The validator dereferences in place: validate a copy, inspect the original.
    await SwaggerParser.validate(structuredClone(document) as never);
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/ingest/PageView", "/ingest/Purchase", "/views/sales_by_sku", "/views/user_purchases"]));
    const input = document.components.schemas.PurchaseInput;
    expect(input.required).toEqual(["orderId", "ts", "userId", "amount"]);
    expect(input.additionalProperties).toBe(false);
    expect(document.components.schemas.PageViewInput.properties.device).toEqual({ type: "string", enum: ["desktop", "mobile", "tablet"] });
    const params = document.paths["/views/user_purchases"].get.parameters.filter((p: { in: string }) => p.in === "query").map((p: { name: string }) => p.name);
    expect(params).toEqual(["userId", "since"]);
    // A view's UInt64 column is digits in a string, described as the model's rows are.
    expect(document.components.schemas.sales_by_skuRow.properties.items).toEqual({ type: "string", pattern: "^-?\\d+$" });
    // Every route is described, not only ingest and views.
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/query", "/views/sales_by_sku/events", "/views/user_purchases/events", "/health", "/ready", "/metrics", "/dead-letters/replay", "/_igloo/live", "/_igloo/views/{name}/columns", "/_igloo/components.js", "/dashboards/{name}"]),
    );
    const query = document.paths["/query"].post;
    expect(document.components.schemas[query.requestBody.content["application/json"].schema.$ref.split("/").pop()]).toMatchObject({ required: ["sql"], properties: { sql: { type: "string" }, params: { type: "object" } } });
    const result = document.components.schemas[query.responses["200"].content["application/json"].schema.$ref.split("/").pop()];
    expect(result.required).toEqual(["meta", "data"]);
    expect(Object.keys(query.responses)).toEqual(expect.arrayContaining(["200", "400", "415", "503"]));
    const events = document.paths["/views/user_purchases/events"].get;
    expect(events.parameters.map((p: { name: string }) => p.name)).toEqual(["userId", "since"]);
    expect(Object.keys(events.responses["200"].content)).toEqual(["text/event-stream"]);
    expect(events.responses).toHaveProperty(["429"]);
    expect(Object.keys(document.paths["/ready"].get.responses)).toEqual(["200", "503"]);
    expect(Object.keys(document.paths["/metrics"].get.responses["200"].content)).toEqual(["text/plain"]);
    // What the document says is what the server answers.
    const answered = await fetch(`${dev.url}/query`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql: "SELECT 1 AS one" }) });
    expect(Object.keys((await answered.json()) as object).sort()).toEqual(Object.keys(result.properties).filter((k) => k !== "error").sort());
    expect(await (await fetch(`${dev.url}/ready`)).json()).toEqual({ status: "ready" });
    expect((await fetch(`${dev.url}/metrics`)).headers.get("content-type")).toStartWith("text/plain");
  });

  test("an invalid document would be caught by the validator", async () => {
    await expect(SwaggerParser.validate({ openapi: "3.1.0", info: { title: "x" }, paths: { "/a": { get: { responses: "nope" } } } } as never)).rejects.toThrow();
  });
});
