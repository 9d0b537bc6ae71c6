import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDirectory, replaceFileDurably } from "./files.ts";

/**
 * Committed offsets and intents of consumer groups: one small JSON file per (group, topic)
 * at `<dir>/groups/<group>/<topic>.json`, replaced atomically (temp file, fsync, rename,
 * fsync directory). A commit is rare next to appends (one per handled batch), so a file
 * per pair is simpler than a log of commits and is read back in one go on open.
 */

/** A batch whose handling began: its records are [offset, end). */
export interface StoredIntent {
  readonly offset: number;
  readonly end: number;
  readonly intent: string;
}

export interface GroupPosition {
  /** Where the group resumes: offset after the last handled record. */
  readonly offset: number;
  readonly intent: StoredIntent | undefined;
}

export class OffsetStore {
  /** topic -> group -> position */
  readonly #positions = new Map<string, Map<string, GroupPosition>>();
  /** Writes per file run one after another so renames land in call order. */
  readonly #writes = new Map<string, Promise<void>>();
  readonly #groupDirectories = new Set<string>();

  readonly #directory: string;

  private constructor(directory: string) {
    this.#directory = directory;
  }

  static async open(directory: string): Promise<OffsetStore> {
    await mkdir(directory, { recursive: true });
    const store = new OffsetStore(directory);
    for (const group of await readdir(directory)) {
      const groupDirectory = join(directory, group);
      store.#groupDirectories.add(group);
      for (const file of await readdir(groupDirectory)) {
        if (file.endsWith(".tmp")) {
          await unlink(join(groupDirectory, file)); // a commit interrupted before its rename
          continue;
        }
        if (!file.endsWith(".json")) continue;
        const path = join(groupDirectory, file);
        store.#remember(file.slice(0, -".json".length), group, parsePosition(await readFile(path, "utf8"), path));
      }
    }
    return store;
  }

  get(topic: string, group: string): GroupPosition | undefined {
    return this.#positions.get(topic)?.get(group);
  }

  /** Positions of the groups that committed (or saved an intent) on this topic. */
  groups(topic: string): Iterable<GroupPosition> {
    return this.#positions.get(topic)?.values() ?? [];
  }

  /** Durably moves the group to `offset` and clears its intent. */
  commit(topic: string, group: string, offset: number): Promise<void> {
    return this.#store(topic, group, { offset, intent: undefined });
  }

  /** Durably records the batch being handled; the committed offset stays. */
  saveIntent(topic: string, group: string, intent: StoredIntent): Promise<void> {
    const offset = this.get(topic, group)?.offset ?? intent.offset;
    return this.#store(topic, group, { offset, intent });
  }

  #store(topic: string, group: string, position: GroupPosition): Promise<void> {
    const key = `${group}/${topic}`;
    const write = (this.#writes.get(key) ?? Promise.resolve())
      .catch(() => undefined) // the previous write's caller got its error
      .then(async () => {
        const groupDirectory = join(this.#directory, group);
        if (!this.#groupDirectories.has(group)) {
          await mkdir(groupDirectory, { recursive: true });
          await fsyncDirectory(this.#directory);
          this.#groupDirectories.add(group);
        }
        const content = JSON.stringify({ offset: position.offset, intent: position.intent ?? null });
        await replaceFileDurably(join(groupDirectory, `${topic}.json`), groupDirectory, content);
        this.#remember(topic, group, position);
      });
    this.#writes.set(key, write);
    return write;
  }

  #remember(topic: string, group: string, position: GroupPosition): void {
    let groups = this.#positions.get(topic);
    if (!groups) {
      groups = new Map();
      this.#positions.set(topic, groups);
    }
    groups.set(group, position);
  }
}

function parsePosition(text: string, path: string): GroupPosition {
  const invalid = (cause?: unknown) =>
    new Error(`The consumer offset file ${path} is not valid; delete it to restart that group from the beginning.`, { cause });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw invalid(cause);
  }
  if (typeof data !== "object" || data === null || !("offset" in data) || !isOffset(data.offset)) throw invalid();
  if (!("intent" in data) || data.intent === null) return { offset: data.offset, intent: undefined };
  const intent = data.intent;
  if (
    typeof intent !== "object" ||
    !("offset" in intent) ||
    !("end" in intent) ||
    !("intent" in intent) ||
    !isOffset(intent.offset) ||
    !isOffset(intent.end) ||
    typeof intent.intent !== "string" ||
    intent.end <= intent.offset
  ) {
    throw invalid();
  }
  return { offset: data.offset, intent: { offset: intent.offset, end: intent.end, intent: intent.intent } };
}

function isOffset(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
