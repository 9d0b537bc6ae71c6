/**
 * Reads the engine's `JSONCompact` answer as it arrives, without holding it whole: the
 * column list first, then rows in batches, each row turned into the text of a JSON object
 * (`{"name":value,...}`) without parsing its values, so a large result costs a scan of
 * its bytes and no object tree.
 *
 * JSONCompact is the one format every ClickHouse since before 18.x prints the same way,
 * one value row per line:
 *
 *   {
 *   	"meta":
 *   	[ ...column objects over several lines... ],
 *
 *   	"data":
 *   	[
 *   		[1, "a"],
 *   		[2, "b"]
 *   	],
 *   	"rows": 2, ...
 *   }
 *
 * String values are JSON-escaped, so a raw newline always ends a line of the format. A
 * server that fails after it began answering appends its error text (old servers) or an
 * `"exception"` field (newer ones) instead of closing the data: both become errors here.
 * chDB's streams print one whole document per block: documents that follow one another
 * are read as one, their rows in order.
 */
import { IglooError } from "../../conventions/errors.ts";
import type { ResultColumn, RowStream } from "./store.ts";

/** Turns one value's JSON text into the JSON text to send; see jsonResult.ts. */
export type ValueRewrite = (valueText: string) => string;

/** An engine answer Igloo cannot read (cut short, not JSONCompact, an error inside it). */
export class AnswerError extends IglooError {
  constructor(message: string) {
    super("E_ANSWER", message, { kind: "internal" });
    this.name = "AnswerError";
  }
}

/** Lines of text from chunks that may split lines anywhere. */
async function* lines(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of chunks) {
    rest += chunk;
    let start = 0;
    for (let end = rest.indexOf("\n", start); end !== -1; end = rest.indexOf("\n", start)) {
      yield rest.slice(start, end);
      start = end + 1;
    }
    rest = rest.slice(start);
  }
  if (rest !== "") yield rest;
}

/**
 * Splits the text of a JSON array (`[v1, v2, ...]`) into its top-level values' texts:
 * a scan that tracks strings and nesting, no parse.
 */
export function splitArray(text: string): string[] {
  const values: string[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      if (depth === 1 && start === -1) start = i;
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92 /* \ */) i++;
      continue;
    }
    if (c === 91 /* [ */ || c === 123 /* { */) {
      depth++;
      if (depth === 1) continue;
      if (depth === 2 && start === -1) start = i;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      if (depth === 1) {
        if (start !== -1) values.push(text.slice(start, i).trimEnd());
        return values;
      }
      depth--;
    } else if (c === 44 /* , */ && depth === 1) {
      if (start !== -1) values.push(text.slice(start, i).trimEnd());
      start = -1;
    } else if (depth === 1 && start === -1 && c !== 32 && c !== 9) {
      start = i;
    }
  }
  throw new AnswerError("a row of the answer is cut short");
}

export interface CompactReadOptions {
  /** Rewrites for the values of some columns, by column name (servers that lack output settings). */
  readonly rewrites?: (columns: readonly ResultColumn[]) => ReadonlyMap<string, ValueRewrite>;
  /** Rows per batch handed on. */
  readonly batchRows?: number;
  /** Runs once when the answer ends, fails or is closed: frees what the query held. */
  readonly release?: () => void;
  /** Stops the query early (the consumer stopped reading). */
  readonly cancel?: () => void;
}

const DATA_LINE = /^\s*"data":\s*$/;
const END_OF_DATA = /^\s*\],?\s*$/;

/**
 * Reads up to the start of the data (so the columns are known and an early failure is
 * thrown here) and returns the rest as a RowStream.
 */
export async function readCompactJson(chunks: AsyncIterable<string>, options: CompactReadOptions = {}): Promise<RowStream> {
  const source = lines(chunks);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    options.release?.();
  };
  const next = async (): Promise<string | undefined> => {
    const step = await source.next();
    return step.done ? undefined : step.value;
  };
  try {
    const head: string[] = [];
    for (let line = await next(); ; line = await next()) {
      if (line === undefined) throw new AnswerError(`the engine's answer has no data: ${head.join("\n").slice(0, 500)}`);
      if (DATA_LINE.test(line)) break;
      head.push(line);
    }
    let columns: ResultColumn[];
    try {
      const text = head.join("\n").trimEnd().replace(/,$/, "");
      columns = ((JSON.parse(`${text}}`) as { meta?: ResultColumn[] }).meta ?? []).map((c) => ({ name: c.name, type: c.type }));
    } catch {
      throw new AnswerError(`the engine's answer is not JSONCompact: ${head.join("\n").slice(0, 500)}`);
    }
    const opening = await next();
    if (opening === undefined || opening.trim() !== "[") throw new AnswerError(`the engine's answer is cut short after its columns`);
    const names = columns.map((c) => `${JSON.stringify(c.name)}:`);
    const rewrites = options.rewrites?.(columns) ?? new Map<string, ValueRewrite>();
    const byIndex = columns.map((c) => rewrites.get(c.name));
    const batchRows = options.batchRows ?? 1000;
    const toObject = (line: string): string => {
      const values = splitArray(line);
      if (values.length !== names.length) throw new AnswerError(`a row has ${values.length} values for ${names.length} columns`);
      let text = "{";
      for (let i = 0; i < values.length; i++) {
        const rewrite = byIndex[i];
        text += (i === 0 ? "" : ",") + names[i] + (rewrite ? rewrite(values[i]!) : values[i]);
      }
      return text + "}";
    };
    /** After the rows: the end, the next document's rows (true), or a failure. */
    const afterRows = async (): Promise<boolean> => {
      for (let line = await next(); line !== undefined; line = await next()) {
        // Counts and statistics, or a failure the engine met after the last row (newer
        // servers name it `exception`, old ones print it bare).
        const failure = /^\s*"exception":\s*(".*")\s*,?\s*$/.exec(line);
        if (failure) throw new AnswerError(JSON.parse(failure[1]!) as string);
        if (/^\s*Code: \d+/.test(line)) throw new AnswerError(line.trim());
        if (line !== "{") continue;
        // The next document: its columns again, then its rows.
        for (line = await next(); line !== undefined && !DATA_LINE.test(line); line = await next());
        if ((await next())?.trim() !== "[") throw new AnswerError("the engine's answer is cut short after its columns");
        return true;
      }
      return false;
    };
    async function* batches(): AsyncGenerator<string[]> {
      let finished = false;
      try {
        let batch: string[] = [];
        for (let line = await next(); ; line = await next()) {
          if (line === undefined) throw new AnswerError("the engine's answer ended in the middle of the rows");
          const trimmed = line.trim();
          if (trimmed === "") continue;
          if (END_OF_DATA.test(line)) {
            if (await afterRows()) continue;
            break;
          }
          if (!trimmed.startsWith("[")) throw new AnswerError(engineFailure(trimmed));
          batch.push(toObject(trimmed));
          if (batch.length >= batchRows) {
            yield batch;
            batch = [];
          }
        }
        finished = true;
        if (batch.length > 0) yield batch;
      } finally {
        if (!finished) options.cancel?.();
        release();
      }
    }
    return {
      columns,
      batches: batches(),
      close: () => {
        options.cancel?.();
        release();
      },
    };
  } catch (error) {
    options.cancel?.();
    release();
    throw error;
  }
}

/** Old servers write their error as plain text where the next row would be. */
function engineFailure(text: string): string {
  return /^Code: \d+/.test(text) ? text : `the engine's answer broke off: ${text.slice(0, 300)}`;
}
