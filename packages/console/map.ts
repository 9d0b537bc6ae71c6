/**
 * The project as a map, the way its data flows: models (their ingest endpoints) to
 * topics, topics to functions and to tables, functions back into their target's topic,
 * tables to the views that read them, views to their endpoints. Each edge is labelled
 * with its rate and the lag of the consumer group behind it; edges and boxes where
 * records fail (rejected at ingest, thrown by a function, refused by a table: all land in
 * the dead letters) turn red. Boxes are laid out by CSS grid; the edges are an SVG drawn
 * over it from the boxes' positions, again when the map changes size.
 */
import { count, h, rate } from "./dom.ts";
import { link } from "./layout.ts";
import type { ProjectInfo, StatusInfo } from "./protocol.ts";
import type { Rates } from "./status.ts";

const SVG = "http://www.w3.org/2000/svg";
const COLUMNS = ["Models", "Topics", "Functions", "Tables", "Views", "Endpoints"];
/** The space between columns (styles.ts, `.map` column-gap), where edges and their labels run. */
const GAP = 84;

interface Node {
  readonly id: string;
  readonly column: number;
  readonly element: HTMLElement;
  readonly sub: HTMLElement;
  /** The box's state and its second line, from the latest status. */
  readonly state?: (rates: Rates, status: StatusInfo) => { readonly sub: string; readonly tone?: "bad" | "warn" };
}

interface EdgeLabel {
  readonly text: string;
  readonly moving: boolean;
  readonly bad?: boolean;
  /** Failure edges are drawn only once something failed. */
  readonly hidden?: boolean;
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly path: SVGPathElement;
  readonly text: SVGTextElement;
  readonly label?: (rates: Rates, status: StatusInfo) => EdgeLabel;
}

const lagText = (lag: number | undefined) => (lag === undefined ? "" : ` · lag ${count(lag)}`);

export interface ProjectMap {
  readonly element: HTMLElement;
  update(rates: Rates): void;
}

