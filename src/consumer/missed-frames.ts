// Missed-frame accounting from object ids (PvaPy reference 4.3/4.4). One consumer of a
// distributed stream sees ids in groups of N consecutive ids (N = nSequentialUpdates), the
// groups `offset + N - 1` apart (offset = objectIdOffset): e.g. two sets of three updates give
// set A 1,2,3,7,8,9,… (N 3, offset 4). The expected ids are counted between the last id seen and
// the new one; those not received are missed. A jump that does not fit the pattern (a restart,
// a rebalanced distributor) is counted as far as the old pattern goes, then the pattern restarts
// at the new id.

export class MissedFrameCounter {
  #offset: number;
  #n: number;
  #period: number;
  #start = 0; // first id of a group: the phase of the pattern
  #last: number | null = null;
  missed = 0;

  constructor(objectIdOffset = 1, nSequentialUpdates = 1) {
    this.#offset = Math.max(1, objectIdOffset);
    this.#n = Math.max(1, nSequentialUpdates);
    this.#period = this.#offset + this.#n - 1;
  }

  configure(objectIdOffset: number, nSequentialUpdates: number): void {
    this.#offset = Math.max(1, objectIdOffset);
    this.#n = Math.max(1, nSequentialUpdates);
    this.#period = this.#offset + this.#n - 1;
    if (this.#last !== null) this.#start = this.#last;
  }

  reset(): void {
    this.#last = null;
    this.missed = 0;
  }

  /** Number of expected ids in [start, x] (x >= start - 1). */
  #expectedUpTo(x: number): number {
    const d = x - this.#start;
    if (d < 0) return 0;
    const full = Math.floor(d / this.#period);
    return full * this.#n + Math.min((d % this.#period) + 1, this.#n);
  }

  #isExpected(id: number): boolean {
    const d = id - this.#start;
    return d >= 0 && d % this.#period < this.#n;
  }

  /** Record an id; returns how many ids were missed just before it. */
  add(id: number): number {
    const last = this.#last;
    this.#last = id;
    if (last === null) {
      this.#start = id;
      return 0;
    }
    if (id <= last) {
      // Going back: a restarted source. Nothing can be said to be missed.
      this.#start = id;
      return 0;
    }
    const missed = Math.max(0, this.#expectedUpTo(id - 1) - this.#expectedUpTo(last));
    if (!this.#isExpected(id)) this.#start = id;
    this.missed += missed;
    return missed;
  }
}
