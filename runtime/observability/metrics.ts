/**
 * Counters, gauges and histograms, rendered in the Prometheus text exposition format
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). Small enough to
 * own rather than depend on prom-client: Igloo needs three metric types, labels, and a
 * hook to sample values (consumer lag) at scrape time.
 */
import { IglooError } from "../../conventions/errors.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type LabelSet = Readonly<Record<string, string>>;

/** Labels may be left out only by a metric that has none. */
type IncArgs<V extends LabelSet> = [keyof V] extends [never] ? [labels?: V, by?: number] : [labels: V, by?: number];

export interface Counter<V extends LabelSet> {
  inc(...args: IncArgs<V>): void;
}

export interface Gauge<V extends LabelSet> {
  set(labels: V, value: number): void;
}

export interface Histogram<V extends LabelSet> {
  observe(labels: V, value: number): void;
}

type Collector = () => void | Promise<void>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function metricError(message: string): IglooError {
  return new IglooError("E_METRIC", message);
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function braces(pairs: readonly string[]): string {
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** The series of one metric, one per combination of label values, in first-use order. */
class SeriesSet<S> {
  readonly #series = new Map<string, { readonly pairs: readonly string[]; readonly state: S }>();
  readonly #name: string;
  readonly #labelNames: readonly string[];
  readonly #fresh: () => S;

  constructor(name: string, labelNames: readonly string[], fresh: () => S) {
    this.#name = name;
    this.#labelNames = labelNames;
    this.#fresh = fresh;
    // A metric without labels has one series, shown from the start at zero, as the
    // official clients do: a scrape then tells "nothing yet" from "not instrumented".
    if (labelNames.length === 0) this.get(undefined);
  }

  get(labels: LabelSet | undefined): S {
    const values = this.#labelNames.map((label) => {
      const value = labels?.[label];
      if (typeof value !== "string") throw metricError(`${this.#name}: the label "${label}" needs a string value.`);
      return value;
    });
    const extra = Object.keys(labels ?? {}).filter((label) => !this.#labelNames.includes(label));
    if (extra.length > 0) throw metricError(`${this.#name}: unexpected label "${extra[0]}"; its labels are ${this.#labelNames.join(", ") || "none"}.`);
    const key = JSON.stringify(values);
    let series = this.#series.get(key);
    if (series === undefined) {
      const pairs = values.map((value, i) => `${this.#labelNames[i]}="${escapeLabelValue(value)}"`);
      series = { pairs, state: this.#fresh() };
      this.#series.set(key, series);
    }
    return series.state;
  }

  *[Symbol.iterator](): Iterator<{ readonly pairs: readonly string[]; readonly state: S }> {
    yield* this.#series.values();
  }
}

interface Family {
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  lines(): string[];
}

export class Metrics {
  readonly #families = new Map<string, Family>();
  readonly #collectors = new Set<Collector>();

  counter<N extends string = never>(name: string, help: string, labelNames: readonly N[] = []): Counter<Record<N, string>> {
    const series = new SeriesSet(name, this.#checkNew(name, labelNames), () => ({ value: 0 }));
    this.#register(name, help, "counter", () => [...series].map(({ pairs, state }) => `${name}${braces(pairs)} ${formatNumber(state.value)}`));
    return {
      inc: (labels?: LabelSet, by: number = 1) => {
        if (!(by >= 0 && Number.isFinite(by))) throw metricError(`${name}: a counter only goes up, by a finite amount; got ${by}.`);
        series.get(labels).value += by;
      },
    };
  }

  gauge<N extends string = never>(name: string, help: string, labelNames: readonly N[] = []): Gauge<Record<N, string>> {
    const series = new SeriesSet(name, this.#checkNew(name, labelNames), () => ({ value: 0 }));
    this.#register(name, help, "gauge", () => [...series].map(({ pairs, state }) => `${name}${braces(pairs)} ${formatNumber(state.value)}`));
    return {
      set: (labels, value) => {
        series.get(labels).value = value;
      },
    };
  }

  /** `buckets` are the finite upper bounds, increasing; the `+Inf` bucket is implied. */
  histogram<N extends string = never>(name: string, help: string, buckets: readonly number[], labelNames: readonly N[] = []): Histogram<Record<N, string>> {
    const labels = this.#checkNew(name, labelNames);
    const bounds = [...buckets];
    if (bounds.length === 0 || bounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && bound <= bounds[i - 1]!))) {
      throw metricError(`${name}: histogram buckets must be finite and strictly increasing; got [${buckets.join(", ")}].`);
    }
    if (labels.includes("le")) throw metricError(`${name}: "le" is the bucket label of a histogram; choose another label name.`);
    // Counts per bucket, not cumulative: an observation touches one slot, the rendering adds up.
    const series = new SeriesSet(name, labels, () => ({ counts: bounds.map(() => 0), sum: 0, count: 0 }));
    this.#register(name, help, "histogram", () =>
      [...series].flatMap(({ pairs, state }) => {
        let cumulative = 0;
        const lines = bounds.map((bound, i) => {
          cumulative += state.counts[i]!;
          return `${name}_bucket${braces([...pairs, `le="${formatNumber(bound)}"`])} ${cumulative}`;
        });
        lines.push(`${name}_bucket${braces([...pairs, 'le="+Inf"'])} ${state.count}`);
        lines.push(`${name}_sum${braces(pairs)} ${formatNumber(state.sum)}`, `${name}_count${braces(pairs)} ${state.count}`);
        return lines;
      }),
    );
    return {
      observe: (labels, value) => {
        // NaN would turn `_sum` into NaN for good.
        if (Number.isNaN(value)) throw metricError(`${name}: cannot observe NaN.`);
        const state = series.get(labels);
        const slot = bounds.findIndex((bound) => value <= bound);
        if (slot !== -1) state.counts[slot]! += 1;
        state.sum += value;
        state.count += 1;
      },
    };
  }

  /**
   * Runs `collect` before each rendering, to sample values that are cheaper to read on
   * demand than to track (consumer lag). Returns a function that unregisters it.
   */
  onCollect(collect: Collector): () => void {
    this.#collectors.add(collect);
    return () => void this.#collectors.delete(collect);
  }

  /**
   * All metrics, in registration order. A failing collector fails the rendering, as in
   * client_golang: a failed scrape shows in Prometheus's `up`, where stale values would not.
   */
  async render(): Promise<string> {
    await Promise.all([...this.#collectors].map((collect) => collect()));
    let text = "";
    for (const [name, family] of this.#families) {
      text += `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n`;
      for (const line of family.lines()) text += `${line}\n`;
    }
    return text;
  }

  #checkNew(name: string, labelNames: readonly string[]): readonly string[] {
    if (!METRIC_NAME.test(name)) throw metricError(`"${name}" is not a valid metric name; it must match ${METRIC_NAME}.`);
    if (this.#families.has(name)) throw metricError(`${name}: a metric of this name is already registered.`);
    for (const [i, label] of labelNames.entries()) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) throw metricError(`${name}: "${label}" is not a valid label name; it must match ${LABEL_NAME} and not start with "__".`);
      if (labelNames.indexOf(label) !== i) throw metricError(`${name}: the label "${label}" is listed twice.`);
    }
    return [...labelNames];
  }

  #register(name: string, help: string, type: Family["type"], lines: () => string[]): void {
    this.#families.set(name, { help, type, lines });
  }
}

