/**
 * `/_igloo/functions/<name>`: what the function reads and writes, its throughput, lag and
 * errors (live), its recent dead letters with the place in its file where each threw,
 * and a button that replays them (`POST /dead-letters/replay`) once the file is fixed.
 */
import { follow, ident, query } from "./api.ts";
import { deadLetterList, replayButton } from "./deadLetterTable.ts";
import { count, fill, h, rate } from "./dom.ts";
import { failure, link, ready } from "./layout.ts";
import type { ProjectInfo } from "./protocol.ts";
import { watchStatus } from "./status.ts";

export function functionPage(main: HTMLElement, project: ProjectInfo, name: string): void {
  const fn = project.functions.find((f) => f.name === name);
  if (!fn) {
    main.append(h("h1", {}, name), failure(`no function named \`${name}\` runs; this project runs ${project.functions.map((f) => f.name).join(", ") || "no functions"}`));
    return ready();
  }
  const facts = h("div", { class: "facts" });
  const letters = h("div");
  main.append(
    h("h1", {}, `Function ${fn.name}`),
    h("p", { class: "muted" }, h("code", {}, fn.file), " · reads ", h("a", { href: link.model(fn.from) }, fn.from), " · writes ", h("a", { href: link.model(fn.to) }, fn.to), ` · ${fn.workers > 1 ? `${fn.workers} workers` : "in the server's thread"}`),
    facts,
    h("h2", {}, "Recent dead letters ", h("small", { class: "muted" }, "live")),
    h("p", { class: "muted" }, "Records the function threw on (or returned an invalid record for). Fix the file, save, then replay: each is stored once however often it is replayed."),
    replayButton(fn.name),
    letters,
  );

  watchStatus(
    (rates) => {
      const status = rates.current!;
      const errors = status.functionErrors[fn.name] ?? 0;
      const fact = (value: string, label: string, bad = false) => h("div", { class: bad ? "fact bad" : "fact" }, h("b", {}, value), h("span", {}, label));
      fill(
        facts,
        fact(rate(rates.rate((s) => s.functionRecords[fn.name])), "throughput"),
        fact(count(status.functionRecords[fn.name] ?? 0), "records processed"),
        fact(count(status.lag[fn.group] ?? 0), "lag (records)"),
        fact(count(errors), "errors since start", errors > 0),
        fact(count(status.deadLetters[fn.name] ?? 0), "dead letters stored", (status.deadLetters[fn.name] ?? 0) > 0),
      );
    },
    (error) => fill(facts, failure(error)),
  );

  let first = true;
  follow(async () => {
    try {
      const result = await query(`SELECT ts, stage, error, record FROM ${ident(project.deadLetterTable)} WHERE source = {source:String} ORDER BY ts DESC LIMIT 50`, { source: fn.name });
      fill(letters, result.data.length === 0 ? h("p", { class: "muted" }, "None.") : deadLetterList(result.data));
    } catch (error) {
      fill(letters, failure(error));
    }
    if (first) ready();
    first = false;
  });
}
