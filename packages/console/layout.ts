/**
 * The frame every page shares: the header with the console's sections, the project's
 * models, functions and views down the side, and the page's own area. Problems of the
 * last load (a file that does not load) and held changes are shown on every page: they
 * are what a developer must act on.
 */
import { fill, h } from "./dom.ts";
import type { ProjectInfo } from "./protocol.ts";

const SECTIONS: readonly (readonly [string, string])[] = [
  ["/_igloo/", "Map"],
  ["/_igloo/dead-letters", "Dead letters"],
  ["/_igloo/sql", "SQL"],
  ["/_igloo/changes", "Schema changes"],
];

export const link = {
  model: (name: string) => `/_igloo/models/${encodeURIComponent(name)}`,
  fn: (name: string) => `/_igloo/functions/${encodeURIComponent(name)}`,
  view: (name: string) => `/_igloo/views/${encodeURIComponent(name)}`,
  deadLetters: (source?: string) => `/_igloo/dead-letters${source ? `?source=${encodeURIComponent(source)}` : ""}`,
};

/** Draws the frame and returns the page's area. */
export function frame(project: ProjectInfo, title: string): HTMLElement {
  document.title = `${title} · Igloo console`;
  const here = location.pathname.replace(/\/$/, "") || "/_igloo";
  const section = (href: string, label: string) => h("a", { href, class: href.replace(/\/$/, "") === here ? "here" : "" }, label);
  const list = (heading: string, names: readonly string[], href: (name: string) => string) => [
    h("h3", {}, heading),
    names.length === 0 ? h("span", { class: "muted" }, "none") : names.map((name) => h("a", { href: href(name), title: name }, name)),
  ];
  const main = h("main", { id: "page" });
  const held = project.held.length;
  fill(
    document.body,
    h(
      "header",
      {},
      h("a", { class: "brand", href: "/_igloo/" }, "Igloo"),
      h("nav", {}, SECTIONS.map(([href, label]) => section(href, label))),
      held > 0 ? h("a", { href: "/_igloo/changes", class: "bad" }, `${held} held change${held === 1 ? "" : "s"}`) : null,
    ),
    h(
      "div",
      { class: "frame" },
      h(
        "aside",
        {},
        list("Models", project.models.map((m) => m.name), link.model),
        list("Functions", project.functions.map((f) => f.name), link.fn),
        list("Views", project.views.map((v) => v.name), link.view),
      ),
      main,
    ),
  );
  if (project.problems.length > 0) {
    main.append(h("div", { class: "banner", role: "alert" }, h("b", {}, "Files with errors (their last good version keeps running):"), project.problems.map((p) => h("div", { class: "mono" }, p.message))));
  }
  return main;
}

/** Tells whoever waits (a test, a benchmark) that the page has drawn its data once. */
export function ready(): void {
  document.body.dataset.ready = "true";
}

/** An error where the page's data would be: the server's words. */
export function failure(error: unknown): HTMLElement {
  return h("div", { class: "banner", role: "alert" }, error instanceof Error ? error.message : String(error));
}
