/**
 * The dev console's module (`GET /_igloo/console.js`), loaded by the one HTML shell every
 * console page shares (runtime/server/console.ts): it reads the project once, draws the
 * frame, then the page its address names. Plain DOM and the dashboard elements (loaded
 * beside it from /_igloo/components.js); no framework, nothing from another server.
 */
import { getJson } from "./api.ts";
import { changesPage } from "./changesPage.ts";
import { deadLettersPage } from "./deadLettersPage.ts";
import { h } from "./dom.ts";
import { functionPage } from "./functionPage.ts";
import { homePage } from "./home.ts";
import { failure, frame, ready } from "./layout.ts";
import { modelPage } from "./modelPage.ts";
import type { ProjectInfo } from "./protocol.ts";
import { sqlPage } from "./sqlPage.ts";
import { applyStyles } from "./styles.ts";
import { viewPage } from "./viewPage.ts";

type Page = (main: HTMLElement, project: ProjectInfo, name: string) => void;

/** Address patterns to pages; `name` is the decoded path segment after the section. */
const ROUTES: readonly (readonly [RegExp, string, Page])[] = [
  [/^\/_igloo\/?$/, "Map", homePage],
  [/^\/_igloo\/models\/([^/]+)\/?$/, "Model", modelPage],
  [/^\/_igloo\/functions\/([^/]+)\/?$/, "Function", functionPage],
  [/^\/_igloo\/views\/([^/]+)\/?$/, "View", viewPage],
  [/^\/_igloo\/dead-letters\/?$/, "Dead letters", deadLettersPage],
  [/^\/_igloo\/sql\/?$/, "SQL", sqlPage],
  [/^\/_igloo\/changes\/?$/, "Schema changes", changesPage],
];

async function start(): Promise<void> {
  applyStyles();
  let project: ProjectInfo;
  try {
    project = await getJson<ProjectInfo>("/_igloo/api/project");
  } catch (error) {
    document.body.replaceChildren(h("main", {}, h("h1", {}, "Igloo console"), failure(error)));
    return ready();
  }
  for (const [pattern, title, page] of ROUTES) {
    const match = pattern.exec(location.pathname);
    if (!match) continue;
    const name = match[1] === undefined ? "" : decodeURIComponent(match[1]);
    page(frame(project, name || title), project, name);
    return;
  }
  const main = frame(project, "Not found");
  main.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "/_igloo/" }, "Back to the map")));
  ready();
}

void start();
