/**
 * `/_igloo/views/<name>`: the view's SQL, its kind (and why it is not incremental when it
 * was a candidate), the tables it reads, a form for its parameters from their types, and
 * its rows drawn live by the same dashboard elements any page uses (`<igloo-table>`,
 * `<igloo-chart>`), with the latency of a read of it.
 */
import { axisOf } from "../components/columns.ts";
import { getJson, key } from "./api.ts";
import { append, custom, fill, h, ms } from "./dom.ts";
import { failure, link, ready } from "./layout.ts";
import type { ProjectInfo, ViewInfo } from "./protocol.ts";
import { readColumns } from "./rows.ts";

const KINDS: Readonly<Record<ViewInfo["kind"], string>> = {
  incremental: "incremental: a materialized view keeps an aggregate table up to date as rows arrive; a read does not rescan the table",
  plain: "plain: computed from its tables on each read",
  parameterized: "parameterized: its SQL runs per request with the values bound",
};

const PLACEHOLDERS: readonly (readonly [RegExp, string])[] = [
  [/DateTime/, "2026-01-01 00:00:00"],
  [/Date/, "2026-01-01"],
  [/Int|Float|Decimal/, "0"],
  [/Bool/, "true"],
];

/** A read of the view with these values, timed from the request to its last byte. */
async function timeRead(view: string, params: Readonly<Record<string, string>>): Promise<string> {
  const url = `/views/${encodeURIComponent(view)}?${new URLSearchParams(params)}`;
  const started = performance.now();
  try {
    const body = await getJson<{ data: readonly unknown[] }>(url);
    return `GET ${url} answered ${body.data.length.toLocaleString("en-US")} rows in ${ms(performance.now() - started)} (request included)`;
  } catch (error) {
    return `GET ${url}: ${error instanceof Error ? error.message : String(error)} (${ms(performance.now() - started)})`;
  }
}

export function viewPage(main: HTMLElement, project: ProjectInfo, name: string): void {
  const view = project.views.find((v) => v.name === name);
  if (!view) {
    main.append(h("h1", {}, name), failure(`no view named \`${name}\`; this project has ${project.views.map((v) => v.name).join(", ") || "no views"}`));
    return ready();
  }
  const tables = new Map(project.models.map((m) => [m.table, m.name]));
  const columns = readColumns(view.columns);
  const x = columns.find((c) => axisOf(c.type) === "time") ?? columns[0];
  const chartable = columns.some((c) => c !== x && axisOf(c.type) === "number");
  const latency = h("p", { class: "muted", role: "status" });
  const drawn = h("div");

  append(main, [
    h("h1", {}, `View ${view.name}`),
    h("p", {}, h("b", {}, view.kind), " · ", KINDS[view.kind]),
    view.fallbackReason ? h("div", { class: "banner warn" }, `Not incremental: ${view.fallbackReason}`) : null,
    h(
      "p",
      { class: "muted" },
      h("code", {}, `views/${view.name}.sql`),
      " · reads ",
      view.sources.length === 0 ? "no table" : view.sources.map((t, i) => [i > 0 ? ", " : "", tables.has(t) ? h("a", { href: link.model(tables.get(t)!) }, t) : t]),
      " · columns ",
      view.columns.map((c) => `${c.name} ${c.type}`).join(", "),
    ),
    h("pre", { "data-sql": view.name }, view.sql.trim()),
  ]);

  const values = new URLSearchParams(location.search);
  const inputs = view.params.map((p) =>
    h("input", { name: p.name, id: `param-${p.name}`, value: values.get(p.name) ?? "", placeholder: PLACEHOLDERS.find(([pattern]) => pattern.test(p.type))?.[1] ?? "", autocomplete: "off" }),
  );
  const show = () => {
    const params: Record<string, string> = {};
    for (const input of inputs) if (input.value !== "") params[input.name] = input.value;
    const missing = view.params.filter((p) => !p.type.startsWith("Nullable(") && params[p.name] === undefined).map((p) => p.name);
    if (missing.length > 0) {
      fill(drawn, h("p", { class: "muted" }, `Give ${missing.join(", ")} to see the rows.`));
      fill(latency);
      return;
    }
    const attributes = { view: view.name, params: JSON.stringify(params), live: true, ...(key ? { key } : {}) };
    const table = custom("igloo-table", { ...attributes, "page-size": 10 });
    const chart = chartable ? custom("igloo-chart", { ...attributes, ...(x ? { x: x.name } : {}) }) : h("p", { class: "muted" }, "No chart: the view has no numeric column besides its first.");
    fill(drawn, h("div", { class: "cols" }, h("div", {}, h("h2", {}, "Rows ", h("small", { class: "muted" }, "live")), table), h("div", {}, h("h2", {}, "Chart ", h("small", { class: "muted" }, "live")), chart)));
    fill(latency, "Reading…");
    void timeRead(view.name, params).then((text) => fill(latency, text), (error: unknown) => fill(latency, failure(error)));
    // Ready once the table drew its first rows, or said why it cannot.
    const settle = () => ready();
    table.addEventListener("igloo-rows", settle, { once: true });
    table.addEventListener("igloo-error", settle, { once: true });
  };

  if (inputs.length > 0) {
    main.append(
      h("h2", {}, "Parameters"),
      h(
        "form",
        {
          class: "grid",
          onsubmit: ((event: Event) => {
            event.preventDefault();
            const params = new URLSearchParams();
            for (const input of inputs) if (input.value !== "") params.set(input.name, input.value);
            history.replaceState(null, "", `${location.pathname}?${params}`);
            show();
          }) as EventListener,
        },
        view.params.map((p, i) => [h("label", { for: `param-${p.name}` }, p.name), inputs[i]!, h("small", {}, p.type)]),
        h("span"),
        h("div", {}, h("button", { class: "primary", type: "submit" }, "Show")),
      ),
    );
  }
  main.append(latency, drawn);
  show();
  // A parameterized view waiting for its values has nothing more to draw yet.
  if (drawn.querySelector("igloo-table") === null) ready();
}
