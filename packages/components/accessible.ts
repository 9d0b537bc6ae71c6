/**
 * Text for screen readers beside what is drawn for the eye: a canvas says nothing to
 * them, so a chart carries its data as a visually hidden table (at most MAX_ROWS rows,
 * the caption saying how many there are).
 */
export const MAX_ROWS = 100;

/** `cells` of the first rows, `count` the rows there are. */
export function summaryTable(caption: string, headers: readonly string[], cells: readonly (readonly string[])[], count = cells.length): HTMLTableElement {
  const table = document.createElement("table");
  const shown = cells.slice(0, MAX_ROWS);
  table.createCaption().textContent = count > shown.length ? `${caption} The first ${shown.length} of ${count} rows:` : caption;
  const head = table.createTHead().insertRow();
  for (const header of headers) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = header;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of shown) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = cell;
  }
  return table;
}
