/**
 * The client's batching as pure functions: packing queued calls into requests
 * (packing.ts), splitting a server's answer back into each call's verdict (verdicts.ts)
 * and handing it to the callers (settle.ts). Tables of cases, then seeded generative
 * ones: random queues of records of random sizes (ASCII and not) under random limits,
 * checked against invariants rather than against a second implementation.
 */
import { describe, expect, test } from "bun:test";
import { IglooError } from "../packages/client/errors.ts";
import type { IglooIngestVerdict } from "../packages/client/ingestTypes.ts";
import { One, pack, utf8Length, type Call, type Item, type PackLimits, type Packed } from "../packages/client/packing.ts";
import { rejectAll, settleStored, type Outcomes } from "../packages/client/settle.ts";
import { halved, readAnswer, rejectionsBySegment, severalCalls, smallerLimits } from "../packages/client/verdicts.ts";

/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (next: () => number, lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
/** Characters of 1, 2, 3 and 4 UTF-8 bytes (the last a surrogate pair in UTF-16). */
const ALPHABET = ["a", "z", "0", "é", "ß", "中", "€", "😀"];

let serial = 0;
/** A record's JSON: unique, so where it went can be told from the request bodies. */
function record(next: () => number, ascii: boolean): string {
  const length = between(next, 0, 40);
  let pad = "";
  for (let i = 0; i < length; i++) pad += ascii ? "x" : ALPHABET[between(next, 0, ALPHABET.length - 1)]!;
  return JSON.stringify({ id: serial++, pad });
}

function call(texts: string[], settled = false, resolve?: Call["resolve"], reject?: Call["reject"]): Call {
  return { texts, next: 0, unanswered: texts.length, accepted: 0, rejected: 0, errors: undefined, token: "", settled, resolve, reject };
}

const ignore = () => {};
const one = (text: string) => new One(text, ignore, ignore);
const textOf = (item: One | string) => (typeof item === "string" ? item : item.text);

function randomQueue(next: () => number): Item[] {
  const ascii = next() < 0.5;
  const queue: Item[] = [];
  const items = between(next, 0, 60);
  for (let i = 0; i < items; i++) {
    const kind = next();
    if (kind < 0.4) queue.push(record(next, ascii));
    else if (kind < 0.6) queue.push(one(record(next, ascii)));
    else queue.push(call(Array.from({ length: between(next, 1, 30) }, () => record(next, ascii)), next() < 0.1));
  }
  return queue;
}

function randomLimits(next: () => number): PackLimits {
  return { maxRecords: between(next, 1, 50), maxBytes: between(next, 2, 1500) };
}

/** What the batcher does with a packed request: the calls it took from go on from where it stopped. */
function apply(packed: Packed): void {
  packed.segments.forEach((segment, s) => {
    if (!Array.isArray(segment)) (segment as Call).next = packed.from[s]! + packed.counts[s]!;
  });
  for (const dropped of packed.dropped) dropped.next = dropped.texts.length;
}

/** Every record the queue still has to send, in order. */
function pending(queue: readonly Item[]): string[] {
  return queue.flatMap((item) => (typeof item === "string" ? [item] : item instanceof One ? [item.text] : item.settled ? [] : item.texts.slice(item.next)));
}

/** Packs the whole queue into requests, as the batcher would with every one stored. */
function packAll(queue: readonly Item[], limits: PackLimits): Packed[] {
  const requests: Packed[] = [];
  for (let head = 0; head < queue.length; ) {
    const packed = pack(queue, head, limits);
    apply(packed);
    head = packed.end;
    if (packed.records > 0) requests.push(packed);
  }
  return requests;
}

describe("utf8Length", () => {
  test("agrees with TextEncoder on ASCII, 2-, 3- and 4-byte characters", () => {
    const next = random(1);
    for (let k = 0; k < 500; k++) {
      const text = record(next, next() < 0.3);
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
    }
    expect(utf8Length("")).toBe(0);
    expect(utf8Length("中é")).toBe(5);
  });

  test("counts a surrogate pair as 4 bytes, as TextEncoder does", () => {
    expect(utf8Length("😀")).toBe(4);
  });
});

describe("pack", () => {
  test("one-record items and calls share a request in queue order; a call too large is cut and goes on next", () => {
    const big = call(["1", "2", "3", "4"]);
    const queue: Item[] = ["a", one("b"), big, "c"];
    const first = pack(queue, 0, { maxRecords: 4, maxBytes: 1000 });
    expect(first).toMatchObject({ body: "[a,b,1,2]", from: [0, 0], counts: [2, 2], records: 4, ones: 1, chars: 4, end: 2, cutShort: true, dropped: [] });
    expect(big.next).toBe(0); // pure: the batcher applies it
    apply(first);
    expect(pack(queue, first.end, { maxRecords: 4, maxBytes: 1000 })).toMatchObject({ body: "[3,4,c]", from: [2, 0], counts: [2, 1], end: 4, cutShort: false });
  });

  test("the byte limit counts brackets and commas; a record larger than it goes alone", () => {
    expect(pack(["aaa", "bbb"], 0, { maxRecords: 10, maxBytes: 9 })).toMatchObject({ body: "[aaa,bbb]", records: 2 });
    expect(pack(["aaa", "bbb"], 0, { maxRecords: 10, maxBytes: 8 })).toMatchObject({ body: "[aaa]", records: 1, end: 1 });
    expect(pack(["a".repeat(50), "b"], 0, { maxRecords: 10, maxBytes: 8 })).toMatchObject({ records: 1, end: 1 });
  });

  test("non-ASCII records are measured in UTF-8 bytes, not UTF-16 units", () => {
    // Each "中中" is 2 UTF-16 units and 6 UTF-8 bytes: by length both fit in 12, by bytes one does.
    expect(pack(["中中", "中中"], 0, { maxRecords: 10, maxBytes: 12 })).toMatchObject({ body: "[中中]", records: 1 });
    expect(pack(["中中", "中中"], 0, { maxRecords: 10, maxBytes: 15 })).toMatchObject({ body: "[中中,中中]", records: 2 });
  });

  test("failed calls on the way are passed and named, so their untaken records can be let go", () => {
    const failed = call(["x", "y"], true);
    const packed = pack([failed, "a"], 0, { maxRecords: 10, maxBytes: 100 });
    expect(packed).toMatchObject({ body: "[a]", end: 2, dropped: [failed] });
    expect(pack([failed], 0, { maxRecords: 10, maxBytes: 100 })).toMatchObject({ body: "[]", records: 0, end: 1 });
  });

  test("generated: every record in exactly one request, in order, within the limits, each request as full as allowed", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const next = random(seed);
      const queue = randomQueue(next);
      const limits = randomLimits(next);
      const expected = pending(queue);
      const before = queue.map((item) => (typeof item === "object" && !(item instanceof One) ? item.next : 0));
      const packed = pack(queue, 0, limits);
      expect(queue.map((item) => (typeof item === "object" && !(item instanceof One) ? item.next : 0))).toEqual(before);
      expect(pack(queue, 0, limits)).toEqual(packed); // the same answer twice: nothing moved

      const requests = packAll(queue, limits);
      const sent = requests.flatMap((r) => JSON.parse(r.body) as object[]).map((r) => JSON.stringify(r));
      expect({ seed, sent }).toEqual({ seed, sent: expected });
      requests.forEach((r, k) => {
        const records = JSON.parse(r.body) as unknown[];
        expect(r.records).toBe(records.length);
        expect(r.records).toBeLessThanOrEqual(limits.maxRecords);
        if (r.records > 1) expect(utf8Length(r.body)).toBeLessThanOrEqual(limits.maxBytes);
        expect(r.counts.reduce((a, b) => a + b, 0)).toBe(r.records);
        expect(r.chars).toBe(r.body.length - 2 - (r.records - 1));
        expect(r.ones).toBe(r.segments.flatMap((s) => (Array.isArray(s) ? s : [])).filter((i) => i instanceof One).length);
        const following = requests[k + 1];
        if (following !== undefined && r.records < limits.maxRecords) {
          const first = JSON.stringify((JSON.parse(following.body) as unknown[])[0]);
          expect(utf8Length(r.body) + 1 + utf8Length(first)).toBeGreaterThan(limits.maxBytes);
        }
      });
    }
  });
});

