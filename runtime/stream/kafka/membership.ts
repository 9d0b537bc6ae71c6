/**
 * What this member of a consumer group owns right now, as far as kafkajs lets us know.
 *
 * kafkajs has no revocation callback (the Java client's onPartitionsRevoked), only events:
 * the group is "unsettled" from the moment a rejoin starts (a rebalance noticed, the
 * JoinGroup answer, a crash, a stop) until the next GROUP_JOIN hands out the new
 * assignment. Commits wait while the group is unsettled and then go ahead only for
 * partitions still assigned, so a partition lost in a rebalance is never committed by
 * its old owner afterwards.
 */
export class Membership {
  #generation = 0;
  #stable = false;
  #assigned: ReadonlySet<number> = new Set();
  #changed = Promise.withResolvers<void>();

  /** Counts assignments received, to tell whether one arrived during an await. */
  get generation(): number {
    return this.#generation;
  }

  get stable(): boolean {
    return this.#stable;
  }

  get assigned(): ReadonlySet<number> {
    return this.#assigned;
  }

  joined(partitions: readonly number[]): void {
    this.#generation++;
    this.#stable = true;
    this.#assigned = new Set(partitions);
    this.wake();
  }

  unsettled(): void {
    this.#stable = false;
    this.wake();
  }

  /** Resolves at the next change (or `wake`). */
  changed(): Promise<void> {
    return this.#changed.promise;
  }

  /** Wakes whoever waits in `changed`, e.g. to notice a close. */
  wake(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }
}
