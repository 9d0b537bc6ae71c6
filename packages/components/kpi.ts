/**
 * `<igloo-kpi>`: one figure of a view (`value`, `aggregate`), its `label`, how it changed
 * against `compare`, and an optional `sparkline`, hand-drawn in SVG: a polyline is simpler
 * than a chart library for 24 pixels of height.
 */
import { flag, text, type Binding } from "./attributes.ts";
import { displayNumber } from "./columns.ts";
import { IglooElement } from "./element.ts";
import { KPI_AGGREGATES, kpiData, type Kpi, type KpiAggregate } from "./kpiData.ts";
import type { ViewData } from "./source.ts";

const STYLE = `
.content{display:grid;gap:2px}
[part~=label]{color:var(--_muted);font-size:.9em}
[part~=value]{font-size:2em;font-weight:600;font-variant-numeric:tabular-nums;line-height:1.15}
[part~=delta]{font-size:.9em;color:var(--_muted)}
[part~=delta].up{color:var(--_up)}
[part~=delta].down{color:var(--_down)}
[part~=sparkline]{width:100%;height:28px;display:block;color:var(--_series-1)}
`;

const SVG = "http://www.w3.org/2000/svg";

export class IglooKpi extends IglooElement {
  protected static override drawingAttributes = ["value", "label", "aggregate", "x", "compare", "sparkline"];

  constructor() {
    super(STYLE);
  }

  protected override draw({ rows, columns }: ViewData, binding: Binding): string | undefined {
    const how = text(this.attribute, "aggregate") ?? "last";
    if (!(KPI_AGGREGATES as readonly string[]).includes(how)) return `unknown aggregate \`${how}\`; use one of ${KPI_AGGREGATES.join(", ")}`;
    const kpi = kpiData(rows, columns, { value: text(this.attribute, "value"), aggregate: how as KpiAggregate, x: text(this.attribute, "x"), compare: text(this.attribute, "compare") });
    if (typeof kpi === "string") return kpi;
    const label = text(this.attribute, "label") ?? kpi.column.name;
    const part = (name: string, content: string) => {
      const element = document.createElement("div");
      element.setAttribute("part", name);
      element.textContent = content;
      return element;
    };
    const parts: Element[] = [part("label", label), part("value", kpi.figure.text)];
    const change = describeChange(kpi);
    if (change) {
      const delta = part("delta", change.text);
      if (change.direction) delta.className = change.direction;
      parts.push(delta);
    }
    if (flag(this.attribute, "sparkline")) parts.push(sparkline(kpi.points));
    this.content.replaceChildren(...parts);
    this.content.setAttribute("aria-hidden", "true");
    this.describe(() => `${label}: ${kpi.figure.text}${change ? `, ${change.spoken}` : ""} (view ${binding.view}).`);
    return undefined;
  }
}

function describeChange(kpi: Kpi): { text: string; spoken: string; direction?: "up" | "down" } | undefined {
  if (!kpi.compared) return undefined;
  const against = `vs ${kpi.compared.text}`;
  if (kpi.change === null) return { text: against, spoken: `compared with ${kpi.compared.text}` };
  const percent = `${displayNumber(Math.round(Math.abs(kpi.change) * 1000) / 10)}%`;
  if (kpi.change === 0) return { text: `= ${against}`, spoken: `unchanged from ${kpi.compared.text}` };
  const up = kpi.change > 0;
  return { text: `${up ? "▲" : "▼"} ${percent} ${against}`, spoken: `${up ? "up" : "down"} ${percent} from ${kpi.compared.text}`, direction: up ? "up" : "down" };
}

/** The points as a line in a 100 x 28 box, stretched to the element's width; gaps where a value is missing. */
function sparkline(points: readonly (number | null)[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("part", "sparkline");
  svg.setAttribute("viewBox", "0 0 100 28");
  svg.setAttribute("preserveAspectRatio", "none");
  const values = points.filter((p): p is number => p !== null);
  if (values.length < 2) return svg;
  const min = Math.min(...values);
  const span = Math.max(...values) - min || 1;
  const step = 100 / (points.length - 1);
  let d = "";
  let pen = "M";
  points.forEach((p, i) => {
    if (p === null) return void (pen = "M");
    d += `${pen}${(i * step).toFixed(2)} ${(26 - ((p - min) / span) * 24).toFixed(2)}`;
    pen = "L";
  });
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.5");
  path.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(path);
  return svg;
}
