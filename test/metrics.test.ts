import { describe, expect, test } from "bun:test";
import { iglooMetrics, Metrics } from "../runtime/observability/metrics.ts";

/**
 * A strict reading of the text format 0.0.4, so that what Prometheus would refuse fails
 * here: every line is a HELP, a TYPE or a sample; a family's HELP and TYPE come first and
 * its samples are contiguous; histogram buckets are cumulative and end with `+Inf`,
 * equal to `_count`. Returns the samples, label values unescaped.
 */
function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  expect(text.endsWith("\n")).toBe(true);
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const types = new Map<string, string>();
  let family = "";
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const VALUE = "(?:[+-]?(?:\\d+\\.?\\d*(?:e[+-]?\\d+)?|\\.\\d+)|[+-]Inf|NaN)";
  const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
  const sample = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (${VALUE})$`);
  for (const line of text.slice(0, -1).split("\n")) {
    const help = new RegExp(`^# HELP (${NAME}) (?:[^\\\\\\n]|\\\\[\\\\n])*$`).exec(line);
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (help) {
      expect(types.has(help[1]!)).toBe(false);
      family = help[1]!;
    } else if (type) {
      expect(type[1]).toBe(family);
      types.set(family, type[2]!);
    } else {
      const match = sample.exec(line);
      if (!match) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
      const name = match[1]!;
      const suffixes = types.get(family) === "histogram" ? ["_bucket", "_sum", "_count"] : [""];
      expect(suffixes.map((suffix) => family + suffix)).toContain(name);
      const labels: Record<string, string> = {};
      for (const [, key, raw] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        expect(labels[key!]).toBeUndefined();
        labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      }
      const value = match[3] === "+Inf" ? Infinity : match[3] === "-Inf" ? -Infinity : Number(match[3]);
      samples.push({ name, labels, value });
    }
  }
  checkHistograms(samples);
  return samples;
}

function checkHistograms(samples: { name: string; labels: Record<string, string>; value: number }[]): void {
  const seriesKey = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le"));
  const buckets = new Map<string, { le: number; value: number }[]>();
  for (const s of samples.filter((s) => s.name.endsWith("_bucket"))) {
    const key = s.name.slice(0, -"_bucket".length) + seriesKey(s.labels);
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    buckets.set(key, [...(buckets.get(key) ?? []), { le, value: s.value }]);
  }
  for (const [key, series] of buckets) {
    for (let i = 1; i < series.length; i++) {
      expect(series[i]!.le).toBeGreaterThan(series[i - 1]!.le);
      expect(series[i]!.value).toBeGreaterThanOrEqual(series[i - 1]!.value);
    }
    expect(series.at(-1)!.le).toBe(Infinity);
    const count = samples.find((s) => s.name.endsWith("_count") && s.name.slice(0, -"_count".length) + seriesKey(s.labels) === key);
    expect(count?.value).toBe(series.at(-1)!.value);
  }
}

