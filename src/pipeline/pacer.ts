// Steady pacing for `sluice replay -fps N`: value k is due at start + k/fps, so waiting errors do
// not add up (no drift); a value late by more than one period (a slow reader held the stream
// back) restarts the schedule from now instead of sending a burst to catch up.
export class Pacer {
  readonly #period: number;
  readonly #now: () => number;
  #start = Number.NaN;
  #k = 0;

  /** `fps` <= 0: as fast as possible. `now` in milliseconds (a fake clock in tests). */
  constructor(fps: number, now: () => number = () => performance.now()) {
    this.#period = fps > 0 ? 1000 / fps : 0;
    this.#now = now;
  }

  /** Milliseconds to wait before sending the next value (0: send it now). Call once per value. */
  delay(): number {
    if (this.#period === 0) return 0;
    const t = this.#now();
    if (Number.isNaN(this.#start) || t - (this.#start + this.#k * this.#period) > this.#period) {
      this.#start = t;
      this.#k = 0;
    }
    const due = this.#start + this.#k * this.#period;
    this.#k++;
    return Math.max(0, due - t);
  }
}
