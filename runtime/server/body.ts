/**
 * An HTTP request's body, read at the edge: its format from the content type, its text
 * within the size and time limits. What the text holds is the domain's to say
 * (runtime/ingest/parseBody.ts for ingest, the query routes for theirs).
 */
import { BodyError, type BodyFormat } from "../ingest/parseBody.ts";
import { formatBytes } from "../limits.ts";

const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/json-seq"]);

/**
 * Only JSON and NDJSON media types, never the ones a browser may send cross-site without
 * asking first (text/plain, form encodings, multipart): a page on another site cannot
 * make a request with these without a CORS preflight, which the server refuses.
 */
export function bodyFormat(contentType: string | null): BodyFormat {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (NDJSON_TYPES.has(type)) return "ndjson";
  if (type === "application/json") return "json";
  throw new BodyError(
    "unsupported_media",
    `content-type \`${type || "(none)"}\` is not accepted; send application/json (an object or an array of objects) or application/x-ndjson (one object per line)`,
  );
}

/**
 * The body as text, refused when it passes `limit` bytes (at once when the client declares
 * its length, as it read when it is chunked), or when it has not all arrived within
 * `deadlineMs`, however slowly it trickles in: a client that sends a byte now and then
 * holds nothing for long. A declared length is read whole by Bun (a stream reader in JS
 * cost a third of the requests a second on small bodies); only chunked bodies are counted
 * as they arrive.
 */
export async function readBody(request: Request, limit: number, deadlineMs: number): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new BodyError("too_large", tooLargeMessage(limit));
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BodyError("timeout", `the request body did not arrive within ${deadlineMs / 1000} s (IGLOO_BODY_TIMEOUT_MS); send it faster, or in smaller requests`)),
      deadlineMs,
    );
  });
  try {
    // With a declared length (within the limit, which Bun holds the client to), Bun's own
    // text() is the fastest read; a chunked body is counted in bytes.
    if (declared !== null || request.body === null) return await Promise.race([request.text(), late]);
    return await Promise.race([readCounted(request.body, limit), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A chunked body, read until it ends or passes `limit` (then the read is cancelled). */
async function readCounted(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        void reader.cancel().catch(() => {});
        throw new BodyError("too_large", tooLargeMessage(limit));
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, size).toString("utf8");
}


function tooLargeMessage(limit: number): string {
  return `the request body is larger than the ${formatBytes(limit)} limit (IGLOO_MAX_BODY_BYTES); send smaller batches`;
}
