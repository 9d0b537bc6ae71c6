/**
 * What the server gives web pages besides its API (runtime/server/dashboards.ts): a
 * project's dashboards by name and nothing else of its files, the reload stream that
 * fires on a save, the elements' module with revalidation, and a view's column types.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseType } from "../conventions/datamodels/typeFaces.ts";
import { IglooError } from "../conventions/errors.ts";
import { DashboardFolder, dashboardResponse, moduleResponse, reloadStream, viewColumnsResponse } from "../runtime/server/dashboards.ts";
import { removeDir, tempDir } from "./helpers/igloo.ts";

const root = tempDir("dashboards");
afterAll(() => removeDir(root));
const dir = join(root, "dashboards");
mkdirSync(dir);
writeFileSync(join(dir, "overview.html"), "<!doctype html><body><h1>Overview</h1></body>");
writeFileSync(join(dir, "bad name.html"), "not served");
writeFileSync(join(root, "secret.html"), "outside the folder");

test("a dashboard is served by its name; other names, and files outside the folder, are 404s", async () => {
  const folder = new DashboardFolder(dir, { live: false });
  expect(folder.names()).toEqual(["overview"]);
  const page = dashboardResponse(folder, "overview");
  expect([page.status, page.headers.get("content-type"), await page.text()]).toEqual([200, "text/html; charset=utf-8", "<!doctype html><body><h1>Overview</h1></body>"]);
  for (const name of ["../secret", "..", "overview.html", "bad name", "", "a/b", "%2e%2e"]) {
    const refused = dashboardResponse(folder, name);
    expect({ name, status: refused.status }).toEqual({ name, status: 404 });
  }
  expect(await dashboardResponse(folder, "missing").json()).toEqual({ error: "no dashboard named `missing`; dashboards: overview" });
  expect(new DashboardFolder(join(root, "none"), { live: false }).names()).toEqual([]);
});

test("under dev, a page gets the reload script, and the reload stream fires when a file is saved", async () => {
  const folder = new DashboardFolder(dir, { live: true });
  folder.watch();
  try {
    expect(await dashboardResponse(folder, "overview").text()).toMatch(/<h1>Overview<\/h1><script>.*EventSource\("\/_igloo\/reload"\).*<\/script><\/body>$/);
    const abort = new AbortController();
    const stream = reloadStream(folder, new Request("http://localhost/_igloo/reload", { signal: abort.signal }));
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    const reader = stream.body!.getReader();
    const next = reader.read();
    const quiet = await Promise.race([next.then(() => "event"), Bun.sleep(200).then(() => "quiet")]);
    expect(quiet).toBe("quiet");
    writeFileSync(join(dir, "overview.html"), "<!doctype html><body><h1>Saved</h1></body>");
    const { value } = await next;
    expect(new TextDecoder().decode(value)).toBe("event: reload\ndata: \n\n");
    folder.close();
    expect((await reader.read()).done).toBe(true);
  } finally {
    folder.close();
  }
  expect(reloadStream(new DashboardFolder(dir, { live: false }), new Request("http://localhost/_igloo/reload")).status).toBe(404);
});

test("the module is revalidated with an ETag: a 304 when the page has it", async () => {
  const first = moduleResponse(new Request("http://localhost/_igloo/components.js"), "export {};");
  expect([first.status, first.headers.get("content-type"), first.headers.get("cache-control")]).toEqual([200, "text/javascript; charset=utf-8", "no-cache"]);
  const etag = first.headers.get("etag")!;
  const again = moduleResponse(new Request("http://localhost/_igloo/components.js", { headers: { "if-none-match": etag } }), "export {};");
  expect([again.status, await again.text()]).toEqual([304, ""]);
  expect(moduleResponse(new Request("http://localhost/", { headers: { "if-none-match": etag } }), "export const a = 1;").status).toBe(200);
});

test("a view's columns and parameters with their types; an unknown view is the error its read would get", async () => {
  const views = {
    columns: (name: string) => (name === "v" ? [{ name: "ts", type: "DateTime64(3, 'UTC')" }] : undefined),
    params: (name: string) => (name === "v" ? [{ name: "since", type: parseType("Nullable(DateTime)") }] : undefined),
    resolve: (name: string): never => {
      throw new IglooError("E_VIEW_NOT_FOUND", `no view named \`${name}\``, { kind: "not_found" });
    },
  };
  expect(await viewColumnsResponse(views, "v").json()).toEqual({ columns: [{ name: "ts", type: "DateTime64(3, 'UTC')" }], params: [{ name: "since", type: "Nullable(DateTime)" }] });
  expect(() => viewColumnsResponse(views, "nope")).toThrow("no view named `nope`");
});
