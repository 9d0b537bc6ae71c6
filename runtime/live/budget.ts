/**
 * How much of the machine live queries may take. Subscriptions must never starve ingest:
 * a view re-run after every change by every subscriber once took a core and a half and
 * cut ingest by two thirds. So re-runs draw on a budget of query time, refilled at
 * `share` of the machine's CPU time, and the budget shrinks while the machine is busy
 * (its cores over 85% used, by whatever: our ingest, the engine's merges, another
 * process) and grows back when it is not.
 * An expensive view therefore runs less often, never more than its measured cost allows;
 * a cheap one runs at every change.
 */
import { availableParallelism, cpus } from "node:os";

const BUSY = 0.85;
/** The most query time that may be saved up while nothing ran: one second's worth. */
const BURST_MS = 1_000;

export class QueryBudget {
  readonly #fullRate: number;
  /** Milliseconds of query time per millisecond of wall time, now. */
  #rate: number;
  #tokens: number;
  #at = performance.now();
  #cpu = machineTimes();
  #cpuAt = performance.now();

  constructor(share = 0.25) {
    this.#fullRate = Math.max(0.01, share) * availableParallelism();
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

  /** Called on every tick: adapts the rate to how busy the machine was since the last call. */
  adapt(): void {
    const now = performance.now();
    if (now - this.#cpuAt < 250) return;
    const times = machineTimes();
    const [total, idle] = [times.total - this.#cpu.total, times.idle - this.#cpu.idle];
    this.#cpu = times;
    this.#cpuAt = now;
    if (total <= 0) return;
    const busy = 1 - idle / total;
    // Halve while busy, grow back by a tenth when not: ingest gets the CPU first.
    this.#rate = busy > BUSY ? Math.max(this.#fullRate / 16, this.#rate / 2) : Math.min(this.#fullRate, this.#rate + this.#fullRate / 10);
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate * BURST_MS, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
  }
}

/** The machine's CPU time so far, all cores, and the idle part of it (ms). */
function machineTimes(): { total: number; idle: number } {
  let total = 0;
  let idle = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
    idle += t.idle;
  }
  return { total, idle };
}
