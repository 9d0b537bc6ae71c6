/**
 * The composition root's choice of engines. Only this file names adapters; the runtime
 * works against the Stream and Store seams.
 */
import { join } from "node:path";
import { ChdbStore } from "../runtime/store/chdb/chdbStore.ts";
import type { Store } from "../runtime/store/store.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import type { Stream } from "../runtime/stream/stream.ts";

export interface Engines {
  readonly stream: Stream;
  readonly store: Store;
}

/** `igloo dev`: everything in-process, all state under `<project>/.igloo/`. */
export async function openEmbeddedEngines(projectRoot: string): Promise<Engines> {
  const state = join(projectRoot, ".igloo");
  // The log first: its lock file tells a second `igloo dev` on this project to stop
  // before it touches chDB's directory, which only one process may open.
  const stream = await EmbeddedLog.open({ dir: join(state, "stream") });
  try {
    const store = await ChdbStore.open({ path: join(state, "chdb") });
    return { stream, store };
  } catch (error) {
    await stream.close();
    throw error;
  }
}