describe("verdicts", () => {
  test("readAnswer takes the reasons by index and the token; anything else is not understood", () => {
    const answer = readAnswer({ errors: [{ index: 2, message: "bad" }, { index: "x" }, null], token: "t1" });
    expect(answer).toEqual({ reasons: new Map([[2, "bad"]]), token: "t1" });
    for (const odd of [null, 7, "x", {}, { errors: [] }, { token: "t" }, { errors: {}, token: "t" }]) expect(readAnswer(odd)).toBeUndefined();
  });

  test("rejections are mapped to each segment, indexed in its own call; none costs nothing", () => {
    // A run of 2, then records 3..5 of a call, then the first 2 records of another.
    const from = [0, 3, 0];
    const counts = [2, 3, 2];
    const reasons = new Map([[1, "r1"], [2, "r2"], [4, "r4"], [6, "r6"]]);
    expect(rejectionsBySegment(from, counts, reasons)).toEqual([
      [{ index: 1, message: "r1" }],
      [{ index: 3, message: "r2" }, { index: 5, message: "r4" }],
      [{ index: 1, message: "r6" }],
    ]);
    expect(rejectionsBySegment(from, counts, new Map())).toBeUndefined();
    expect(rejectionsBySegment(from, counts, new Map([[0, "r0"]]))).toEqual([[{ index: 0, message: "r0" }], undefined, undefined]);
  });

  test("generated: each rejection names the record the server rejected, through its own call", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const next = random(seed);
      const queue = randomQueue(next);
      for (const request of packAll(queue, randomLimits(next))) {
        const records = (JSON.parse(request.body) as unknown[]).map((r) => JSON.stringify(r));
        const reasons = new Map<number, string>();
        records.forEach((_, i) => next() < 0.2 && reasons.set(i, `bad ${i}`));
        const split = rejectionsBySegment(request.from, request.counts, reasons);
        const found: [string, string][] = [];
        request.segments.forEach((segment, s) => {
          for (const { index, message } of split?.[s] ?? []) found.push([Array.isArray(segment) ? textOf(segment[index]!) : (segment as Call).texts[index]!, message]);
        });
        expect(found).toEqual([...reasons].sort(([a], [b]) => a - b).map(([i, message]) => [records[i]!, message]));
      }
    }
  });

  test("a request refused whole is taken apart only when it holds records of several calls", () => {
    const c = call(["1", "2"]);
    expect(severalCalls([c], 2)).toBe(false);
    expect(severalCalls([["a", "b"]], 2)).toBe(true); // send() records are each their own call
    expect(severalCalls([["a"], c], 3)).toBe(true);
    expect(severalCalls([["a"]], 1)).toBe(false);
    expect([halved(500), halved(3), halved(1)]).toEqual([250, 1, 1]);
    expect(smallerLimits("[中,a]", 2)).toEqual({ maxBytes: 3, maxRecords: 1 }); // 7 bytes
  });

  test("generated: halving a refused request until the record at fault is alone fails only the calls holding one, stores the rest once, in order", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const next = random(seed);
      const queue = randomQueue(next).filter((item) => typeof item === "string" || item instanceof One || !item.settled);
      const poison = new Set(pending(queue).filter(() => next() < 0.03));
      const limits = randomLimits(next);
      const stored: string[] = [];
      const failed = new Set<Item>();
      let splitting: number | undefined;
      for (let head = 0, guard = 0; head < queue.length; guard++) {
        expect(guard).toBeLessThan(10_000);
        const packed = pack(queue, head, { ...limits, maxRecords: Math.min(limits.maxRecords, splitting ?? Infinity) });
        const texts = (JSON.parse(packed.body) as unknown[]).map((r) => JSON.stringify(r));
        if (!texts.some((t) => poison.has(t))) {
          apply(packed);
          head = packed.end;
          stored.push(...texts);
          splitting = undefined;
        } else if (severalCalls(packed.segments, packed.records)) {
          splitting = halved(packed.records); // nothing applied: the same records go again
        } else {
          apply(packed);
          head = packed.end;
          for (const segment of packed.segments) {
            if (Array.isArray(segment)) segment.forEach((item) => failed.add(item));
            else ((segment as Call).settled = true), failed.add(segment as Call);
          }
        }
      }
      const holdsPoison = (item: Item) => (typeof item === "string" || item instanceof One ? poison.has(textOf(item)) : item.texts.some((t) => poison.has(t)));
      expect({ seed, failed: queue.filter((item) => failed.has(item)) }).toEqual({ seed, failed: queue.filter(holdsPoison) });
      const kept = queue.filter((item) => !holdsPoison(item)).flatMap((item) => (typeof item === "string" ? [item] : item instanceof One ? [item.text] : item.texts));
      expect(stored.filter((t) => kept.includes(t))).toEqual(kept);
      expect(new Set(stored).size).toBe(stored.length);
    }
  });
});