describe("Metrics.render", () => {
  test("a counter with labels, a gauge and a histogram, exactly", async () => {
    const metrics = new Metrics();
    const requests = metrics.counter("http_requests_total", "Requests served.", ["method", "code"]);
    const temperature = metrics.gauge("room_temperature_celsius", "Current temperature.");
    const latency = metrics.histogram("request_seconds", "Request latency.", [0.1, 0.5, 1], ["route"]);
    requests.inc({ method: "GET", code: "200" });
    requests.inc({ method: "GET", code: "200" }, 2);
    requests.inc({ method: "POST", code: "500" });
    temperature.set({}, -3.5);
    for (const value of [0.05, 0.1, 0.3, 2]) latency.observe({ route: "/a" }, value);
    latency.observe({ route: "/b" }, 0.75);
    const text = await metrics.render();
    expect(text).toBe(
      [
        "# HELP http_requests_total Requests served.",
        "# TYPE http_requests_total counter",
        'http_requests_total{method="GET",code="200"} 3',
        'http_requests_total{method="POST",code="500"} 1',
        "# HELP room_temperature_celsius Current temperature.",
        "# TYPE room_temperature_celsius gauge",
        "room_temperature_celsius -3.5",
        "# HELP request_seconds Request latency.",
        "# TYPE request_seconds histogram",
        'request_seconds_bucket{route="/a",le="0.1"} 2',
        'request_seconds_bucket{route="/a",le="0.5"} 3',
        'request_seconds_bucket{route="/a",le="1"} 3',
        'request_seconds_bucket{route="/a",le="+Inf"} 4',
        'request_seconds_sum{route="/a"} 2.45',
        'request_seconds_count{route="/a"} 4',
        'request_seconds_bucket{route="/b",le="0.1"} 0',
        'request_seconds_bucket{route="/b",le="0.5"} 0',
        'request_seconds_bucket{route="/b",le="1"} 1',
        'request_seconds_bucket{route="/b",le="+Inf"} 1',
        'request_seconds_sum{route="/b"} 0.75',
        'request_seconds_count{route="/b"} 1',
        "",
      ].join("\n"),
    );
    expect(parseExposition(text)).toHaveLength(15);
  });

  test("metrics without labels show at zero before use; labelled ones show no series", async () => {
    const metrics = new Metrics();
    metrics.counter("a_total", "A.");
    metrics.histogram("b", "B.", [1]);
    metrics.gauge("c", "C.", ["x"]);
    expect(await metrics.render()).toBe(
      "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n" +
        '# HELP b B.\n# TYPE b histogram\nb_bucket{le="1"} 0\nb_bucket{le="+Inf"} 0\nb_sum 0\nb_count 0\n' +
        "# HELP c C.\n# TYPE c gauge\n",
    );
  });

  test("label values escape backslash, quote and newline; help escapes backslash and newline", async () => {
    const metrics = new Metrics();
    const odd = metrics.gauge("odd", 'Help with a \\ backslash,\na newline and "quotes".', ["path"]);
    odd.set({ path: 'C:\\dir\n"quoted"' }, 1);
    odd.set({ path: "é ✓ {}=," }, Infinity);
    odd.set({ path: "nan" }, NaN);
    const text = await metrics.render();
    expect(text).toBe(
      '# HELP odd Help with a \\\\ backslash,\\na newline and "quotes".\n' +
        "# TYPE odd gauge\n" +
        'odd{path="C:\\\\dir\\n\\"quoted\\""} 1\n' +
        'odd{path="é ✓ {}=,"} +Inf\n' +
        'odd{path="nan"} NaN\n',
    );
    expect(parseExposition(text).map((s) => s.labels.path)).toEqual(['C:\\dir\n"quoted"', "é ✓ {}=,", "nan"]);
  });

  test("collect callbacks run, and are awaited, before each rendering", async () => {
    const metrics = new Metrics();
    const lag = metrics.gauge("lag", "Lag.", ["topic"]);
    let samples = 0;
    metrics.onCollect(() => lag.set({ topic: "sync" }, ++samples));
    const stop = metrics.onCollect(async () => {
      await Bun.sleep(5);
      lag.set({ topic: "async" }, 10 * samples);
    });
    expect(await metrics.render()).toContain('lag{topic="sync"} 1\nlag{topic="async"} 10\n');
    expect(await metrics.render()).toContain('lag{topic="sync"} 2\nlag{topic="async"} 20\n');
    stop();
    expect(await metrics.render()).toContain('lag{topic="sync"} 3\nlag{topic="async"} 20\n');
  });

  test("a failing collect callback fails the rendering", async () => {
    const metrics = new Metrics();
    metrics.onCollect(async () => {
      throw new Error("broker unreachable");
    });
    await expect(metrics.render()).rejects.toThrow("broker unreachable");
  });
});

