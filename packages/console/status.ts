/**
 * Rates from counters: the status (`GET /_igloo/api/status`) is read every second, and a
 * rate is the difference between the last two reads over the time between them, as
 * Prometheus's `rate()` does with two samples. The server keeps no history for it.
 */
import { getJson } from "./api.ts";
import { sleep } from "./dom.ts";
import type { StatusInfo } from "./protocol.ts";

export const STATUS_EVERY_MS = 1_000;

export class Rates {
  #previous: StatusInfo | undefined;
  #current: StatusInfo | undefined;

  push(status: StatusInfo): void {
    this.#previous = this.#current;
    this.#current = status;
  }

  get current(): StatusInfo | undefined {
    return this.#current;
  }

  /** Per second, of the counter `pick` reads; undefined until there are two reads. */
  rate(pick: (status: StatusInfo) => number | undefined): number | undefined {
    const [a, b] = [this.#previous, this.#current];
    if (!a || !b || b.at <= a.at) return undefined;
    const delta = (pick(b) ?? 0) - (pick(a) ?? 0);
    // A counter that went down was reset (a restart): no rate from that pair.
    return delta < 0 ? undefined : (delta * 1000) / (b.at - a.at);
  }
}

/** Reads the status now and every second, calling `draw` after each read; failures show as `offline`. */
export function watchStatus(draw: (rates: Rates) => void, offline: (error: unknown) => void): Rates {
  const rates = new Rates();
  void (async () => {
    for (;;) {
      const started = performance.now();
      try {
        rates.push(await getJson<StatusInfo>("/_igloo/api/status"));
        draw(rates);
      } catch (error) {
        offline(error);
      }
      await sleep(Math.max(100, STATUS_EVERY_MS - (performance.now() - started)));
    }
  })();
  return rates;
}
