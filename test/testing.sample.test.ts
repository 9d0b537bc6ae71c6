/**
 * igloo/testing's sample(): records generated from generated models (every type of the
 * README's table, seeded: IGLOO_SEED reproduces a run) are accepted by a real test
 * pipeline and stored without a dead letter, the same seed gives the same records, and
 * every sample.invalid record is refused by ingest with the reason it came with.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestPipeline } from "../src/testing/testPipeline.ts";
import { sample } from "../src/testing/sample.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { ALL_TYPES, coverageKeys, generateModel } from "./helpers/genModel.ts";
import { Rng } from "./helpers/genRandom.ts";

const SEED = Number(process.env.IGLOO_SEED ?? 20261130);
const MODELS = 8;
const root = join(tempDir("testing-sample"), "project");
afterAll(() => removeDir(join(root, "..")));

test(`samples of ${MODELS} generated models are accepted and stored, reproducibly; invalid ones are refused with their reason (IGLOO_SEED=${SEED})`, async () => {
  mkdirSync(join(root, "datamodels"), { recursive: true });
  const keys = coverageKeys(ALL_TYPES);
  const names: string[] = [];
  for (let i = 0; i < MODELS; i++) {
    const include = keys.filter((_, k) => k % MODELS === i);
    const model = generateModel(Rng.derive(SEED, "sample-model", i), { prefix: `Q${i}`, caps: ALL_TYPES, include, maxFields: 8 });
    writeFileSync(join(root, "datamodels", `${model.name}.prisma`), `${model.prisma}\n${model.enumsPrisma}\n`);
    names.push(model.name);
  }
  const pipeline = await createTestPipeline({ root, functions: false });
  try {
    for (const name of names) {
      const records = sample(name, { count: 80, seed: SEED, root });
      expect(sample(name, { count: 80, seed: SEED, root })).toEqual(records);
      const verdict = await pipeline.ingest(name, records);
      expect({ name, rejected: verdict.rejected, errors: verdict.errors.slice(0, 3) }).toEqual({ name, rejected: 0, errors: [] });
      const spoiled = sample.invalid(name, { count: 30, seed: SEED, root });
      const refused = await pipeline.ingest(name, spoiled.map((s) => s.record));
      expect({ name, accepted: refused.accepted }).toEqual({ name, accepted: 0 });
      expect(refused.errors).toEqual(spoiled.map((s, index) => ({ index, message: s.reason })));
    }
    await pipeline.settle();
    // Accepted means stored: no writer refused a sampled row (those would be dead letters of stage "writer").
    expect((await pipeline.deadLetters()).filter((d) => d.stage !== "ingest")).toEqual([]);
  } finally {
    await pipeline.close();
  }
});