/** Igloo's own metrics: what each stage of the pipeline has done, and how far behind it is. */
export interface IglooMetrics {
  readonly ingestRecords: Counter<{ model: string; result: "accepted" | "rejected" }>;
  readonly ingestRequests: Counter<{ model: string; status: string }>;
  readonly consumerLag: Gauge<{ topic: string; group: string }>;
  readonly writerBatchRows: Histogram<{ table: string }>;
  readonly writerBatchSeconds: Histogram<{ table: string }>;
  readonly writerRows: Counter<{ table: string }>;
  readonly functionErrors: Counter<{ function: string }>;
  readonly functionRecords: Counter<{ function: string }>;
}

export function iglooMetrics(metrics: Metrics): IglooMetrics {
  return {
    ingestRecords: metrics.counter("igloo_ingest_records_total", "Records received on ingest endpoints, by model and whether they were accepted.", ["model", "result"]),
    ingestRequests: metrics.counter("igloo_ingest_requests_total", "Ingest requests, by model and HTTP status of the answer.", ["model", "status"]),
    consumerLag: metrics.gauge("igloo_consumer_lag", "Records in a topic that a consumer group has not processed yet, sampled at scrape time.", ["topic", "group"]),
    writerBatchRows: metrics.histogram("igloo_writer_batch_rows", "Rows per batch written to an OLAP table.", [1, 10, 100, 1000, 10000, 100000, 1000000], ["table"]),
    writerBatchSeconds: metrics.histogram("igloo_writer_batch_seconds", "Time to write one batch to an OLAP table, in seconds.", [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], ["table"]),
    writerRows: metrics.counter("igloo_writer_rows_total", "Rows written to OLAP tables.", ["table"]),
    functionErrors: metrics.counter("igloo_function_errors_total", "Records a function threw on, sent to the dead-letter store.", ["function"]),
    functionRecords: metrics.counter("igloo_function_records_total", "Records a function has processed.", ["function"]),
  };
}
