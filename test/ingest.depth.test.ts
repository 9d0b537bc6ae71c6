/**
 * A rejected record that holds a Json value as deep as the validator takes is rejected on
 * its own, naming its field: it does not make the whole request a 400 (found by the
 * generative round trip: the body's nesting limit was the Json limit, one level short).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { MAX_JSON_DEPTH } from "../conventions/datamodels/json-value.ts";
import { parseModels } from "../conventions/prisma/parse.ts";
import { compileValidator } from "../conventions/datamodels/validator.ts";
import { ingest, rowShape } from "../runtime/ingest/ingest.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";

const dir = tempDir("depth");
const log = await EmbeddedLog.open({ dir: join(dir, "stream") });
afterAll(async () => {
  await log.close();
  removeDir(dir);
});

const nest = (levels: number): unknown => (levels === 0 ? 1 : { a: nest(levels - 1) });

test("a valid 64-deep Json value in a rejected record, alone or in a list, costs that record only", async () => {
  const { models, errors } = parseModels([{ path: "datamodels/J.prisma", text: "model J {\n  k String @id\n  j Json\n  js Json[]\n  n Int\n}" }]);
  expect(errors).toEqual([]);
  const model = models.models[0]!;
  await log.ensureTopic("J");
  await log.ensureTopic("igloo_dead_letters");
  const target = { model, topic: "J", validate: compileValidator(model), ...rowShape(model) };
  const deep = nest(MAX_JSON_DEPTH);
  const verdict = await ingest(log, target, [
    { k: "b", j: deep, js: [deep], n: "x" },
    { k: "c", j: deep, js: [deep], n: 2 },
  ]);
  expect({ accepted: verdict.accepted, rejected: verdict.rejected, errors: verdict.errors }).toEqual({
    accepted: 1,
    rejected: 1,
    errors: [{ index: 0, message: expect.stringMatching(/^field `n`: /) }],
  });
});
