/**
 * `/_igloo/dead-letters`: every record a stage could not take (rejected at ingest, thrown
 * on by a function, refused by its table), live, filtered by source and stage (kept in the
 * address, `?source=...&stage=...`), with the reason and the record, and a replay per source.
 */
import { follow, ident, query } from "./api.ts";
import { count, fill, h } from "./dom.ts";
import { deadLetterList, replayButton } from "./deadLetterTable.ts";
import { failure, ready } from "./layout.ts";
import type { ProjectInfo } from "./protocol.ts";

const STAGES = ["ingest", "function", "writer"];
const SHOWN = 100;

export function deadLettersPage(main: HTMLElement, project: ProjectInfo): void {
  const wanted = new URLSearchParams(location.search);
  const sources = [...project.models.map((m) => m.name), ...project.functions.map((f) => f.name)];
  const select = (name: string, values: readonly string[], chosen: string | null) =>
    h("select", { name, "aria-label": name }, h("option", { value: "" }, `every ${name}`), [...new Set([...values, ...(chosen ? [chosen] : [])])].map((v) => h("option", { value: v, selected: v === chosen }, v)));
  const source = select("source", sources, wanted.get("source"));
  const stage = select("stage", STAGES, wanted.get("stage"));
  const counts = h("div");
  const list = h("div");
  const table = ident(project.deadLetterTable);
  main.append(
    h("h1", {}, "Dead letters ", h("small", { class: "muted" }, "live")),
    h("p", { class: "muted" }, `Records no stage could take, with why, from the table ${project.deadLetterTable}. After a fix, replay a source: models check their dead letters again, functions run them again.`),
    h("div", { class: "row" }, source, stage),
    counts,
    h("h2", {}, `Newest ${SHOWN}`),
    list,
  );

  let first = true;
  const refresh = async () => {
    const filter = { source: source.value, stage: stage.value };
    try {
      const [byStage, rows] = await Promise.all([
        query(`SELECT source, stage, count() AS c, max(ts) AS last FROM ${table} GROUP BY source, stage ORDER BY source, stage`),
        query(
          `SELECT ts, source, stage, error, record FROM ${table} WHERE ({source:String} = '' OR source = {source:String}) AND ({stage:String} = '' OR stage = {stage:String}) ORDER BY ts DESC LIMIT ${SHOWN}`,
          filter,
        ),
      ]);
      fill(
        counts,
        byStage.data.length === 0
          ? h("p", { class: "ok" }, "None: every record was taken.")
          : h(
              "table",
              { class: "rows" },
              h("thead", {}, h("tr", {}, ["source", "stage", "dead letters", "latest", ""].map((t) => h("th", {}, t)))),
              h(
                "tbody",
                {},
                byStage.data.map((row) =>
                  h(
                    "tr",
                    {},
                    h("td", {}, String(row.source)),
                    h("td", {}, String(row.stage)),
                    h("td", { class: "num" }, count(Number(row.c))),
                    h("td", {}, String(row.last ?? "").replace("T", " ").replace("Z", "")),
                    h("td", {}, row.stage === "writer" ? "" : replayButton(String(row.source))),
                  ),
                ),
              ),
            ),
      );
      fill(list, rows.data.length === 0 ? h("p", { class: "muted" }, "None match.") : deadLetterList(rows.data, true));
    } catch (error) {
      fill(list, failure(error));
    }
    if (first) ready();
    first = false;
  };
  const changed = () => {
    const params = new URLSearchParams();
    if (source.value) params.set("source", source.value);
    if (stage.value) params.set("stage", stage.value);
    history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
    void refresh();
  };
  source.addEventListener("change", changed);
  stage.addEventListener("change", changed);
  follow(refresh);
}
