// Missed-frame accounting from object ids (PvaPy reference 4.3/4.4). One consumer of a
// distributed stream sees ids in groups of N consecutive ids (N = nSequentialUpdates), the
// groups `offset + N - 1` apart (offset = objectIdOffset): e.g. two sets of three updates give
// set A 1,2,3,7,8,9,… (N 3, offset 4). The expected ids are counted between the last id seen and
// the new one; those not received are missed. A jump that does not fit the pattern (a rebalanced
// distributor) is counted as far as the old pattern goes, then the pattern restarts at the new id.
//
// Runs: a source that restarts numbers its objects from 1 again. Ids that go back after the input
// reconnected, or back to at most half the last id (an areaDetector counter reset), start a new
// run: the pattern restarts at the new id, and the ids of the new run before it that were this
// consumer's (the source published them while we were away) are missed. Smaller steps back
// (updates out of order, e.g. through a mirror with several source monitors) are late arrivals.

export class MissedFrameCounter {
  #offset: number;
  #n: number;
  #period: number;
  #start = 0; // first id of a group: the phase of the pattern
  #last: number | null = null;
  missed = 0;
  /** Runs of the source seen: 1 from the first id on, one more for each restart. */
  runs = 0;

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
    this.runs = 0;
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

  /**
   * Record an id; returns how many ids were missed just before it. `reconnected`: the first id
   * since the input connected again (to a source that may have restarted).
   */
  add(id: number, reconnected = false): number {
    const last = this.#last;
    this.#last = id;
    if (last === null) {
      this.#start = id;
      this.runs = 1;
      return 0;
    }
    if (id === last) return 0; // the same object again (a reconnect sends the current value)
    if (id < last) {
      if (!(reconnected || id <= last / 2)) {
        // Out of order: the pattern goes on from the last id; a late id of ours was counted as
        // missed when a later one came first, and is taken off again.
        this.#last = last;
        if (this.#isExpected(id) && this.missed > 0) this.missed--;
        return 0;
      }
      // A new run, numbered from 1: its ids before this one that were ours are missed.
      this.runs++;
      this.#start = id - Math.ceil((id - 1) / this.#period) * this.#period;
      const missed = Math.max(0, this.#expectedUpTo(id - 1) - this.#expectedUpTo(0));
      this.#start = id;
      this.missed += missed;
      return missed;
    }
    const missed = Math.max(0, this.#expectedUpTo(id - 1) - this.#expectedUpTo(last));
    if (!this.#isExpected(id)) this.#start = id;
    this.missed += missed;
    return missed;
  }
}
