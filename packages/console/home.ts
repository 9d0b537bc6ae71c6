/**
 * `/_igloo/`: the project as a map with live rates and lag (map.ts), a few totals, and
 * the latest reloads.
 */
import { count, custom, fill, h, ms } from "./dom.ts";
import { failure, ready } from "./layout.ts";
import { projectMap } from "./map.ts";
import type { ProjectInfo } from "./protocol.ts";
import { watchStatus } from "./status.ts";

export function homePage(main: HTMLElement, project: ProjectInfo): void {
  const map = projectMap(project);
  const totals = h("div", { class: "facts" });
  const offline = h("div");
  const reloads = project.reloads.slice(-5).reverse();
  main.append(
    h("h1", {}, "Project map"),
    h("p", { class: "muted" }, "Records flow left to right; each edge shows its rate and the lag of the consumer behind it. Red is where records fail: they go to the dead letters."),
    offline,
    totals,
    h("div", { class: "scroll" }, map.element),
    h("h2", {}, "Igloo's own activity"),
    h("p", { class: "muted" }, "Igloo records its reloads, ingest and rejection counts, function errors and reads in its own table, igloo_events, through its own ingest path; this chart reads the view igloo_activity with the same element any dashboard uses."),
    custom("igloo-chart", { id: "activity", view: "igloo_activity", type: "bar", stacked: true, x: "minute", y: "events", series: "kind", live: true, style: "height:220px" }),
    h("h2", {}, "Latest reloads"),
    reloads.length === 0
      ? h("p", { class: "muted" }, "None yet.")
      : h(
          "ul",
          {},
          reloads.map((r) => h("li", {}, `${new Date(r.at).toLocaleTimeString()} ${r.trigger}${r.folders.length ? ` (${r.folders.join(", ")})` : ""}: ${r.changes.length} change${r.changes.length === 1 ? "" : "s"}, ${ms(r.durationMs)}`)),
        ),
    h("p", {}, h("a", { href: "/_igloo/changes" }, "All reloads and held schema changes →")),
  );
  let first = true;
  watchStatus(
    (rates) => {
      const status = rates.current!;
      fill(offline);
      const sum = (values: Readonly<Record<string, number>>) => Object.values(values).reduce((a, b) => a + b, 0);
      const accepted = Object.values(status.ingest).reduce((a, b) => a + b.accepted, 0);
      const letters = sum(status.deadLetters);
      const fact = (value: string, label: string, bad = false) => h("div", { class: bad ? "fact bad" : "fact" }, h("b", {}, value), h("span", {}, label));
      fill(
        totals,
        fact(String(project.models.length), "models"),
        fact(String(project.functions.length), "functions"),
        fact(String(project.views.length), "views"),
        fact(count(accepted), "records accepted"),
        fact(count(sum(status.writerRows)), "rows written"),
        fact(count(letters), "dead letters", letters > 0),
        fact(count(status.liveSubscribers), "live subscribers"),
      );
      map.update(rates);
      if (first) ready();
      first = false;
    },
    (error) => fill(offline, failure(error)),
  );
}
