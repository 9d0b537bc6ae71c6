/**
 * `flush()` callers, each waiting for every item queued before it asked. Items are
 * numbered as they are queued and answered in that order (batches go one at a time, in
 * queue order, their answers are read in order), so "every item before N has its answer"
 * is all a flush needs to know: one number, not a set of pending calls.
 */
export class Flushes {
  #answered = 0;
  /** In the order they asked, each waiting for every item before `upTo`. */
  #waiting: { upTo: number; resolve: () => void }[] = [];

  /** Resolves once every item numbered below `upTo` has its answer. */
  wait(upTo: number): Promise<void> {
    if (this.#answered >= upTo) return Promise.resolve();
    return new Promise<void>((resolve) => this.#waiting.push({ upTo, resolve }));
  }

  /** Every item numbered below `seq` has its answer. */
  answered(seq: number): void {
    if (seq > this.#answered) this.#answered = seq;
    while (this.#waiting.length > 0 && this.#waiting[0]!.upTo <= this.#answered) this.#waiting.shift()!.resolve();
  }
}
