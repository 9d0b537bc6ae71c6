/**
 * `/_igloo/sql`: a query editor over `POST /query`, the same read-only, limited reads any
 * client gets (the limits are listed with the settings that change them), results as a
 * table and a chart, and EXPLAIN. The statement is kept in the address (`?q=`), so a
 * query can be shared or reloaded.
 */
import { ident, query } from "./api.ts";
import { resultChart } from "./chart.ts";
import { count, fill, h, limitValue, ms } from "./dom.ts";
import { failure, ready } from "./layout.ts";
import type { ProjectInfo } from "./protocol.ts";
import { readColumns, rowsTable } from "./rows.ts";

export function sqlPage(main: HTMLElement, project: ProjectInfo): void {
  const first = project.models.find((m) => !m.streamOnly);
  const initial = new URLSearchParams(location.search).get("q") ?? (first ? `SELECT *\nFROM ${ident(first.table)}\nLIMIT 100` : "SELECT 1");
  const editor = h("textarea", { id: "sql", "aria-label": "SQL" });
  editor.value = initial;
  editor.spellcheck = false;
  const status = h("p", { class: "muted", role: "status" });
  const chart = h("div");
  const result = h("div", { "data-result": "" });

  const run = async (explain: boolean) => {
    const text = editor.value.trim();
    if (text === "") return;
    history.replaceState(null, "", `${location.pathname}?${new URLSearchParams({ q: text })}`);
    const sql = explain && !/^explain\b/i.test(text) ? `EXPLAIN ${text}` : text;
    fill(status, "Running…");
    const started = performance.now();
    try {
      const answer = await query(sql);
      const took = performance.now() - started;
      const columns = readColumns(answer.meta);
      fill(status, `${count(answer.data.length)} rows in ${ms(took)} (request included)`);
      if (explain) {
        fill(chart);
        fill(result, h("pre", {}, answer.data.map((row) => Object.values(row).join("\t")).join("\n")));
      } else {
        fill(chart, resultChart(columns, answer.data));
        fill(result, rowsTable(columns, answer.data));
      }
    } catch (error) {
      fill(status, `Failed after ${ms(performance.now() - started)}`);
      fill(chart);
      fill(result, failure(error));
    }
  };
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void run(false);
    }
  });

  const names = [...project.models.filter((m) => !m.streamOnly).map((m) => m.table), ...project.views.filter((v) => v.params.length === 0).map((v) => v.name), project.deadLetterTable];
  const pick = (name: string) =>
    h(
      "button",
      {
        type: "button",
        onclick: (() => {
          editor.value = `SELECT *\nFROM ${ident(name)}\nLIMIT 100`;
          void run(false);
        }) as EventListener,
      },
      name,
    );
  main.append(
    h("h1", {}, "SQL"),
    h("p", { class: "muted" }, "Read-only queries through POST /query, with the limits below. Ctrl+Enter runs."),
    h("div", { class: "row" }, "Tables and views:", names.map(pick)),
    editor,
    h("div", { class: "row" }, h("button", { class: "primary", type: "button", id: "run", onclick: (() => void run(false)) as EventListener }, "Run"), h("button", { type: "button", id: "explain", onclick: (() => void run(true)) as EventListener }, "EXPLAIN"), status),
    chart,
    result,
    h("h2", {}, "Limits"),
    h(
      "table",
      { class: "rows", "data-limits": "" },
      h("thead", {}, h("tr", {}, ["setting", "value", "what it bounds"].map((t) => h("th", {}, t)))),
      h("tbody", {}, project.limits.map((l) => h("tr", {}, h("td", { class: "mono" }, l.setting), h("td", { class: "num" }, limitValue(l.setting, l.value)), h("td", { class: "wrap" }, l.doc)))),
    ),
    h("p", { class: "muted" }, "Only SELECT, DESCRIBE, SHOW and EXPLAIN statements of the project's own tables run; see README, Security."),
  );
  ready();
}
