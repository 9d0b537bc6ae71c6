/**
 * Read-your-writes tokens, minted and read here. An ingest answer carries a token (ingest.ts):
 * where the append put the records in the model's topic (per partition, the offset after
 * the last one). A read given tokens (`x-igloo-after`, the server's concern) waits until
 * the table writers have committed past them, so the records are queryable, and gives up
 * with a clear error after a while. A token is opaque to clients: base64url JSON of
 * `{ t: topic, o: { partition: offset } }`.
 */
import { IglooError } from "../../conventions/errors.ts";
import type { AppendResult, Stream } from "../stream/stream.ts";
import { waitForWriters } from "../writer/progress.ts";

interface Mark {
  readonly t: string;
  readonly o: Record<string, number>;
}

export function tokenFor(topic: string, appended: AppendResult): string {
  const mark: Mark = { t: topic, o: Object.fromEntries(appended) };
  return Buffer.from(JSON.stringify(mark)).toString("base64url");
}

export class TokenError extends IglooError {
  constructor(message: string) {
    super("E_TOKEN", `x-igloo-after: ${message}`, { kind: "bad_input" });
    this.name = "TokenError";
  }
}

/** Tokens one request may wait for: a page of a client's ingests, not a way to make us poll. */
const MAX_TOKENS = 64;

function isOffset(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseTokens(header: string, knownTopic: (topic: string) => boolean): Mark[] {
  const tokens = header
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (tokens.length > MAX_TOKENS) throw new TokenError(`${tokens.length} tokens; at most ${MAX_TOKENS} per request`);
  return tokens.map((token) => {
    let mark: Mark;
    try {
      mark = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Mark;
    } catch {
      throw new TokenError(`\`${token.slice(0, 40)}\` is not a token from an ingest answer`);
    }
    const partitions = typeof mark?.o === "object" && mark.o !== null ? Object.entries(mark.o) : undefined;
    if (typeof mark?.t !== "string" || partitions === undefined || !partitions.every(([p, o]) => /^\d{1,6}$/.test(p) && isOffset(o))) {
      throw new TokenError(`\`${token.slice(0, 40)}\` is not a token from an ingest answer`);
    }
    if (!knownTopic(mark.t)) throw new TokenError(`the token names \`${mark.t.slice(0, 80)}\`, which is not a model of this project`);
    return mark;
  });
}

/**
 * Resolves true once every token's records are in their tables, false after `waitMs`.
 * Throws TokenError for a header that is not tokens of this project's models.
 */
export async function waitForTokens(stream: Stream, header: string, waitMs: number, knownTopic: (topic: string) => boolean): Promise<boolean> {
  const goals = parseTokens(header, knownTopic).map((mark) => ({ topic: mark.t, ends: new Map(Object.entries(mark.o).map(([p, o]) => [Number(p), o])) }));
  return await waitForWriters(stream, goals, waitMs, 10);
}
