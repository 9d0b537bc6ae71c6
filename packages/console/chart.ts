/**
 * A query result as a chart: hand-drawn SVG, small enough to own. The dashboard elements
 * draw views; an ad-hoc query is not a view, so the SQL page draws its results itself.
 * The x axis is the first time column (else the first column), the y series every other
 * numeric column; lines over a time or number axis, bars over categories. Axes and kinds
 * come from the type module, as in the elements.
 */
import { axisOf, display, displayNumber, positionOf, type Column, type Row } from "../components/columns.ts";
import { h } from "./dom.ts";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"];
const WIDTH = 800;
const HEIGHT = 260;
const PAD = { left: 64, right: 12, top: 12, bottom: 30 };
/** Points drawn at most: an SVG of more is slow to lay out, and no wider than the screen anyway. */
const MAX_POINTS = 5_000;

function s<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Readonly<Record<string, string | number>>, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

export function resultChart(columns: readonly Column[], rows: readonly Row[]): Element {
  const x = columns.find((c) => axisOf(c.type) === "time") ?? columns[0];
  const ys = columns.filter((c) => c !== x && axisOf(c.type) === "number").slice(0, COLORS.length);
  if (x === undefined || ys.length === 0 || rows.length === 0) return h("p", { class: "muted" }, "Nothing to chart: the result needs a numeric column besides its first.");
  const points = rows.slice(0, MAX_POINTS);
  const axis = axisOf(x.type);
  const xs = points.map((row, i) => (axis === "category" ? i : positionOf(axis, row[x.name])));
  const values = ys.map((y) => points.map((row) => positionOf("number", row[y.name])));
  const flat = values.flat().filter((v): v is number => v !== null);
  const known = xs.filter((v): v is number => v !== null);
  if (flat.length === 0 || known.length === 0) return h("p", { class: "muted" }, "Nothing to chart: no numeric values.");
  const yMin = Math.min(0, ...flat);
  const yMax = Math.max(...flat) === yMin ? yMin + 1 : Math.max(...flat);
  const [xMin, xMax] = axis === "category" ? [-0.5, points.length - 0.5] : [Math.min(...known), Math.max(...known) === Math.min(...known) ? Math.min(...known) + 1 : Math.max(...known)];
  const px = (v: number) => PAD.left + ((v - xMin) / (xMax - xMin)) * (WIDTH - PAD.left - PAD.right);
  const py = (v: number) => HEIGHT - PAD.bottom - ((v - yMin) / (yMax - yMin)) * (HEIGHT - PAD.top - PAD.bottom);

  const svg = s("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: "100%", role: "img", "aria-label": `${ys.map((y) => y.name).join(", ")} by ${x.name}` });
  svg.append(s("line", { class: "axis", x1: PAD.left, x2: WIDTH - PAD.right, y1: py(yMin), y2: py(yMin) }), s("line", { class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: HEIGHT - PAD.bottom }));
  for (const v of [yMin, (yMin + yMax) / 2, yMax]) svg.append(s("text", { x: PAD.left - 6, y: py(v) + 4, "text-anchor": "end" }, displayNumber(v)));
  const first = points[0]!;
  const last = points[points.length - 1]!;
  svg.append(s("text", { x: PAD.left, y: HEIGHT - 8 }, display(x, first[x.name])), s("text", { x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end" }, display(x, last[x.name])));

  if (axis === "category") {
    const group = (WIDTH - PAD.left - PAD.right) / points.length;
    const bar = (group * 0.8) / ys.length;
    values.forEach((series, k) =>
      series.forEach((v, i) => {
        if (v === null) return;
        const top = py(Math.max(v, 0));
        svg.append(s("rect", { x: px(i) - group * 0.4 + k * bar, y: top, width: Math.max(bar, 0.5), height: Math.max(Math.abs(py(v) - py(0)), 0.5), fill: COLORS[k]! }));
      }),
    );
  } else {
    const order = xs.map((_, i) => i).filter((i) => xs[i] !== null).sort((a, b) => xs[a]! - xs[b]!);
    values.forEach((series, k) => {
      const line = order.filter((i) => series[i] !== null).map((i) => `${px(xs[i]!).toFixed(1)},${py(series[i]!).toFixed(1)}`);
      svg.append(s("polyline", { points: line.join(" "), fill: "none", stroke: COLORS[k]!, "stroke-width": 1.5 }));
    });
  }
  const legend = h("div", { class: "row" }, ys.map((y, k) => h("span", { style: `color:${COLORS[k]}` }, `■ ${y.name}`)));
  const note = rows.length > MAX_POINTS ? h("p", { class: "muted" }, `The first ${MAX_POINTS.toLocaleString("en-US")} rows are drawn.`) : null;
  return h("div", {}, svg, legend, note);
}
