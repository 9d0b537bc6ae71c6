/**
 * The streamed JSONCompact reader (runtime/store/compactJson.ts), on generated answers:
 * random values of every JSON shape, cut into chunks at random places, one document or a
 * document per block (as chDB streams), and failures where the engine reports them.
 * Seeded: a failure prints its seed, and the same seed replays it.
 */
import { describe, expect, test } from "bun:test";
import { AnswerError, readCompactJson, splitArray } from "../runtime/store/compactJson.ts";
import { random } from "./helpers/random.ts";

const TRICKY = ['"', "\\", "[", "]", "{", "}", ",", "\n", "\t", "é", "💥", " ", ":", "\u0000", "'"];

function value(rand: () => number, depth = 0): unknown {
  const pick = Math.floor(rand() * (depth > 2 ? 5 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.round((rand() - 0.5) * 1e6) / 100;
    case 3:
      return String(Math.floor(rand() * 1e18));
    case 4:
      return Array.from({ length: Math.floor(rand() * 6) }, () => TRICKY[Math.floor(rand() * TRICKY.length)]).join("");
    case 5:
      return Array.from({ length: Math.floor(rand() * 4) }, () => value(rand, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, (_, i) => [`k${i}${TRICKY[Math.floor(rand() * TRICKY.length)]}`, value(rand, depth + 1)]));
  }
}

/** A document as ClickHouse prints JSONCompact. */
function document(columns: { name: string; type: string }[], rows: unknown[][]): string {
  const meta = columns.map((c) => `\t\t{\n\t\t\t"name": ${JSON.stringify(c.name)},\n\t\t\t"type": ${JSON.stringify(c.type)}\n\t\t}`).join(",\n");
  const data = rows.map((r) => `\t\t[${r.map((v) => JSON.stringify(v)).join(", ")}]`).join(",\n");
  return `{\n\t"meta":\n\t[\n${meta}\n\t],\n\n\t"data":\n\t[\n${data}\n\t],\n\n\t"rows": ${rows.length},\n\n\t"statistics":\n\t{\n\t\t"elapsed": 0.001\n\t}\n}\n`;
}

function chunked(text: string, rand: () => number): string[] {
  const chunks: string[] = [];
  for (let at = 0; at < text.length; ) {
    const size = 1 + Math.floor(rand() * 40);
    chunks.push(text.slice(at, at + size));
    at += size;
  }
  return chunks;
}

async function* from(chunks: readonly string[]): AsyncGenerator<string> {
  for (const chunk of chunks) yield chunk;
}

async function readAllRows(chunks: readonly string[]): Promise<{ columns: unknown; rows: unknown[] }> {
  const stream = await readCompactJson(from(chunks), { batchRows: 7 });
  const rows: unknown[] = [];
  for await (const batch of stream.batches) for (const row of batch) rows.push(JSON.parse(row));
  return { columns: stream.columns, rows };
}

describe("splitArray", () => {
  test("splits the values of generated arrays exactly", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = random(seed);
      const values = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => value(rand));
      const spaced = `[${values.map((v) => JSON.stringify(v)).join(rand() < 0.5 ? ", " : ",")}]`;
      expect(splitArray(spaced).map((t) => JSON.parse(t)), `seed ${seed}`).toEqual(values);
    }
  });

  test("a row cut short is an error", () => {
    expect(() => splitArray('[1, "a')).toThrow(AnswerError);
  });
});

describe("readCompactJson", () => {
  test("rows come back equal, whatever the chunking, in one document or one per block", async () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rand = random(seed);
      const columns = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => ({ name: `c${i}${TRICKY[i % TRICKY.length]}`, type: "String" }));
      const blocks = Array.from({ length: 1 + Math.floor(rand() * 4) }, () =>
        Array.from({ length: Math.floor(rand() * 12) }, () => columns.map(() => value(rand))),
      );
      const expected = blocks.flat().map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i]])));
      const one = await readAllRows(chunked(document(columns, blocks.flat()), rand));
      expect(one.rows, `seed ${seed}`).toEqual(expected);
      expect(one.columns).toEqual(columns);
      const perBlock = await readAllRows(chunked(blocks.map((rows) => document(columns, rows)).join(""), rand));
      expect(perBlock.rows, `seed ${seed}, a document per block`).toEqual(expected);
    }
  });

  test("failures: before the data, after some rows (old and new servers), and an answer cut short", async () => {
    const columns = [{ name: "n", type: "UInt8" }];
    const full = document(columns, [[1], [2]]);
    await expect(readAllRows(["Code: 60, e.displayText() = DB::Exception: Table x doesn't exist"])).rejects.toThrow(/no data/);
    const oldServer = full.slice(0, full.indexOf("\t\t[2]")) + "Code: 241, e.displayText() = DB::Exception: Memory limit exceeded\n";
    await expect(readAllRows([oldServer])).rejects.toThrow(/Code: 241.*Memory limit/);
    const newServer = full.replace('\t"rows": 2,', '\t"exception": "Code: 159. DB::Exception: Timeout exceeded",');
    await expect(readAllRows([newServer])).rejects.toThrow(/Timeout exceeded/);
    await expect(readAllRows([full.slice(0, full.indexOf("\t\t[2]"))])).rejects.toThrow(/ended in the middle/);
  });

  test("closing early cancels, once, and frees once", async () => {
    let cancels = 0;
    let releases = 0;
    const text = document([{ name: "n", type: "UInt8" }], Array.from({ length: 50 }, (_, i) => [i]));
    const stream = await readCompactJson(from([text]), { batchRows: 10, cancel: () => cancels++, release: () => releases++ });
    for await (const _ of stream.batches) break;
    stream.close();
    expect(releases).toBe(1);
    expect(cancels).toBeGreaterThanOrEqual(1);
  });
});
