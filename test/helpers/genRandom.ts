/**
 * The random source of the generative suites: mulberry32 (random.ts) with the draws the
 * generators need. Every draw comes from the seed, so a failure reproduces from it.
 */
import { random } from "./random.ts";

export class Rng {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = random(seed | 0);
  }

  /** A stream of its own for `label` (a model, a record), so adding draws elsewhere changes nothing here. */
  static derive(seed: number, ...labels: (string | number)[]): Rng {
    let h = (seed ^ 0x2545f491) | 0;
    for (const label of labels) {
      for (const char of String(label)) h = Math.imul(h ^ char.charCodeAt(0), 0x01000193);
      h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ 0x9e3779b9;
    }
    return new Rng(h);
  }

  float(): number {
    return this.#next();
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.#next() * items.length)]!;
  }

  /** One of `choices`, each with its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const possible = choices.filter(([w]) => w > 0);
    const total = possible.reduce((sum, [w]) => sum + w, 0);
    let r = this.#next() * total;
    for (const [w, value] of possible) {
      r -= w;
      if (r < 0) return value;
    }
    // Rounding can leave r at 0 after the last weight: that one is drawn.
    return possible[possible.length - 1]![1];
  }

  /** A uniformly random bigint in [0, 2^bits). */
  bits(bits: number): bigint {
    let out = 0n;
    for (let done = 0; done < bits; done += 16) out = (out << 16n) | BigInt(Math.floor(this.#next() * 65536));
    return out & ((1n << BigInt(bits)) - 1n);
  }

  /** A bigint from `min` to `max`, both included (approximately uniform). */
  bigint(min: bigint, max: bigint): bigint {
    const span = max - min + 1n;
    const width = span.toString(2).length + 8;
    return min + (this.bits(width) % span);
  }

  /** `n` random decimal digits. */
  digits(n: number): string {
    let out = "";
    for (let i = 0; i < n; i++) out += String(this.int(0, 9));
    return out;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
