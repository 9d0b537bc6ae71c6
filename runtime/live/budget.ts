/**
 * How much of the machine live queries may take. Subscriptions must never starve ingest:
 * a view re-run after every change by every subscriber once took a core and a half and
 * cut ingest by two thirds. So re-runs draw on a budget of query time, refilled at
 * `share` of the machine's CPU time, and the budget halves, again and again, while ingest
 * is under pressure, and grows back when it is not. Under pressure means either:
 * - this process keeps its cores over 85% busy, or
 * - the table writers are falling behind: what they have not written yet grew at each of
 *   the last three looks (a quarter of a second apart). This is what starving ingest
 *   looks like even when the CPU is shared with other processes; a machine merely busy
 *   with something else does not slow live views down.
 * An expensive view therefore runs less often, never more than its measured cost allows;
 * a cheap one runs at every change.
 */
import { availableParallelism } from "node:os";

const BUSY = 0.85;
/** The most query time that may be saved up while nothing ran: one second's worth. */
const BURST_MS = 1_000;
const LOOK_MS = 250;
/** Looks in a row the writers' backlog must grow for, to count as falling behind. */
const GROWING_LOOKS = 3;

export class QueryBudget {
  readonly #fullRate: number;
  readonly #cores = availableParallelism();
  /** Milliseconds of query time per millisecond of wall time, now. */
  #rate: number;
  #tokens: number;
  #at = performance.now();
  #cpu = process.cpuUsage();
  #lookedAt = performance.now();
  #backlogs: number[] = [];

  constructor(share = 0.5) {
    this.#fullRate = Math.max(0.01, share) * this.#cores;
    this.#rate = this.#fullRate;
    this.#tokens = this.#fullRate * BURST_MS;
  }

  /** Whether a query may start now (the budget is not overdrawn). */
  available(): boolean {
    this.#refill();
    return this.#tokens > 0;
  }

  /** Charges a query's measured time. */
  spend(ms: number): void {
    this.#tokens -= ms;
  }

  /** The rate now, in cores. */
  rate(): number {
    return this.#rate;
  }

  /** Whether it is time for another look (every quarter of a second). */
  due(): boolean {
    return performance.now() - this.#lookedAt >= LOOK_MS;
  }

  /**
   * A look at the pressure on ingest: `backlog` is the records the table writers have not
   * written yet, across their topics. Halves the rate under pressure, else grows it back
   * by a tenth.
   */
  adapt(backlog: number): void {
    const now = performance.now();
    const wall = now - this.#lookedAt;
    const used = process.cpuUsage(this.#cpu);
    this.#cpu = process.cpuUsage();
    this.#lookedAt = now;
    this.#backlogs = [...this.#backlogs, backlog].slice(-(GROWING_LOOKS + 1));
    // Too short a span says nothing about the CPU.
    const busy = wall >= LOOK_MS / 2 && (used.user + used.system) / 1_000 / wall / this.#cores > BUSY;
    this.#rate = busy || fallingBehind(this.#backlogs) ? Math.max(this.#fullRate / 16, this.#rate / 2) : Math.min(this.#fullRate, this.#rate + this.#fullRate / 10);
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate * BURST_MS, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
  }
}

/** Whether the writers' backlog grew at each of the last looks. */
export function fallingBehind(backlogs: readonly number[]): boolean {
  const recent = backlogs.slice(-(GROWING_LOOKS + 1));
  return recent.length > GROWING_LOOKS && recent.every((b, i) => i === 0 || b > recent[i - 1]!);
}
