/**
 * A read's rows as an HTTP answer, streamed: `{"meta":[...],"data":[...]}` (the query
 * API) or `{"data":[...]}` (views). Rows are written as the engine hands them over, so a
 * large result never sits whole in memory, and the client's pace holds the query back
 * (the stream is pulled, not pushed).
 *
 * The status must be sent before the body, and a read can still fail after its first
 * rows (a limit reached, the engine gone). So the first 64 KiB are held back: a read
 * that ends or fails within them gets an exact answer (200, or the error's status). Past
 * them the answer is a 200, and a failure then ends the document with an `error` field
 * after the rows sent: `{"data":[...],"error":"..."}`. Clients must treat a document with
 * `error` as failed (the generated client does).
 */
import type { RowStream } from "../store/store.ts";

const HOLD_BYTES = 64 * 1024;
const encoder = new TextEncoder();

export interface RowsAnswerOptions {
  /** Include the columns (`meta`). */
  readonly meta: boolean;
  readonly headers: Record<string, string>;
  /** What a client may be told about a failure after the first rows went out. */
  readonly describe: (error: unknown) => string;
}

/** The answer, or a throw (of what the read threw) when it failed within the held bytes. */
export async function rowsAnswer(stream: RowStream, options: RowsAnswerOptions): Promise<Response> {
  const iterator = stream.batches[Symbol.asyncIterator]();
  const head = options.meta ? `{"meta":${JSON.stringify(stream.columns)},"data":[` : `{"data":[`;
  const held: string[] = [];
  let heldBytes = 0;
  try {
    while (heldBytes < HOLD_BYTES) {
      const step = await iterator.next();
      if (step.done) return new Response(`${head}${held.join(",")}]}`, { status: 200, headers: options.headers });
      if (step.value.length === 0) continue;
      const text = step.value.join(",");
      held.push(text);
      heldBytes += text.length;
    }
  } catch (error) {
    stream.close();
    throw error;
  }
  let separator = held.length > 0 ? "," : "";
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(head + held.join(",")));
    },
    async pull(controller) {
      try {
        const step = await iterator.next();
        if (step.done) {
          controller.enqueue(encoder.encode("]}"));
          controller.close();
          return;
        }
        if (step.value.length === 0) return;
        controller.enqueue(encoder.encode(separator + step.value.join(",")));
        separator = ",";
      } catch (error) {
        controller.enqueue(encoder.encode(`],"error":${JSON.stringify(options.describe(error))}}`));
        controller.close();
      }
    },
    cancel() {
      // The client went away: the read stops in the engine.
      stream.close();
    },
  });
  return new Response(body, { status: 200, headers: options.headers });
}
