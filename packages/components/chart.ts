/**
 * `<igloo-chart>`: a view's rows as a line, area, bar (grouped or `stacked`) or scatter
 * chart, drawn by uPlot (MIT; the fastest canvas time-series library we know, ~23 KB
 * gzipped) rather than axes drawn by hand. Time axes come from DateTime and Date columns
 * (shown in UTC, as the query API sends them), category axes from text columns; the
 * legend follows the cursor and shows each value as the type module writes it.
 *
 * A live update with the same series calls `setData` on the plot it has; anything else
 * (other series, a theme, attributes) builds a new plot.
 */
import uPlot from "uplot";
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import { MAX_ROWS, summaryTable } from "./accessible.ts";
import { flag, list, text, type Binding } from "./attributes.ts";
import { CHART_TYPES, chartData, type ChartData, type ChartSpec, type ChartType } from "./chartData.ts";
import { display } from "./columns.ts";
import { IglooElement } from "./element.ts";
import type { ViewData } from "./source.ts";
import { SERIES_COUNT, withAlpha } from "./styles.ts";

const CSS = `${uplotCss}
:host{height:var(--igloo-chart-height,300px)}
.content{height:100%;overflow:hidden}
[part~=legend] .u-legend{margin:0 auto}
.uplot{font-family:inherit}
.u-legend{font-size:12px;color:var(--_text)}
.u-legend .u-value{color:var(--_muted)}
.u-select{background:var(--_grid)}
`;

interface Theme {
  readonly text: string;
  readonly muted: string;
  readonly grid: string;
  readonly font: string;
  readonly series: readonly string[];
}

const LABEL_CHARS = 16;
const short = (label: string) => (label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label);

export class IglooChart extends IglooElement {
  protected static override drawingAttributes = ["type", "stacked", "x", "y", "series"];
  #plot: uPlot | undefined;
  /** What the plot was built for; while it stays the same, new rows only need setData. */
  #shape = "";
  /** The data drawn, read by the plot's axis and legend callbacks. */
  #data: ChartData | undefined;
  /**
   * The legend lives beside the plot rather than in uPlot's root, which is as narrow as
   * its content until uPlot sizes it (a microtask later): measured there, a fresh
   * legend would be one item per line, and the plot sized to what is left.
   */
  readonly #legend = document.createElement("div");
  /** The resolved theme: the canvas needs colors, not var() references. */
  #theme: Theme | undefined;

  constructor() {
    super(CSS);
    this.#legend.setAttribute("part", "legend");
  }

