/**
 * How far the table writers have got: waits until each topic's writer group has committed
 * past the given offsets, which means those records are in their tables. Shutdown (drain)
 * and read-your-writes (ingest tokens) both wait on this.
 */
import type { Stream } from "../stream/stream.ts";
import { writerGroup } from "./tableWriter.ts";

export interface WriterGoal {
  readonly topic: string;
  /** Partition -> offset the writer must have committed (exclusive end). */
  readonly ends: ReadonlyMap<number, number>;
}

/** Resolves true once every goal is reached, false after `timeoutMs`. */
export async function waitForWriters(stream: Stream, goals: readonly WriterGoal[], timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let behind = false;
    for (const { topic, ends } of goals) {
      const committed = await stream.committed(topic, writerGroup(topic));
      for (const [partition, end] of ends) {
        if ((committed.get(partition)?.offset ?? 0) < end) behind = true;
      }
    }
    if (!behind) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(pollMs);
  }
}
