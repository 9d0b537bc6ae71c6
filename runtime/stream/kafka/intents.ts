/**
 * Intents live in the group's committed offset metadata: the free-form string Kafka
 * stores beside each committed offset (OffsetCommit's `committed_metadata`, which Redpanda
 * implements too; no transactions needed).
 *
 * Saving an intent for the batch [first, next) commits offset `first`, where the group
 * resumes anyway, with metadata {"i": intent, "e": next}. Committing the batch afterwards
 * writes `next` with no metadata, which clears the intent. Offset and intent therefore
 * change in one write, and the partition's next owner reads both with one OffsetFetch.
 */
import type { Admin } from "kafkajs";

export interface CommittedIntent {
  readonly intent: string;
  /** Offset after the batch the intent covers; the batch starts at the committed offset. */
  readonly end: number;
}

export interface CommittedPosition {
  /** Undefined when the group never committed for this partition. */
  readonly offset: number | undefined;
  readonly intent: CommittedIntent | undefined;
}

/** Kafka's default `offset.metadata.max.bytes`; a longer commit is refused by the broker. */
const MAX_METADATA_BYTES = 4096;

export function encodeIntent(intent: string, end: number): string {
  const metadata = JSON.stringify({ i: intent, e: end });
  if (Buffer.byteLength(metadata, "utf8") > MAX_METADATA_BYTES) {
    throw new RangeError(
      `An intent of ${Buffer.byteLength(intent, "utf8")} bytes does not fit in Kafka's offset metadata (${MAX_METADATA_BYTES} bytes by default, offset.metadata.max.bytes); save a shorter token.`,
    );
  }
  return metadata;
}

/** The intent in `metadata`, or undefined for none, or for metadata some other tool wrote. */
export function decodeIntent(metadata: string | null | undefined, offset: number): CommittedIntent | undefined {
  if (!metadata?.startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(metadata) as { i?: unknown; e?: unknown };
    const { i, e } = parsed;
    if (typeof i === "string" && typeof e === "number" && Number.isSafeInteger(e) && e > offset) return { intent: i, end: e };
  } catch {
    // Not ours: Kafka lets any client commit any metadata.
  }
  return undefined;
}

/** The committed offset and intent of every partition of `topic` for `group`. */
export async function readCommitted(admin: Admin, topic: string, group: string): Promise<Map<number, CommittedPosition>> {
  const [answer] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const positions = new Map<number, CommittedPosition>();
  for (const { partition, offset, metadata } of answer?.partitions ?? []) {
    const committed = Number(offset);
    positions.set(
      partition,
      committed < 0 ? { offset: undefined, intent: undefined } : { offset: committed, intent: decodeIntent(metadata, committed) },
    );
  }
  return positions;
}
