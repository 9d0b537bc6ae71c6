/**
 * `/_igloo/changes`: schema changes held because they would drop or rewrite data, with the
 * rows of their tables, and an Apply button that does what typing `y` at the `igloo dev`
 * terminal does; then the reload log: what each save changed and how long it took. Live:
 * a save shows here as soon as it is applied.
 */
import { follow, getJson, postJson } from "./api.ts";
import { count, fill, h, ms } from "./dom.ts";
import { failure, ready } from "./layout.ts";
import type { ApplyAnswer, ProjectInfo, ReloadEntry } from "./protocol.ts";

function reloadLog(reloads: readonly ReloadEntry[]): HTMLElement {
  if (reloads.length === 0) return h("p", { class: "muted" }, "Nothing reloaded yet.");
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "rows", "data-reloads": "" },
      h("thead", {}, h("tr", {}, ["time", "what", "took", "changed", "problems"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        [...reloads].reverse().map((r) =>
          h(
            "tr",
            {},
            h("td", {}, new Date(r.at).toLocaleTimeString()),
            h("td", {}, r.trigger === "apply" ? "held changes applied" : r.trigger === "start" ? "start" : `saved ${r.folders.join(", ")}`),
            h("td", { class: "num" }, ms(r.durationMs)),
            h("td", { class: "wrap" }, r.changes.length === 0 ? h("span", { class: "muted" }, "nothing") : r.changes.map((c) => h("div", { class: c.startsWith("held:") ? "bad" : "" }, c))),
            h("td", { class: "wrap bad" }, r.problems.map((p) => h("div", { class: "mono" }, p))),
          ),
        ),
      ),
    ),
  );
}

export function changesPage(main: HTMLElement, initial: ProjectInfo): void {
  const held = h("div", { "data-held": "" });
  const outcome = h("div", { role: "status" });
  const log = h("div");
  main.append(
    h("h1", {}, "Schema changes ", h("small", { class: "muted" }, "live")),
    h("p", { class: "muted" }, "Saving a model applies safe changes at once. Changes that would drop or rewrite data wait here for a go-ahead (or y and Enter in the igloo dev terminal)."),
    h("h2", {}, "Held"),
    held,
    outcome,
    h("h2", {}, "Reload log"),
    log,
  );

  const apply = h("button", { class: "danger", type: "button", id: "apply" }, "Apply");
  apply.addEventListener("click", () => {
    apply.disabled = true;
    fill(outcome, "Applying…");
    postJson<ApplyAnswer>("/_igloo/api/changes/apply", {})
      .then(
        (answer) =>
          fill(
            outcome,
            h(
              "div",
              { class: answer.held.length === 0 ? "banner warn" : "banner" },
              answer.entry ? `Applied in ${ms(answer.entry.durationMs)}: ${answer.entry.changes.join("; ") || "nothing"}` : "Nothing was held.",
              answer.held.length > 0 ? ` Still held: ${answer.held.map((c) => c.summary).join("; ")}` : "",
            ),
          ),
        (error: unknown) => fill(outcome, failure(error)),
      )
      .finally(() => (apply.disabled = false));
  });

  const draw = (project: ProjectInfo) => {
    fill(
      held,
      project.held.length === 0
        ? h("p", { class: "ok" }, "Nothing is held.")
        : [
            h(
              "table",
              { class: "rows" },
              h("thead", {}, h("tr", {}, ["change", "table", "rows it touches"].map((t) => h("th", {}, t)))),
              h("tbody", {}, project.held.map((c) => h("tr", {}, h("td", { class: "wrap" }, c.summary), h("td", {}, c.table), h("td", { class: "num" }, count(c.rows))))),
            ),
            h("div", { class: "row" }, apply, h("span", { class: "muted" }, "Drops or rewrites the data above; cannot be undone.")),
          ],
    );
    fill(log, reloadLog(project.reloads));
  };
  draw(initial);
  ready();
  follow(async () => {
    try {
      draw(await getJson<ProjectInfo>("/_igloo/api/project"));
    } catch (error) {
      fill(log, failure(error));
    }
  });
}
