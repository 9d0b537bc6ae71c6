/** The idempotency-key memory's own rules (pure logic): what it keeps, and for how long. */
import { expect, test } from "bun:test";
import { IdempotencyCache } from "../runtime/server/idempotency.ts";

const ok = (answer: string) => async () => answer;

test("keys are forgotten past maxEntries, oldest first, and past ttlMs", async () => {
  const cache = new IdempotencyCache({ maxEntries: 2, ttlMs: 60_000 });
  let runs = 0;
  const work = async () => `run ${++runs}`;
  await cache.run("M", "a", "x", work);
  await cache.run("M", "b", "x", work);
  expect(await cache.run("M", "a", "x", work)).toEqual({ answer: "run 1", replayed: true });
  await cache.run("M", "c", "x", work); // a third key: "a", the oldest, goes
  expect((await cache.run("M", "a", "x", work)).replayed).toBe(false);
  expect(runs).toBe(4);

  const short = new IdempotencyCache({ ttlMs: 20 });
  await short.run("M", "a", "x", ok("first"));
  await Bun.sleep(40);
  expect(await short.run("M", "a", "x", ok("second"))).toEqual({ answer: "second", replayed: false });
});

test("answers are forgotten, oldest first, past maxBytes", async () => {
  const cache = new IdempotencyCache({ maxBytes: 100 });
  let runs = 0;
  const big = async () => `${++runs}`.padEnd(40, ".");
  await cache.run("M", "a", "x", big);
  await cache.run("M", "b", "x", big);
  expect((await cache.run("M", "a", "x", big)).replayed).toBe(true);
  await cache.run("M", "c", "x", big); // over 100 bytes: "a" goes
  expect((await cache.run("M", "b", "x", big)).replayed).toBe(true);
  expect((await cache.run("M", "a", "x", big)).replayed).toBe(false);
  expect(runs).toBe(4);
});

test("keys are per model; a thrown attempt is forgotten and a waiting resend runs instead", async () => {
  const cache = new IdempotencyCache();
  await cache.run("A", "k", "x", ok("A"));
  expect(await cache.run("B", "k", "x", ok("B"))).toEqual({ answer: "B", replayed: false });

  let release!: () => void;
  const first = cache.run("A", "t", "x", async () => {
    await new Promise<void>((resolve) => (release = resolve));
    throw new Error("stream down");
  });
  const resend = cache.run("A", "t", "x", ok("resend"));
  release();
  expect(await first.catch((e: Error) => e.message)).toBe("stream down");
  expect(await resend).toEqual({ answer: "resend", replayed: false });
});
