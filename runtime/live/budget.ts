/**
 * How much of the machine live queries may take. Subscriptions must never starve ingest:
 * a view re-run after every change by every subscriber once took a core and a half and
 * cut ingest by two thirds. So re-runs draw on a budget of query time, refilled at
 * `share` of the machine's CPU time (by default a quarter), and the budget shrinks while
 * the process as a whole is busy (over 85% of its cores) and grows back when it is not.
 * An expensive view therefore runs less often, never more than its measured cost allows;
 * a cheap one runs at every change.
 */
import { availableParallelism } from "node:os";

const BUSY = 0.85;
/** The most query time that may be saved up while nothing ran: one second's worth. */
const BURST_MS = 1_000;

export class QueryBudget {
  readonly #fullRate: number;
  /** Milliseconds of query time per millisecond of wall time, now. */
  #rate: number;
  #tokens: number;
  #at = performance.now();
  #cpu = process.cpuUsage();
  #cpuAt = performance.now();
  readonly #cores = availableParallelism();

  constructor(share = 0.25) {
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

  /** The rate now, as a share of one core (for /metrics). */
  rate(): number {
    return this.#rate;
  }

  /** Called on every tick: adapts the rate to how busy the process was since the last call. */
  adapt(): void {
    const now = performance.now();
    const wall = now - this.#cpuAt;
    if (wall < 250) return;
    const used = process.cpuUsage(this.#cpu);
    this.#cpu = process.cpuUsage();
    this.#cpuAt = now;
    const busy = (used.user + used.system) / 1_000 / wall / this.#cores;
    // Halve while busy, grow back by a tenth when not: ingest gets the CPU first.
    this.#rate = busy > BUSY ? Math.max(this.#fullRate / 16, this.#rate / 2) : Math.min(this.#fullRate, this.#rate + this.#fullRate / 10);
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate * BURST_MS, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
  }
}
