/**
 * How a consumer waits, on either stream: for a batch to fill or its oldest record to
 * have waited long enough, for a retry's delay, or until it stops, whichever comes first.
 */
export class BatchWait {
  #stopped = false;
  #ring: (() => void) | undefined;
  #onRecords = false;
  /** When records arrived, by the offset after them, oldest first; dropped once delivered. */
  readonly #arrivals: { readonly end: number; readonly at: number }[] = [];

  /** Once stopped, every sleep ends at once. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Records up to offset `end` arrived: ends a sleep that waits for records. `at` is when
   * (a backlog found at start is given -Infinity: it waited long enough).
   */
  arrived(end: number, at = performance.now()): void {
    this.#arrivals.push({ end, at });
    if (this.#onRecords) this.#ring?.();
  }

  /**
   * How many records to deliver next: `maxBatchRecords` once that many are in hand, else
   * all in hand once the oldest of them has waited `maxWaitMs`; 0 at stop. `inHand` counts
   * the records the consumer holds and gives the offset of the first.
   */
  async nextBatch(limits: { readonly maxBatchRecords: number; readonly maxWaitMs: number }, inHand: () => { count: number; first: number }): Promise<number> {
    while (!this.#stopped) {
      const { count, first } = inHand();
      if (count >= limits.maxBatchRecords) return limits.maxBatchRecords;
      if (count > 0) {
        while ((this.#arrivals[0]?.end ?? Infinity) <= first) this.#arrivals.shift();
        const waited = performance.now() - (this.#arrivals[0]?.at ?? -Infinity);
        if (waited >= limits.maxWaitMs) return count;
        await this.sleep(limits.maxWaitMs - waited, true);
      } else {
        await this.sleep(undefined, true);
      }
    }
    return 0;
  }

  /** Resolves after `ms` (not by time when undefined), at stop, or when records arrive if `onRecords`. */
  sleep(ms: number | undefined, onRecords: boolean): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => finish(), ms);
      const finish = () => {
        clearTimeout(timer);
        this.#ring = undefined;
        this.#onRecords = false;
        resolve();
      };
      this.#ring = finish;
      this.#onRecords = onRecords;
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#ring?.();
  }
}
