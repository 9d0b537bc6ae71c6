/**
 * Query results as a table, values written by the type module as the dashboard elements
 * write them (packages/components/columns.ts), numbers right-aligned. Rows whose text was
 * not in the previous rendering are marked fresh, so a live tail shows what arrived.
 */
import { axisOf, display, readColumns, type Column, type Row } from "../components/columns.ts";
import { h } from "./dom.ts";

export type { Column, Row };
export { readColumns };

export interface RowsOptions {
  /** Rows shown at most (the rest are counted, not drawn). */
  readonly limit?: number;
  /** Keys of the rows drawn last time: new ones are marked fresh. */
  readonly seen?: Set<string>;
  /** Columns whose text wraps instead of being cut (records, errors). */
  readonly wrap?: readonly string[];
  /** Extra cells at the end of each row. */
  readonly extra?: (row: Row) => Node;
}

export function rowsTable(columns: readonly Column[], rows: readonly Row[], options: RowsOptions = {}): HTMLElement {
  const limit = options.limit ?? 1_000;
  const numeric = columns.map((c) => axisOf(c.type) === "number");
  const next = new Set<string>();
  const table = h(
    "table",
    { class: "rows" },
    h("thead", {}, h("tr", {}, columns.map((c, i) => h("th", { class: numeric[i] ? "num" : "", title: c.name }, c.name)), options.extra ? h("th", {}) : null)),
  );
  const body = h("tbody");
  for (const row of rows.slice(0, limit)) {
    const key = JSON.stringify(row);
    next.add(key);
    const fresh = options.seen !== undefined && options.seen.size > 0 && !options.seen.has(key);
    body.append(
      h(
        "tr",
        { class: fresh ? "fresh" : "" },
        columns.map((c, i) => {
          const text = display(c, row[c.name]);
          return h("td", { class: numeric[i] ? "num" : options.wrap?.includes(c.name) ? "wrap" : "", title: text.length > 60 ? text.slice(0, 2_000) : "" }, text);
        }),
        options.extra ? h("td", {}, options.extra(row)) : null,
      ),
    );
  }
  table.append(body);
  if (options.seen) {
    options.seen.clear();
    for (const key of next) options.seen.add(key);
  }
  const more = rows.length - Math.min(rows.length, limit);
  return h("div", { class: "scroll" }, table, more > 0 ? h("p", { class: "muted" }, `${more.toLocaleString("en-US")} more rows not shown`) : null);
}
