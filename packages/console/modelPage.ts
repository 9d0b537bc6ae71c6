/**
 * `/_igloo/models/<Model>`: the model's fields (types, columns, attributes), its row
 * count and a live tail of its newest records, and an ingest form with its `curl` and
 * client equivalents (ingestForm.ts).
 *
 * "Newest" is by the field the table fills with the ingest time (`@default(now())`) when
 * the model has one; else by insertion, as the engine wrote the rows: the newest part
 * first (its highest block number), and the last row of a part first. Parts merged later
 * hold their rows in the table's order, so without an ingest-time field the tail is only
 * as exact as the engine's bookkeeping, which is exact for what just arrived.
 */
import { follow, ident, key, query } from "./api.ts";
import { append, count, fill, h } from "./dom.ts";
import { failure, ready } from "./layout.ts";
import { ingestForm } from "./ingestForm.ts";
import type { ModelInfo, ProjectInfo } from "./protocol.ts";
import { readColumns, rowsTable } from "./rows.ts";

export const TAIL_ROWS = 20;

function tailSql(model: ModelInfo): string {
  const order = model.ingestTime ? `${ident(model.ingestTime)} DESC` : "toUInt64(splitByChar('_', _part)[3]) DESC, _part_offset DESC";
  return `SELECT * FROM ${ident(model.table)} ORDER BY ${order} LIMIT ${TAIL_ROWS}`;
}

export function modelPage(main: HTMLElement, project: ProjectInfo, name: string): void {
  const model = project.models.find((m) => m.name === name);
  if (!model) {
    main.append(h("h1", {}, name), failure(`no model named \`${name}\`; this project has ${project.models.map((m) => m.name).join(", ") || "no models"}`));
    return ready();
  }
  const rows = h("b", {}, "…");
  const fact = (value: Node | string, label: string) => h("div", { class: "fact" }, typeof value === "string" ? h("b", {}, value) : value, h("span", {}, label));
  append(main, [
    h("h1", {}, `Model ${model.name}`),
    model.doc ? h("p", {}, model.doc) : null,
    h("p", { class: "muted" }, h("code", {}, model.file), ` · topic ${model.topic} · ${model.streamOnly ? "stream only: no table" : `table ${model.table}`}`),
    model.waiting ? h("div", { class: "banner warn" }, "This model waits for a held schema change before it takes records: ", h("a", { href: "/_igloo/changes" }, "review it")) : null,
    h(
      "div",
      { class: "facts" },
      model.streamOnly ? null : fact(rows, "rows"),
      fact(model.engine, "engine"),
      fact(model.orderBy.length ? model.orderBy.join(", ") : "tuple()", "order by"),
      model.partitionBy ? fact(model.partitionBy, "partition by") : null,
      model.key ? fact(model.key, "stream key") : null,
    ),
    h("h2", {}, "Fields"),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "rows" },
        h("thead", {}, h("tr", {}, ["field", "type", "column", "column type", "attributes", "doc"].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          model.fields.map((f) => h("tr", {}, h("td", {}, h("b", {}, f.name)), h("td", { class: "mono" }, f.type), h("td", {}, f.column), h("td", { class: "mono" }, f.columnType), h("td", { class: "mono" }, f.attributes.join(" ")), h("td", { class: "wrap" }, f.doc ?? ""))),
        ),
      ),
    ),
  ]);

  const tail = h("div", { "data-tail": model.name });
  if (model.streamOnly) {
    main.append(h("h2", {}, "Newest records"), h("p", { class: "muted" }, "A stream-only model has no table: its records feed functions only."));
  } else {
    main.append(
      h("h2", {}, "Newest records ", h("small", { class: "muted" }, "live")),
      h("p", { class: "muted" }, model.ingestTime ? `The last ${TAIL_ROWS} by ${model.ingestTime} (filled with the ingest time).` : `The last ${TAIL_ROWS} the table stored, newest first.`),
      tail,
    );
  }
  if (model.internal) main.append(h("h2", {}, "Ingest a record"), h("p", { class: "muted" }, "Internal (@@internal): only the project's functions write this model; it has no ingest endpoint."));
  else main.append(h("h2", {}, "Ingest a record"), ingestForm(model, key));
  if (model.streamOnly) return ready();

  const seen = new Set<string>();
  let first = true;
  follow(async () => {
    try {
      const [result, counted] = await Promise.all([query(tailSql(model)), query(`SELECT count() AS c FROM ${ident(model.table)}`)]);
      rows.textContent = count(Number(counted.data[0]?.c ?? 0));
      fill(tail, result.data.length === 0 ? h("p", { class: "muted" }, "No records yet: send one with the form below.") : rowsTable(readColumns(result.meta), result.data, { seen }));
    } catch (error) {
      fill(tail, failure(error));
    }
    if (first) ready();
    first = false;
  });
}
