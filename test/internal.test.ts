/**
 * `@@internal` models: only the project's functions write them. No ingest endpoint (a 404
 * that says why), no `client.ingest` method, no ingest path in /openapi.json; a function
 * writes them as any model, and queries read them.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadProject } from "../conventions/project.ts";
import { parseModels } from "../conventions/prisma/parse.ts";
import { clientModule } from "../src/generate/client.ts";
import { openApiDocument } from "../src/generate/openapi.ts";
import { writeProjectLib } from "../src/generate/projectLib.ts";
import { createTestPipeline } from "../src/testing/testPipeline.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";

const dir = join(tempDir("internal"), "project");
afterAll(() => removeDir(join(dir, "..")));

test("@@internal takes no arguments, and is a model attribute like the others", () => {
  const ok = parseModels([{ path: "datamodels/A.prisma", text: "model A {\n  id String\n  @@internal\n}\n" }]);
  expect(ok.errors).toEqual([]);
  expect(ok.models.models[0]!.internal).toBe(true);
  const bad = parseModels([{ path: "datamodels/B.prisma", text: "model B {\n  id String\n  @@internal(true)\n}\n" }]);
  expect(bad.errors.map((e) => e.message)).toEqual([expect.stringContaining("`@@internal` takes no arguments")]);
  const unknown = parseModels([{ path: "datamodels/C.prisma", text: "model C {\n  id String\n  @@private\n}\n" }]);
  expect(unknown.errors[0]!.message).toContain("@@streamOnly and @@internal");
});

test("an internal model has no ingest endpoint, client method or OpenAPI path; its function writes it", async () => {
  mkdirSync(join(dir, "datamodels"), { recursive: true });
  mkdirSync(join(dir, "functions"), { recursive: true });
  writeFileSync(join(dir, "datamodels", "Raw.prisma"), "model Raw {\n  id String\n  text String\n  @@streamOnly\n}\n");
  writeFileSync(join(dir, "datamodels", "Clean.prisma"), "model Clean {\n  id String\n  text String\n  @@orderBy([id])\n  @@internal\n}\n");
  writeFileSync(
    join(dir, "functions", "clean.ts"),
    'import { defineFunction } from "igloo";\nexport default defineFunction({ from: "Raw", to: "Clean", run: (raw) => ({ id: raw.id, text: raw.text.trim() }) });\n',
  );
  const models = loadProject(dir).models.models;
  writeProjectLib(dir, models);
  const pipeline = await createTestPipeline({ root: dir });
  try {
    await expect(pipeline.ingest("Clean", [{ id: "x", text: "no" }])).rejects.toThrow(/404: model `Clean` is internal \(@@internal\): only the project's functions write it/);
    expect((await pipeline.ingest("Raw", [{ id: "a", text: "  hello " }])).accepted).toBe(1);
    expect(await pipeline.query("SELECT id, text FROM Clean")).toEqual([{ id: "a", text: "hello" }]);
    // Unknown models are listed without it.
    await expect(pipeline.ingest("Nope", [])).rejects.toThrow(/this project has `Raw`$/);
  } finally {
    await pipeline.close();
  }
  const index = clientModule({ models, views: [] })["index.ts"]!;
  expect(index).toContain("export type IglooModels = {\n  Raw: RawInput;\n};");
  expect(index).toContain("export interface Clean");
  const document = openApiDocument({ models, views: [], version: "test" }) as { paths: Record<string, unknown> };
  expect(Object.keys(document.paths)).toContain("/ingest/Raw");
  expect(Object.keys(document.paths)).not.toContain("/ingest/Clean");
});
