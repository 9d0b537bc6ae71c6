/**
 * Offset -> file position of one segment, sparse: an entry at a frame start once at least
 * INDEX_INTERVAL_BYTES were written since the previous entry. With frames of about
 * FRAME_TARGET_BYTES this puts an entry every ~64 KiB or closer. Two growable typed
 * arrays rather than an object per entry: a 1 GiB log costs a few hundred KiB of index.
 */
export const INDEX_INTERVAL_BYTES = 32 * 1024;

export interface IndexEntry {
  readonly offset: number;
  readonly position: number;
}

export class SparseIndex {
  #offsets: Float64Array = new Float64Array(64);
  #positions: Float64Array = new Float64Array(64);
  #length = 0;

  /** Considers a frame starting at `position` with first record `offset`; in file order. */
  add(offset: number, position: number): void {
    const last = this.#length - 1;
    if (last >= 0 && position - (this.#positions[last] ?? 0) < INDEX_INTERVAL_BYTES) return;
    if (this.#length === this.#offsets.length) {
      this.#offsets = grow(this.#offsets);
      this.#positions = grow(this.#positions);
    }
    this.#offsets[this.#length] = offset;
    this.#positions[this.#length] = position;
    this.#length++;
  }

  /** The last entry at or before `offset`, or undefined when there is none. */
  floor(offset: number): IndexEntry | undefined {
    let low = 0;
    let high = this.#length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if ((this.#offsets[middle] ?? Infinity) <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0) return undefined;
    return { offset: this.#offsets[found] ?? 0, position: this.#positions[found] ?? 0 };
  }
}

function grow(array: Float64Array): Float64Array {
  const bigger = new Float64Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