describe("settle", () => {
  function recorder() {
    const rejected: [string, string][] = [];
    const lost: IglooError[] = [];
    const outcomes: Outcomes = { rejected: (text, message) => rejected.push([text, message]), lost: (error) => lost.push(error) };
    return { rejected, lost, outcomes };
  }

  test("a call over two requests is answered once, with both requests' rejections at its own indexes and the last token", () => {
    const verdicts: IglooIngestVerdict[] = [];
    const c = call(["1", "2", "3"], false, (v) => verdicts.push(v), ignore);
    const { outcomes, rejected } = recorder();
    const oneVerdicts: IglooIngestVerdict[] = [];
    const o = new One("b", (v) => oneVerdicts.push(v), ignore);
    settleStored([["a", o], c], [2, 2], 1, [[{ index: 0, message: "no a" }], [{ index: 1, message: "no 2" }]], "t1", outcomes);
    expect(verdicts).toEqual([]);
    expect(oneVerdicts).toEqual([{ accepted: 1, rejected: 0, errors: [], token: "t1" }]);
    expect(rejected).toEqual([["a", "no a"]]);
    settleStored([c], [1], 0, [[{ index: 2, message: "no 3" }]], "t2", outcomes);
    expect(verdicts).toEqual([{ accepted: 1, rejected: 2, errors: [{ index: 1, message: "no 2" }, { index: 2, message: "no 3" }], token: "t2" }]);
  });

  test("send() calls report their rejections to onRejected; a failure reaches onError once, counting send() records", () => {
    const { outcomes, rejected, lost } = recorder();
    const c = call(["1", "2"]);
    settleStored([c], [2], 0, [[{ index: 1, message: "no" }]], "t", outcomes);
    expect(rejected).toEqual([["2", "no"]]);
    const errors: IglooError[] = [];
    const withPromise = call(["x"], false, ignore, (e) => errors.push(e));
    rejectAll([["a", new One("b", ignore, (e) => errors.push(e))], call(["p", "q"]), withPromise, c], new IglooError("E_HTTP", "refused"), outcomes);
    expect(errors.map((e) => e.message)).toEqual(["refused", "refused"]);
    expect(lost.map((e) => e.message)).toEqual(["refused (3 records given to send())"]);
    expect(withPromise.settled).toBe(true);
  });
});
