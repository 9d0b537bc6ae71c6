/**
 * The dashboard elements' pure parts, on tables of cases: rows to chart series (axes,
 * pivots by a series column, stacking), rows to a KPI, and the attributes the typed
 * client writes read back by the elements.
 */
import { describe, expect, test } from "bun:test";
import { attributesOf } from "../packages/client/dashboard.ts";
import { flag, list, readBinding } from "../packages/components/attributes.ts";
import { chartData, type ChartData, type ChartSpec } from "../packages/components/chartData.ts";
import { readColumns, timeOf, numberOf } from "../packages/components/columns.ts";
import { kpiData, type Kpi, type KpiSpec } from "../packages/components/kpiData.ts";

const columns = readColumns([
  { name: "minute", type: "DateTime64(3, 'UTC')" },
  { name: "device", type: "LowCardinality(String)" },
  { name: "views", type: "UInt64" },
  { name: "amount", type: "Nullable(Decimal(18, 2))" },
]);
const rows = [
  { minute: "2026-11-30T10:01:00.000Z", device: "mobile", views: "3", amount: "1.50" },
  { minute: "2026-11-30T10:00:00.000Z", device: "desktop", views: "5", amount: null },
  { minute: "2026-11-30T10:00:00.000Z", device: "mobile", views: "2", amount: "12345.25" },
  { minute: "2026-11-30T10:01:00.000Z", device: "desktop", views: "7", amount: "0.10" },
];
const spec = (over: Partial<ChartSpec>): ChartSpec => ({ type: "line", stacked: false, x: undefined, y: [], series: undefined, ...over });
const chart = (over: Partial<ChartSpec>) => chartData(rows, columns, spec(over)) as ChartData;

describe("chartData", () => {
  test("x defaults to the first time column, y to the numeric columns; positions ascend, one per x", () => {
    const data = chart({});
    expect(data.axis).toBe("time");
    expect(data.x.name).toBe("minute");
    expect(data.xs).toEqual([Date.parse("2026-11-30T10:00:00Z"), Date.parse("2026-11-30T10:01:00Z")]);
    expect(data.labels).toEqual(["2026-11-30 10:00:00", "2026-11-30 10:01:00"]);
    expect(data.series.map((s) => s.label)).toEqual(["views", "amount"]);
  });

  test("a series column pivots: one series per value, in order of appearance", () => {
    const data = chart({ y: ["views"], series: "device" });
    expect(data.series.map((s) => [s.label, s.values])).toEqual([
      ["mobile", [2, 3]],
      ["desktop", [5, 7]],
    ]);
    expect(chart({ y: ["views", "amount"], series: "device" }).series.map((s) => s.label)).toEqual(["mobile · views", "mobile · amount", "desktop · views", "desktop · amount"]);
  });

  test("stacked: running sums drawn, the values as given kept for the legend", () => {
    const data = chart({ type: "bar", stacked: true, y: ["views"], series: "device" });
    expect(data.series.map((s) => s.values)).toEqual([
      [2, 3],
      [7, 10],
    ]);
    expect(data.series[1]!.raw).toEqual(["5", "7"]);
  });

  test("text x is a category axis in the view's order; scatter keeps every row", () => {
    const data = chart({ x: "device", y: ["views"] });
    expect(data.axis).toBe("category");
    expect(data.labels).toEqual(["mobile", "desktop"]);
    expect(data.xs).toEqual([0, 1]);
    expect(chart({ type: "scatter", x: "views", y: ["amount"] }).xs).toEqual([2, 3, 5, 7]);
  });

  test("a column the view does not have, or nothing to plot, is said with the columns there are", () => {
    expect(chartData(rows, columns, spec({ y: ["nope"] }))).toBe("no column `nope` in the view (its columns: minute, device, views, amount)");
    expect(chartData([{ a: "x" }], readColumns([{ name: "a", type: "String" }]), spec({}))).toStartWith("no numeric column to plot against `a`");
  });
});

describe("kpiData", () => {
  const kpi = (over: Partial<KpiSpec>) => kpiData(rows, columns, { value: "views", aggregate: "last", x: undefined, compare: undefined, ...over }) as Kpi;
  test.each([
    ["last", "7"],
    ["first", "3"],
    ["sum", "17"],
    ["avg", "4.25"],
    ["min", "2"],
    ["max", "7"],
    ["count", "4"],
  ] as const)("aggregate %s", (aggregate, text) => {
    expect(kpi({ aggregate }).figure.text).toBe(text);
  });

  test("ordered by x; compared with the previous row or another column", () => {
    const ordered = kpi({ x: "minute", compare: "previous" });
    expect(ordered.points).toEqual([5, 2, 3, 7]);
    expect(ordered.compared?.text).toBe("3");
    expect(ordered.change).toBeCloseTo(4 / 3);
    expect(kpi({ value: "amount", aggregate: "max" }).figure.text).toBe("12,345.25");
    expect(kpiData(rows, columns, { value: "views", aggregate: "sum", x: undefined, compare: "previous" })).toStartWith("`compare=\"previous\"`");
    expect(kpiData(rows, columns, { value: undefined, aggregate: "sum", x: undefined, compare: undefined })).toStartWith("no value");
  });
});

describe("attributes", () => {
  test("what the typed client writes, the elements read back", () => {
    const written = attributesOf("user_purchases", { params: { userId: "u-1", since: "2026-01-01 00:00:00" }, live: true, y: ["amount", "items"], stacked: false, pageSize: 5 });
    expect(written).toEqual({ view: "user_purchases", params: '{"userId":"u-1","since":"2026-01-01 00:00:00"}', live: "", y: "amount,items", "page-size": "5" });
    const get = (name: string) => written[name] ?? null;
    expect(readBinding(get, "http://127.0.0.1:4000")).toEqual({ view: "user_purchases", params: { userId: "u-1", since: "2026-01-01 00:00:00" }, live: true, url: "http://127.0.0.1:4000", key: undefined });
    expect(list(get, "y")).toEqual(["amount", "items"]);
    expect(flag(get, "stacked")).toBe(false);
  });

  test("a binding at fault says what to write", () => {
    expect(readBinding(() => null, "")).toEqual({ problem: expect.stringContaining("set the `view` attribute") });
    expect(readBinding((n) => ({ view: "v", params: "[1]" })[n] ?? null, "")).toEqual({ problem: expect.stringContaining("must be a JSON object") });
    expect(readBinding((n) => ({ view: "v", params: "{" })[n] ?? null, "")).toEqual({ problem: expect.stringContaining("is not JSON") });
  });
});

test("values to plot: wide integers and decimals come as strings, instants as ISO-8601 UTC", () => {
  expect([numberOf("18446744073709551615"), numberOf("-1.5"), numberOf(""), numberOf(true)]).toEqual([18446744073709551615, -1.5, null, 1]);
  expect([timeOf("2026-11-30T10:00:00.120Z"), timeOf("2026-11-30"), timeOf("2026-11-30 10:00:00")]).toEqual([
    Date.parse("2026-11-30T10:00:00.120Z"),
    Date.parse("2026-11-30T00:00:00Z"),
    Date.parse("2026-11-30T10:00:00Z"),
  ]);
});
