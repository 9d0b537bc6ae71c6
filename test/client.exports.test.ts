/**
 * The client's export lists, which are kept by hand: packages/client/client.ts (the
 * runtime) and the generated index.ts that passes part of it on. The compiler lists what
 * each module exports, types included, so an export that disappears or is renamed fails
 * here rather than in a user's build. The shape CONTRACT.md documents ("The generated
 * client": createClient, client.ingest.<Model>, client.flush(), client.views.<name> and
 * its subscribe) is checked on a live object.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import { createIglooClient } from "../packages/client/client.ts";
import { clientModule } from "../src/generate/client.ts";
import { removeDir, REPO, tempDir } from "./helpers/igloo.ts";
import { parseType } from "../conventions/datamodels/typeFaces.ts";

/** What packages/client/client.ts exports, values and types. Add a name here when adding an export. */
const RUNTIME_EXPORTS = [
  "IglooBackoffOptions",
  "IglooClient",
  "IglooClientOptions",
  "IglooError",
  "IglooErrorCode",
  "IglooFetch",
  "IglooIngest",
  "IglooIngestOptions",
  "IglooIngestVerdict",
  "IglooQueryArgs",
  "IglooQueryOptions",
  "IglooRejection",
  "IglooSubscribeOptions",
  "IglooSubscription",
  "IglooView",
  "IglooViewShape",
  "createIglooClient",
];

/** The runtime's names a generated index.ts does not pass on: the generic parts of its signatures. */
const NOT_PASSED_ON = ["IglooQueryArgs", "IglooViewShape", "createIglooClient"];
/** What a generated index.ts declares itself, for a project with one view, `top`. */
const OWN_EXPORTS = ["IglooModels", "IglooProjectClient", "IglooViews", "TopParams", "TopRow", "createClient"];

/** Every name a module exports, as the compiler resolves them (re-exports followed). */
function exportsOf(file: string): string[] {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Preserve,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    noEmit: true,
    types: [],
  });
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error(`the compiler did not read ${file}`);
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error(`${file} is not a module`);
  return checker
    .getExportsOfModule(module)
    .map((symbol) => symbol.getName())
    .sort();
}

const dir = tempDir("client-exports");
afterAll(() => removeDir(dir));

test("packages/client/client.ts exports the runtime's public names, and no others", () => {
  expect(exportsOf(join(REPO, "packages", "client", "client.ts"))).toEqual([...RUNTIME_EXPORTS].sort());
});

test("a generated index.ts exports createClient, the runtime's names it passes on and its own types", () => {
  const files = clientModule({ models: [], views: [{ name: "top", columns: [{ name: "n", type: parseType("UInt64") }], params: [] }] });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const passedOn = RUNTIME_EXPORTS.filter((name) => !NOT_PASSED_ON.includes(name));
  expect(exportsOf(join(dir, "index.ts"))).toEqual([...passedOn, ...OWN_EXPORTS].sort());
});

test("the client has the shape CONTRACT.md documents", async () => {
  const client = createIglooClient<{ Event: { id: string } }, { top: { params: object; row: { n: string } } }>({ url: "http://127.0.0.1:9" }, { models: ["Event"], views: ["top"] });
  expect(typeof client.ingest.Event).toBe("function");
  expect(typeof client.ingest.Event.send).toBe("function");
  expect(typeof client.flush).toBe("function");
  expect(typeof client.views.top).toBe("function");
  expect(typeof client.views.top.subscribe).toBe("function");
  expect(typeof client.close).toBe("function");
  await client.close();
});
