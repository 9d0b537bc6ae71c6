/**
 * Dead letters as the function and dead-letter pages show them: when, where (the source
 * and stage), why, with the `file:line:column` where a function threw picked out of the
 * error, and the record; and the button that replays a source's dead letters after a fix.
 */
import { postJson } from "./api.ts";
import { count, errorPlace, fill, h } from "./dom.ts";

export interface ReplayReport {
  readonly read: number;
  readonly refed: number;
  readonly refusedAgain: number;
  readonly more: boolean;
}

/** A button that replays the dead letters of `source`, and says what came of it. */
export function replayButton(source: string): HTMLElement {
  const said = h("span", { role: "status" });
  const button = h("button", { type: "button" }, `Replay ${source}'s dead letters`);
  button.addEventListener("click", () => {
    button.disabled = true;
    fill(said, "Replaying…");
    postJson<ReplayReport>("/dead-letters/replay", { source })
      .then(
        (report) => fill(said, `read ${count(report.read)}, fed again ${count(report.refed)}, refused again ${count(report.refusedAgain)}${report.more ? "; more remain: replay again" : ""}`),
        (error: unknown) => fill(said, h("span", { class: "bad" }, error instanceof Error ? error.message : String(error))),
      )
      .finally(() => (button.disabled = false));
  });
  return h("span", { class: "row" }, button, said);
}

/** Dead letters as a table: when, where, why (with the file and line where a function threw), and the record. */
export function deadLetterList(rows: readonly Record<string, unknown>[], showSource = false): HTMLElement {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "rows", "data-dead-letters": "" },
      h("thead", {}, h("tr", {}, ["time", ...(showSource ? ["source"] : []), "stage", "why", "record"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        rows.map((row) => {
          const error = String(row.error ?? "");
          const place = errorPlace(error);
          return h(
            "tr",
            {},
            h("td", {}, String(row.ts ?? "").replace("T", " ").replace("Z", "")),
            showSource ? h("td", {}, String(row.source ?? "")) : null,
            h("td", {}, String(row.stage ?? "")),
            h("td", { class: "wrap" }, place ? [h("code", { class: "bad" }, place), " "] : null, error),
            h("td", { class: "wrap mono" }, String(row.record ?? "")),
          );
        }),
      ),
    ),
  );
}
