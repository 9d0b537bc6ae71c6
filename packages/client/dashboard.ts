/**
 * The dashboard elements (`<igloo-chart>`, `<igloo-table>`, `<igloo-kpi>`, defined by the
 * `components.js` module Igloo serves and `igloo generate` writes) as typed calls: a
 * generated client's `dashboard.ts` binds these to the project's views, so a chart of
 * `top_pages` accepts only that view's columns and parameters:
 *
 *   dashboard.chart("top_pages", { type: "bar", x: "path", y: ["views"] })   // an element
 *   dashboard.chartAttributes("top_pages", { x: "path", y: ["views"] })       // its attributes
 *
 * The elements read what `attributesOf` writes (packages/components/attributes.ts), so
 * the names below are the attributes of CONTRACT.md, in camelCase.
 */
import { toJson } from "./http.js";

export interface DashboardViewShape {
  readonly params: object;
  readonly row: object;
}

export type ChartType = "line" | "area" | "bar" | "scatter";
/** How a KPI turns a view's rows into one value (default `last`, the newest row). */
export type KpiAggregate = "last" | "first" | "sum" | "avg" | "min" | "max" | "count";

type Column<Shape extends DashboardViewShape> = keyof Shape["row"] & string;

/** Parameters are required when the view has a required one. */
type ParamsOption<Shape extends DashboardViewShape> = {} extends Shape["params"] ? { readonly params?: Shape["params"] } : { readonly params: Shape["params"] };

export type BindingOptions<Shape extends DashboardViewShape> = ParamsOption<Shape> & {
  /** Follow the view: redraw whenever its rows change. */
  readonly live?: boolean;
  /** The Igloo server; default: the origin components.js was loaded from. */
  readonly url?: string;
  /** An API key, where the server needs one: never an admin key in a public page. */
  readonly key?: string;
};

export type ChartOptions<Shape extends DashboardViewShape> = BindingOptions<Shape> & {
  readonly type?: ChartType;
  /** Bars or areas stacked on one another. */
  readonly stacked?: boolean;
  /** Default: the first DateTime or Date column, else the first column. */
  readonly x?: Column<Shape>;
  /** Default: every numeric column but `x` and `series`. */
  readonly y?: Column<Shape> | readonly Column<Shape>[];
  /** One line (or bar) per value of this column. */
  readonly series?: Column<Shape>;
};

export type TableOptions<Shape extends DashboardViewShape> = BindingOptions<Shape> & {
  /** Default: every column, in the view's order. */
  readonly columns?: readonly Column<Shape>[];
  /** Rows per page; default 20. */
  readonly pageSize?: number;
};

export type KpiOptions<Shape extends DashboardViewShape> = BindingOptions<Shape> & {
  readonly value: Column<Shape>;
  readonly label?: string;
  readonly aggregate?: KpiAggregate;
  /** The column rows are ordered by for `last`, `first` and the sparkline; default: the view's order. */
  readonly x?: Column<Shape>;
  /** What the value is compared with: another column (aggregated alike), or `previous`, the row before. */
  readonly compare?: Column<Shape> | "previous";
  /** A small line of the value over the rows. */
  readonly sparkline?: boolean;
};

/** The platform's HTMLElement where there is one (a DOM library), with the rows the element last drew. */
export type IglooElement<Row> = (typeof globalThis extends { readonly HTMLElement: { readonly prototype: infer E } } ? E : object) & {
  readonly rows: readonly Row[];
};

export interface IglooDashboard<Views extends { readonly [Name in keyof Views]: DashboardViewShape }> {
  chart<V extends keyof Views & string>(view: V, options: ChartOptions<Views[V]>): IglooElement<Views[V]["row"]>;
  table<V extends keyof Views & string>(view: V, options: TableOptions<Views[V]>): IglooElement<Views[V]["row"]>;
  kpi<V extends keyof Views & string>(view: V, options: KpiOptions<Views[V]>): IglooElement<Views[V]["row"]>;
  chartAttributes<V extends keyof Views & string>(view: V, options: ChartOptions<Views[V]>): Record<string, string>;
  tableAttributes<V extends keyof Views & string>(view: V, options: TableOptions<Views[V]>): Record<string, string>;
  kpiAttributes<V extends keyof Views & string>(view: V, options: KpiOptions<Views[V]>): Record<string, string>;
}

/**
 * Options as attributes: camelCase names in kebab-case, lists comma-separated, objects as
 * JSON, `true` as an empty attribute and `false` or undefined left out.
 */
export function attributesOf(view: string, options: object): Record<string, string> {
  const attributes: Record<string, string> = { view };
  for (const [name, value] of Object.entries(options) as [string, unknown][]) {
    if (value === undefined || value === false || value === null) continue;
    const attribute = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    attributes[attribute] = value === true ? "" : Array.isArray(value) ? value.join(",") : typeof value === "object" ? toJson(value) : String(value);
  }
  return attributes;
}

/** Just enough of `document`, without the DOM library's types. */
interface PageDocument {
  createElement(tag: string): { setAttribute(name: string, value: string): void };
}

function create(tag: string, view: string, options: object): never {
  const page = (globalThis as { document?: PageDocument }).document;
  if (!page) throw new TypeError(`<${tag}> needs a web page: there is no document here`);
  const element = page.createElement(tag);
  for (const [name, value] of Object.entries(attributesOf(view, options))) element.setAttribute(name, value);
  return element as never;
}

/** The dashboard calls, typed by a project's views (the generated `dashboard.ts` calls this). */
export function createDashboard<Views extends { readonly [Name in keyof Views]: DashboardViewShape }>(): IglooDashboard<Views> {
  return {
    chart: (view, options) => create("igloo-chart", view, options),
    table: (view, options) => create("igloo-table", view, options),
    kpi: (view, options) => create("igloo-kpi", view, options),
    chartAttributes: attributesOf,
    tableAttributes: attributesOf,
    kpiAttributes: attributesOf,
  };
}