export function projectMap(project: ProjectInfo): ProjectMap {
  const nodes = new Map<string, Node>();
  const edges: Edge[] = [];
  const svg = document.createElementNS(SVG, "svg");
  const columns = COLUMNS.map(() => h("div", { class: "col" }));

  const node = (id: string, column: number, label: string, sub: string, href: string | undefined, state?: Node["state"]) => {
    if (nodes.has(id)) return;
    const small = h("small", {}, sub);
    const element = h(href ? "a" : "div", { class: "node", title: label, ...(href ? { href } : {}), "data-node": id }, label, small);
    columns[column]!.append(element);
    nodes.set(id, { id, column, element, sub: small, ...(state ? { state } : {}) });
  };
  const edge = (from: string, to: string, label?: Edge["label"]) => {
    const path = document.createElementNS(SVG, "path");
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("text-anchor", "middle");
    svg.append(path, text);
    edges.push({ from, to, path, text, ...(label ? { label } : {}) });
  };

  const dl = project.deadLetterTable;
  const dlTopic = `t:${dl}`;
  const failed = (status: StatusInfo, source: string) => status.deadLetters[source] ?? 0;
  for (const m of project.models) {
    node(`m:${m.name}`, 0, m.name, `POST /ingest/${m.name}`, link.model(m.name), (_rates, status) => {
      const letters = failed(status, m.name);
      if (m.waiting) return { sub: "waits for a held change", tone: "warn" };
      return letters > 0 ? { sub: `${count(letters)} dead letters`, tone: "bad" } : { sub: `POST /ingest/${m.name}` };
    });
    node(`t:${m.topic}`, 1, m.topic, "topic", undefined);
    edge(`m:${m.name}`, `t:${m.topic}`, (rates) => {
      const accepted = rates.rate((s) => s.ingest[m.name]?.accepted);
      return { text: rate(accepted), moving: (accepted ?? 0) > 0 };
    });
    edge(`m:${m.name}`, dlTopic, (rates, status) => {
      const rejected = rates.rate((s) => s.ingest[m.name]?.rejected);
      const total = status.ingest[m.name]?.rejected ?? 0;
      return { text: `${rate(rejected)} rejected`, moving: true, bad: true, hidden: total === 0 };
    });
    if (!m.streamOnly) {
      node(`tb:${m.table}`, 3, m.table, "table", link.model(m.name));
      edge(`t:${m.topic}`, `tb:${m.table}`, (rates, status) => {
        const rows = rates.rate((s) => s.writerRows[m.table]);
        return { text: rate(rows) + lagText(status.lag[m.group]), moving: (rows ?? 0) > 0, bad: (status.lag[m.group] ?? 0) > 10_000 };
      });
    }
  }
  node(dlTopic, 1, dl, "dead letters", link.deadLetters(), (_rates, status) => {
    const total = Object.values(status.deadLetters).reduce((a, b) => a + b, 0);
    return total > 0 ? { sub: `${count(total)} dead letters`, tone: "bad" } : { sub: "dead letters: none" };
  });
  node(`tb:${dl}`, 3, dl, "table", link.deadLetters());
  edge(dlTopic, `tb:${dl}`, (rates, status) => {
    const rows = rates.rate((s) => s.writerRows[dl]);
    return { text: rate(rows) + lagText(status.lag[project.deadLetterGroup]), moving: (rows ?? 0) > 0 };
  });
  for (const f of project.functions) {
    node(`f:${f.name}`, 2, f.name, `${f.from} → ${f.to}`, link.fn(f.name), (_rates, status) => {
      const errors = Math.max(status.functionErrors[f.name] ?? 0, failed(status, f.name));
      return errors > 0 ? { sub: `${count(errors)} errors`, tone: "bad" } : { sub: `${f.from} → ${f.to}` };
    });
    const from = project.models.find((m) => m.name === f.from)?.topic ?? f.from;
    const to = project.models.find((m) => m.name === f.to)?.topic ?? f.to;
    edge(`t:${from}`, `f:${f.name}`, (rates, status) => {
      const records = rates.rate((s) => s.functionRecords[f.name]);
      return { text: rate(records) + lagText(status.lag[f.group]), moving: (records ?? 0) > 0 };
    });
    edge(`f:${f.name}`, `t:${to}`, (rates) => ({ text: "", moving: (rates.rate((s) => s.functionRecords[f.name]) ?? 0) > 0 }));
    edge(`f:${f.name}`, dlTopic, (rates, status) => {
      const errors = rates.rate((s) => s.functionErrors[f.name]);
      return { text: `${rate(errors)} errors`, moving: true, bad: true, hidden: (status.functionErrors[f.name] ?? 0) === 0 };
    });
  }
  for (const v of project.views) {
    node(`v:${v.name}`, 4, v.name, v.kind, link.view(v.name));
    node(`e:${v.name}`, 5, `GET /views/${v.name}`, v.params.length > 0 ? `?${v.params.map((p) => p.name).join("&")}` : "and /events (live)", link.view(v.name));
    for (const table of v.sources) if (nodes.has(`tb:${table}`)) edge(`tb:${table}`, `v:${v.name}`);
    edge(`v:${v.name}`, `e:${v.name}`);
  }

  // Headings in the grid's first row, boxes in its second: each column centres its boxes.
  const element = h("div", { class: "map" }, COLUMNS.map((title) => h("h3", {}, title)), columns);
  element.append(svg);

  /** Edges from the right side of one box to the left side of the next; back edges (a function's output) the other way. */
  const layout = () => {
    const origin = element.getBoundingClientRect();
    for (const e of edges) {
      const a = nodes.get(e.from)?.element.getBoundingClientRect();
      const b = nodes.get(e.to)?.element.getBoundingClientRect();
      if (!a || !b) continue;
      const back = b.left < a.left;
      const x0 = (back ? a.left : a.right) - origin.left;
      const x3 = (back ? b.right : b.left) - origin.left;
      const y0 = a.top + a.height / 2 - origin.top;
      const y3 = b.top + b.height / 2 - origin.top + (back ? 6 : 0);
      const bend = (x3 - x0) / 2;
      const [x1, x2] = [x0 + bend, x3 - bend];
      e.path.setAttribute("d", `M${x0},${y0} C${x1},${y0} ${x2},${y3} ${x3},${y3}`);
      // An edge across a column (a topic to its table, past the functions) is labelled in
      // the last gap, where no box covers it; others at the curve's midpoint,
      // B(1/2) = (P0 + 3 P1 + 3 P2 + P3) / 8.
      const across = Math.abs((nodes.get(e.to)?.column ?? 0) - (nodes.get(e.from)?.column ?? 0)) > 1;
      e.text.setAttribute("x", String(across ? x3 - GAP / 2 : (x0 + 3 * x1 + 3 * x2 + x3) / 8));
      e.text.setAttribute("y", String(across ? y3 - 5 : (y0 + 3 * y0 + 3 * y3 + y3) / 8 - 5));
    }
  };
  new ResizeObserver(layout).observe(element);

  return {
    element,
    update(rates) {
      const status = rates.current;
      if (!status) return;
      for (const n of nodes.values()) {
        if (!n.state) continue;
        const { sub, tone } = n.state(rates, status);
        n.sub.textContent = sub;
        n.element.classList.toggle("bad", tone === "bad");
        n.element.classList.toggle("warn", tone === "warn");
      }
      for (const e of edges) {
        const label = e.label?.(rates, status);
        e.text.textContent = label?.text ?? "";
        e.path.setAttribute("class", label?.bad ? "bad" : label?.moving ? "moving" : "");
        e.text.setAttribute("class", label?.bad ? "bad" : "");
        e.path.style.display = e.text.style.display = label?.hidden ? "none" : "";
      }
      layout();
    },
  };
}