describe("Metrics validation", () => {
  test("metric and label names are checked", () => {
    const metrics = new Metrics();
    for (const name of ["", "1abc", "with-dash", "with space", "é"]) {
      expect(() => metrics.counter(name, "x")).toThrow(`"${name}" is not a valid metric name`);
    }
    for (const name of ["ok", "_ok", "ns:sub_total", "A9"]) metrics.gauge(name, "x");
    expect(() => metrics.gauge("ok", "again")).toThrow("ok: a metric of this name is already registered");
    expect(() => metrics.counter("l1", "x", ["bad-label"])).toThrow('"bad-label" is not a valid label name');
    expect(() => metrics.counter("l2", "x", ["__reserved"])).toThrow('"__reserved" is not a valid label name');
    expect(() => metrics.counter("l3", "x", ["a", "a"])).toThrow('the label "a" is listed twice');
    expect(() => metrics.histogram("l4", "x", [1], ["le"])).toThrow('"le" is the bucket label');
  });

  test("histogram buckets must be finite and increasing", () => {
    const metrics = new Metrics();
    for (const buckets of [[], [1, 1], [2, 1], [1, Infinity], [NaN]]) {
      expect(() => metrics.histogram("h", "x", buckets)).toThrow("histogram buckets must be finite and strictly increasing");
    }
  });

  test("labels must match the declared names; counters only go up", () => {
    const metrics = new Metrics();
    const counter = metrics.counter("c_total", "x", ["a"]);
    // @ts-expect-error a labelled counter needs its labels
    expect(() => counter.inc()).toThrow('c_total: the label "a" needs a string value');
    // @ts-expect-error and no others
    expect(() => counter.inc({ a: "1", b: "2" })).toThrow('c_total: unexpected label "b"; its labels are a');
    expect(() => counter.inc({ a: "1" }, -1)).toThrow("a counter only goes up");
    expect(() => counter.inc({ a: "1" }, NaN)).toThrow("a counter only goes up");
    expect(() => metrics.histogram("h", "x", [1]).observe({}, NaN)).toThrow("cannot observe NaN");
  });
});

describe("iglooMetrics", () => {
  test("registers Igloo's standard set, rendering valid exposition text", async () => {
    const metrics = new Metrics();
    const m = iglooMetrics(metrics);
    m.ingestRecords.inc({ model: "PageView", result: "accepted" }, 3);
    m.ingestRecords.inc({ model: "PageView", result: "rejected" });
    // @ts-expect-error result is accepted or rejected
    void (() => m.ingestRecords.inc({ model: "PageView", result: "maybe" }));
    m.ingestRequests.inc({ model: "PageView", status: "200" });
    m.consumerLag.set({ topic: "PageView", group: "writer" }, 42);
    m.writerBatchRows.observe({ table: "PageView" }, 1500);
    m.writerBatchSeconds.observe({ table: "PageView" }, 0.02);
    m.writerRows.inc({ table: "PageView" }, 1500);
    m.functionErrors.inc({ function: "enrich" });
    m.functionRecords.inc({ function: "enrich" }, 10);
    const text = await metrics.render();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => `${name} ${type}`);
    expect(types).toEqual([
      "igloo_ingest_records_total counter",
      "igloo_ingest_requests_total counter",
      "igloo_consumer_lag gauge",
      "igloo_writer_batch_rows histogram",
      "igloo_writer_batch_seconds histogram",
      "igloo_writer_rows_total counter",
      "igloo_function_errors_total counter",
      "igloo_function_records_total counter",
    ]);
    const samples = parseExposition(text);
    const les = (name: string) => samples.filter((s) => s.name === `${name}_bucket`).map((s) => s.labels.le);
    expect(les("igloo_writer_batch_rows")).toEqual(["1", "10", "100", "1000", "10000", "100000", "1000000", "+Inf"]);
    expect(les("igloo_writer_batch_seconds")).toEqual(["0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"]);
    expect(text).toContain('igloo_writer_batch_rows_bucket{table="PageView",le="1000"} 0\nigloo_writer_batch_rows_bucket{table="PageView",le="10000"} 1\n');
    expect(text).toContain('igloo_ingest_records_total{model="PageView",result="accepted"} 3\n');
    expect(text).toContain('igloo_consumer_lag{topic="PageView",group="writer"} 42\n');
  });
});

describe("the strict format check", () => {
  test("refuses what Prometheus would refuse", () => {
    for (const bad of ['x{a="1"}  1\n', 'x{a="unescaped \\q"} 1\n', "x 1", "# TYPE x nonsense\n", 'x{a=1} 1\n', "x one\n"]) {
      expect(() => parseExposition(bad)).toThrow();
    }
  });
});
