/**
 * Read-your-writes. An ingest answer carries a token: the end of the model's topic just
 * after the records were appended. A query given tokens waits until the table writers
 * have committed past them, so the records are queryable, and gives up with a clear
 * error after a while. A token is opaque to clients: base64url JSON of
 * `{ t: topic, o: { partition: offset } }`.
 */
import type { Stream } from "../stream/stream.ts";
import { waitForWriters } from "../writer/progress.ts";

interface Mark {
  readonly t: string;
  readonly o: Record<string, number>;
}

export async function tokenAfterAppend(stream: Stream, topic: string): Promise<string> {
  const ends = await stream.endOffsets(topic);
  const mark: Mark = { t: topic, o: Object.fromEntries(ends) };
  return Buffer.from(JSON.stringify(mark)).toString("base64url");
}

export class TokenError extends Error {}

function parseTokens(header: string): Mark[] {
  return header
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((token) => {
      try {
        const mark = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Mark;
        if (typeof mark.t !== "string" || typeof mark.o !== "object" || mark.o === null) throw new Error("shape");
        return mark;
      } catch {
        throw new TokenError(`\`${token.slice(0, 40)}\` is not a token from an ingest answer`);
      }
    });
}

/** Resolves true once every token's records are in their tables, false after `waitMs`. */
export async function waitForTokens(stream: Stream, header: string, waitMs: number): Promise<boolean> {
  const goals = parseTokens(header).map((mark) => ({ topic: mark.t, ends: new Map(Object.entries(mark.o).map(([p, o]) => [Number(p), o])) }));
  return await waitForWriters(stream, goals, waitMs, 10);
}
