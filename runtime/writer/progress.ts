/**
 * How far consumer groups have got: waits until each group has committed past the given
 * offsets of its topic. For the table writers' groups that means those records are in
 * their tables: shutdown (drain) and read-your-writes (ingest tokens) wait on this, and a
 * test pipeline's settle() on the function groups too.
 */
import type { Stream } from "../stream/stream.ts";
import { writerGroup } from "./tableWriter.ts";

export interface WriterGoal {
  readonly topic: string;
  /** Partition -> offset the writer must have committed (exclusive end). */
  readonly ends: ReadonlyMap<number, number>;
}

export interface GroupGoal extends WriterGoal {
  readonly group: string;
  /** Who the group is, for saying which one is behind, e.g. `the table writer of T`. */
  readonly what: string;
}

/**
 * Resolves undefined once every goal is reached, or, after `timeoutMs`, with the first
 * group still behind, e.g. `function group g is at 3 of 5 in T`.
 */
export async function waitForGroups(stream: Stream, goals: readonly GroupGoal[], timeoutMs: number, pollMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let behind: string | undefined;
    for (const { topic, group, ends, what } of goals) {
      const committed = await stream.committed(topic, group);
      for (const [partition, end] of ends) {
        const at = committed.get(partition)?.offset ?? 0;
        if (at < end) behind ??= `${what} is at ${at} of ${end} in ${topic}`;
      }
    }
    if (behind === undefined || Date.now() >= deadline) return behind;
    await Bun.sleep(pollMs);
  }
}

/** Resolves true once every table writer reached its goal, false after `timeoutMs`. */
export async function waitForWriters(stream: Stream, goals: readonly WriterGoal[], timeoutMs: number, pollMs: number): Promise<boolean> {
  const groups = goals.map((goal) => ({ ...goal, group: writerGroup(goal.topic), what: `the table writer of ${goal.topic}` }));
  return (await waitForGroups(stream, groups, timeoutMs, pollMs)) === undefined;
}
