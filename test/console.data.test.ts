/**
 * The dev console's server-side reading of the runtime, without a browser: the status is
 * the `/metrics` rendering read back (parsed from the real metrics module's text, so a
 * change of format there shows here), and every limit the SQL page lists resolves to a
 * value of the limits the server runs with.
 */
import { describe, expect, test } from "bun:test";
import { limitInfo } from "../src/commands/devConsole.ts";
import { LIMIT_SETTINGS } from "../src/config.ts";
import { DEFAULT_LIMITS } from "../runtime/limits.ts";
import { iglooMetrics, Metrics } from "../runtime/observability/metrics.ts";
import { parseSamples } from "../runtime/server/consoleData.ts";

describe("the console's status from /metrics", () => {
  test("counters, gauges and labels read back as they were set", async () => {
    const registry = new Metrics();
    const metrics = iglooMetrics(registry);
    metrics.ingestRecords.inc({ model: "PageView", result: "accepted" }, 12);
    metrics.ingestRecords.inc({ model: "PageView", result: "rejected" }, 2);
    metrics.functionErrors.inc({ function: 'odd "name"\\n\\with\nbreak' }, 3);
    metrics.consumerLag.set({ topic: "PageView", group: "igloo-writer-PageView" }, 7);
    metrics.writerBatchSeconds.observe({ table: "PageView" }, 0.02);
    const samples = parseSamples(await registry.render());
    const value = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value("igloo_ingest_records_total", { model: "PageView", result: "accepted" })).toBe(12);
    expect(value("igloo_ingest_records_total", { model: "PageView", result: "rejected" })).toBe(2);
    expect(value("igloo_function_errors_total", { function: 'odd "name"\\n\\with\nbreak' })).toBe(3);
    expect(value("igloo_consumer_lag", { group: "igloo-writer-PageView" })).toBe(7);
    expect(value("igloo_writer_batch_seconds_bucket", { table: "PageView", le: "+Inf" })).toBe(1);
  });
});

describe("the limits the SQL page lists", () => {
  test("each limit setting names a value of the server's limits", () => {
    const shown = limitInfo(DEFAULT_LIMITS);
    expect(shown.map((l) => l.setting)).toEqual(LIMIT_SETTINGS.map((s) => s.env));
    expect(shown.find((l) => l.setting === "IGLOO_QUERY_TIMEOUT_MS")?.value).toBe(DEFAULT_LIMITS.query.timeoutMs);
    expect(shown.find((l) => l.setting === "IGLOO_MAX_BODY_BYTES")?.value).toBe(DEFAULT_LIMITS.maxBodyBytes);
  });
});