  protected override draw({ rows, columns }: ViewData, binding: Binding): string | undefined {
    const type = text(this.attribute, "type") ?? "line";
    if (!(CHART_TYPES as readonly string[]).includes(type)) return `unknown chart type \`${type}\`; use one of ${CHART_TYPES.join(", ")}`;
    const spec: ChartSpec = {
      type: type as ChartType,
      stacked: flag(this.attribute, "stacked"),
      x: text(this.attribute, "x"),
      y: list(this.attribute, "y"),
      series: text(this.attribute, "series"),
    };
    const data = chartData(rows, columns, spec);
    if (typeof data === "string") return data;
    this.#data = data;
    const shape = JSON.stringify([spec, data.axis, data.series.map((s) => s.label)]);
    const aligned: uPlot.AlignedData = [data.xs, ...data.series.map((s) => s.values)];
    if (this.#plot && shape === this.#shape && this.#theme) this.#plot.setData(aligned);
    else {
      // Read from styles only when building: getComputedStyle on every live update would
      // recompute the page's styles once per chart.
      const theme = (this.#theme ??= readTheme(this));
      this.#plot?.destroy();
      const plot = document.createElement("div");
      this.#legend.replaceChildren();
      this.content.replaceChildren(plot, this.#legend);
      this.content.setAttribute("aria-hidden", "true");
      const { width, height } = this.size;
      this.#plot = new uPlot(this.#options(spec, data, theme, width, height), aligned, plot);
      this.#plot.root.setAttribute("part", "chart");
      this.#shape = shape;
      this.resized(width, height);
    }
    this.#describe(spec, data, binding);
    return undefined;
  }

  protected override resized(width: number, height: number): void {
    if (!this.#plot) return;
    const size = { width: Math.max(60, Math.floor(width)), height: Math.max(60, Math.floor(height - this.#legend.offsetHeight)) };
    if (size.width !== this.#plot.width || size.height !== this.#plot.height) this.#plot.setSize(size);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#plot?.destroy();
    this.#plot = undefined;
    this.#shape = "";
  }

  protected override restyle(): void {
    this.#theme = undefined;
  }

  #options(spec: ChartSpec, data: ChartData, theme: Theme, width: number, height: number): uPlot.Options {
    const current = () => this.#data ?? data;
    const category = data.axis === "category";
    const bars = spec.type === "bar";
    const grouped = bars && !spec.stacked && data.series.length > 1;
    const axis: uPlot.Axis = { stroke: theme.muted, font: `11px ${theme.font}`, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1 } };
    const x: uPlot.Axis = category
      ? {
          ...axis,
          splits: (u) => {
            const n = current().xs.length;
            const step = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(u.bbox.width / devicePixelRatio / 72))));
            return Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);
          },
          values: (_u, splits) => splits.map((i) => short(current().labels[i] ?? "")),
        }
      : axis;
    const y: uPlot.Axis = { ...axis, size: (_u, values) => (values ? Math.max(...values.map((v) => v.length)) * 7 + 18 : 40) };
    const color = (i: number) => theme.series[i % theme.series.length]!;
    const n = data.series.length;
    // Grouped bars: each series gets its slice of the slot (in x units), side by side.
    const slot = () => (category ? 1 : minGap(current().xs)) * 0.8;
    const barPaths = (index: number) =>
      uPlot.paths.bars!({
        size: [0.75, 96],
        ...(grouped
          ? {
              disp: {
                x0: { unit: 1, values: () => current().xs.map((v) => v - slot() / 2 + (index * slot()) / n) },
                size: { unit: 1, values: () => [slot() / n] },
              },
            }
          : {}),
      });
    return {
      width: Math.max(60, Math.floor(width)),
      height: Math.max(60, Math.floor(height)),
      ms: 1,
      tzDate: (ts) => uPlot.tzDate(new Date(ts), "Etc/UTC"),
      scales: {
        x: {
          time: data.axis === "time",
          ...(category || bars ? { range: () => padded(current().xs, category ? 1 : minGap(current().xs)) } : {}),
        },
        y: bars || spec.type === "area" ? { range: (_u, min, max) => uPlot.rangeNum(Math.min(0, min), Math.max(0, max), 0.1, true) } : {},
      },
      axes: [x, y],
      legend: { show: true, live: true, mount: (_u, table) => this.#legend.replaceChildren(table) },
      cursor: { points: { size: 7 } },
      series: [
        { label: data.x.name, value: (_u, _v, _s, i) => (i === null ? "" : (current().labels[i] ?? "")) },
        ...data.series.map((s, i): uPlot.Series => ({
          label: s.label,
          stroke: color(i),
          width: bars ? 0 : spec.type === "scatter" ? 0 : 2,
          ...(spec.type === "area" ? { fill: withAlpha(color(i), spec.stacked ? 0.55 : 0.18) } : {}),
          ...(bars ? { fill: color(i), paths: barPaths(i), points: { show: false } } : {}),
          ...(spec.type === "scatter" ? { paths: () => null, points: { show: true, size: 7, stroke: color(i), fill: color(i) } } : {}),
          value: (_u, _v, si, row) => (row === null ? "" : display(current().series[si - 1]?.column, current().series[si - 1]?.raw[row])),
        })),
      ],
      // Stacked: each series is drawn down to the one below it, not to zero.
      ...(spec.stacked && spec.type !== "scatter" && n > 1 ? { bands: data.series.slice(1).map((_s, i) => ({ series: [i + 2, i + 1] as [number, number] })) } : {}),
    };
  }

  #describe(spec: ChartSpec, data: ChartData, binding: Binding): void {
    const what = `${spec.stacked ? "Stacked " : ""}${spec.type} chart of ${data.series.map((s) => s.label).join(", ")} by ${data.x.name}, from view ${binding.view}: ${data.xs.length} points.`;
    this.describe(() => {
      const cells = data.labels.slice(0, MAX_ROWS).map((label, i) => [label, ...data.series.map((s) => display(s.column, s.raw[i]))]);
      return summaryTable(what, [data.x.name, ...data.series.map((s) => s.label)], cells, data.labels.length);
    });
  }
}

function readTheme(element: Element): Theme {
  const style = getComputedStyle(element);
  const value = (name: string) => style.getPropertyValue(name).trim();
  return {
    text: value("--_text"),
    muted: value("--_muted"),
    grid: value("--_grid"),
    font: style.fontFamily,
    series: Array.from({ length: SERIES_COUNT }, (_, i) => value(`--_series-${i + 1}`)),
  };
}

/** The smallest distance between neighbouring positions (1 when there is one position). */
function minGap(xs: readonly number[]): number {
  let gap = Infinity;
  for (let i = 1; i < xs.length; i++) gap = Math.min(gap, xs[i]! - xs[i - 1]!);
  return Number.isFinite(gap) && gap > 0 ? gap : 1;
}

/** Half a gap either side, so the first and last bars are whole. */
function padded(xs: readonly number[], gap: number): uPlot.Range.MinMax {
  return xs.length === 0 ? [0, 1] : [xs[0]! - gap / 2, xs[xs.length - 1]! + gap / 2];
}
