import { afterAll } from "bun:test";
import { join } from "node:path";
import { ChdbStore } from "../runtime/store/chdb/chdbStore.ts";
import { storeConformance } from "./conformance/store.ts";
import { removeDir, tempDir } from "./helpers/igloo.ts";

// One data directory for the whole file: libchdb binds one path per process.
const dir = tempDir("store-chdb");
afterAll(() => removeDir(dir));

storeConformance("chDB (embedded)", async () => {
  const store = await ChdbStore.open({ path: join(dir, "chdb") });
  return { store, cleanup: () => store.close() };
});
