/**
 * `<igloo-table>`: a view's rows as a table, sorted by clicking a header (again to
 * reverse), paged (`page-size`, default 20), numbers right-aligned and every value
 * written by the type module. Sorting and the page survive live updates.
 */
import { list, positiveInteger } from "./attributes.ts";
import { axisOf, compareValues, display, type Column, type Row } from "./columns.ts";
import { IglooElement } from "./element.ts";
import type { ViewData } from "./source.ts";
import type { Binding } from "./attributes.ts";

const STYLE = `
.content{overflow:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--_border);text-align:left;white-space:nowrap}
th{font-weight:600}
th button{all:unset;font:inherit;color:inherit;cursor:pointer;display:inline-flex;gap:4px;align-items:center}
th button:focus-visible{outline:2px solid var(--_accent);outline-offset:2px}
th[aria-sort] button::after{content:"";color:var(--_muted)}
th[aria-sort=ascending] button::after{content:"▲"}
th[aria-sort=descending] button::after{content:"▼"}
.num{text-align:right}
caption{caption-side:bottom}
[part~=pager]{display:flex;gap:8px;align-items:center;justify-content:flex-end;padding:6px 0;color:var(--_muted)}
[part~=pager] button{font:inherit;color:var(--_text);background:none;border:1px solid var(--_border);border-radius:4px;padding:2px 8px;cursor:pointer}
[part~=pager] button:disabled{opacity:.4;cursor:default}
`;

export class IglooTable extends IglooElement {
  protected static override drawingAttributes = ["columns", "page-size"];
  #sort: { readonly column: string; readonly descending: boolean } | undefined;
  #page = 0;
  #data: ViewData | undefined;
  #binding: Binding | undefined;
  /** The control to focus again once the table is redrawn under it (keyboard users keep their place). */
  #refocus: string | undefined;

  constructor() {
    super(STYLE);
  }

  protected override draw(data: ViewData, binding: Binding): string | undefined {
    this.#data = data;
    this.#binding = binding;
    const wanted = list(this.attribute, "columns");
    const missing = wanted.find((name) => !data.columns.some((c) => c.name === name));
    if (missing !== undefined) return `no column \`${missing}\` in the view (its columns: ${data.columns.map((c) => c.name).join(", ")})`;
    const columns = wanted.length > 0 ? wanted.map((name) => data.columns.find((c) => c.name === name)!) : data.columns;
    const pageSize = positiveInteger(this.attribute, "page-size", 20);
    const rows = this.#sorted(data.rows, columns);
    const pages = Math.max(1, Math.ceil(rows.length / pageSize));
    this.#page = Math.min(this.#page, pages - 1);
    const first = this.#page * pageSize;

    const table = document.createElement("table");
    table.setAttribute("part", "table");
    table.createCaption().className = "sr";
    table.caption!.textContent = `View ${binding.view}: ${rows.length} rows${this.#sort ? `, sorted by ${this.#sort.column} ${this.#sort.descending ? "descending" : "ascending"}` : ""}; page ${this.#page + 1} of ${pages}.`;
    const head = table.createTHead().insertRow();
    head.setAttribute("part", "header");
    for (const column of columns) head.append(this.#header(column));
    const body = table.createTBody();
    for (const row of rows.slice(first, first + pageSize)) {
      const tr = body.insertRow();
      tr.setAttribute("part", "row");
      for (const column of columns) {
        const cell = tr.insertCell();
        cell.setAttribute("part", "cell");
        if (axisOf(column.type) === "number") cell.className = "num";
        cell.textContent = display(column, row[column.name]);
      }
    }
    this.content.replaceChildren(table, ...(pages > 1 ? [this.#pager(first, Math.min(rows.length, first + pageSize), rows.length, pages)] : []));
    if (this.#refocus !== undefined) this.content.querySelector<HTMLElement>(this.#refocus)?.focus();
    this.#refocus = undefined;
    return undefined;
  }

  #sorted(rows: readonly Row[], columns: readonly Column[]): readonly Row[] {
    const sort = this.#sort;
    const column = sort && columns.find((c) => c.name === sort.column);
    if (!sort || !column) return rows;
    const axis = axisOf(column.type);
    // Stable, so equal values keep the view's order.
    return [...rows].sort((a, b) => (sort.descending ? -1 : 1) * compareValues(axis, a[column.name], b[column.name]));
  }

  #header(column: Column): HTMLTableCellElement {
    const th = document.createElement("th");
    th.scope = "col";
    if (axisOf(column.type) === "number") th.className = "num";
    const sorted = this.#sort?.column === column.name;
    th.setAttribute("aria-sort", sorted ? (this.#sort!.descending ? "descending" : "ascending") : "none");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = column.name;
    button.dataset.column = column.name;
    button.addEventListener("click", () => {
      this.#sort = { column: column.name, descending: sorted && !this.#sort!.descending };
      this.#page = 0;
      this.#again(`button[data-column="${CSS.escape(column.name)}"]`);
    });
    th.append(button);
    return th;
  }

  #pager(from: number, to: number, total: number, pages: number): HTMLElement {
    const pager = document.createElement("div");
    pager.setAttribute("part", "pager");
    const button = (label: string, name: string, page: number, disabled: boolean) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.setAttribute("aria-label", name);
      b.disabled = disabled;
      b.addEventListener("click", () => {
        this.#page = page;
        this.#again(`button[aria-label="${name}"]`);
      });
      return b;
    };
    const where = document.createElement("span");
    where.textContent = `${from + 1}–${to} of ${total}`;
    pager.append(button("‹", "Previous page", this.#page - 1, this.#page === 0), where, button("›", "Next page", this.#page + 1, this.#page >= pages - 1));
    return pager;
  }

  /** Sorting and paging draw the same rows again, without a request. */
  #again(focus: string): void {
    this.#refocus = focus;
    if (this.#data && this.#binding) this.draw(this.#data, this.#binding);
  }
}
