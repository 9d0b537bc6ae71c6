/**
 * One embedded chDB store for the whole test process: libchdb binds a single data
 * directory per process, so every in-process test shares this one (each test uses
 * tables of its own). It is closed when the process exits.
 */
import { DEFAULT_LIMITS } from "../../runtime/limits.ts";
import { ChdbStore } from "../../runtime/store/chdb/chdbStore.ts";
import { processChdbPath } from "../../runtime/store/chdb/processPath.ts";

let shared: Promise<ChdbStore> | undefined;

export function sharedChdbStore(): Promise<ChdbStore> {
  shared ??= ChdbStore.open({ path: processChdbPath(), limits: DEFAULT_LIMITS.query });
  return shared;
}
