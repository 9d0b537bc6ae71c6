import { IglooError } from "../../../conventions/errors.ts";
import { messageOf } from "../checks.ts";
import { StreamUnavailableError } from "../stream.ts";

/**
 * kafkajs wraps the broker's error (which carries `type`, e.g. "REBALANCE_IN_PROGRESS")
 * in retry errors, sometimes several deep; the type is what decides what to do.
 */
export function kafkaErrorType(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === "string") return type;
  }
  return undefined;
}

const GROUP_MOVED = new Set(["REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "NOT_COORDINATOR_FOR_GROUP", "FENCED_INSTANCE_ID"]);

/** The group changed under a commit: it is retried once the member has rejoined, not reported. */
export function isGroupMovedError(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type !== undefined && GROUP_MOVED.has(type);
}

/**
 * What a caller of the stream sees for a failed Kafka call: an unknown topic is a
 * programming error (topics are created by `ensureTopic`), anything else means Kafka
 * cannot serve us right now.
 */
export function streamError(what: string, topic: string, error: unknown): Error {
  if (error instanceof IglooError || error instanceof StreamUnavailableError) return error;
  const type = kafkaErrorType(error);
  if (type === "UNKNOWN_TOPIC_OR_PARTITION") {
    return new IglooError("E_STREAM_UNKNOWN_TOPIC", `Topic "${topic}" does not exist in Kafka.`, {
      hint: "Create it with ensureTopic first.",
      cause: error,
    });
  }
  // Retrying cannot help a record the broker will never take.
  if (type === "MESSAGE_TOO_LARGE") {
    return new IglooError("E_STREAM_RECORD_TOO_LARGE", `A record for topic "${topic}" is larger than Kafka accepts.`, {
      hint: "Kafka's limit is the topic's max.message.bytes (1 MiB by default); send smaller records or raise it.",
      cause: error,
    });
  }
  return new StreamUnavailableError(`Kafka could not ${what}: ${messageOf(error)}`, { cause: error });
}

/** The subscription lost this partition to another member: its batch in hand is not committed. */
export class PartitionRevokedError extends Error {
  constructor(topic: string, partition: number) {
    super(`partition ${partition} of "${topic}" now belongs to another member of the group`);
    this.name = "PartitionRevokedError";
  }
}
