// Posts made while a monitor's INIT waits for its PV to open. A producer that opens a PV and
// posts twice in one go (a processor handed a batch of inputs) would otherwise leave the monitor
// starting at the second value: the INIT resumes after whenOpen() only once the producer's turn is
// over. PVXS's SharedPV hands the open value to waiting monitors inside open(); keeping what is
// posted until the monitor attaches gives the same result for any Source.
import { BitSet } from '../../pvdata/bitset.js';
import type { PVStructure } from '../../pvdata/values.js';
import type { PVSubscriber, Source } from '../../pv/source.js';

export interface HeldPost {
  value: PVStructure;
  changed: BitSet;
  overrun: BitSet | undefined;
  force: boolean;
}

export class HeldPosts implements PVSubscriber {
  readonly posts: HeldPost[] = [];
  readonly #limit: number;
  #unsubscribe: () => void;

  /** Holds at most `limit` posts; later ones are squashed into the newest (the monitor's queue would). */
  constructor(pv: Source, limit: number) {
    this.#limit = Math.max(1, limit);
    this.#unsubscribe = pv.subscribe(this);
  }

  onPost(value: PVStructure, changed: BitSet, overrun?: BitSet, force = false): void {
    const last = this.posts[this.posts.length - 1];
    if (last && this.posts.length >= this.#limit) {
      const squashed = last.overrun?.copy() ?? new BitSet();
      for (const b of changed) if (last.changed.get(b)) squashed.set(b);
      if (overrun) squashed.or(overrun);
      last.value = value;
      last.changed = last.changed.copy().or(changed);
      last.overrun = squashed;
      last.force ||= force;
      return;
    }
    this.posts.push({ value, changed, overrun, force });
  }

  onClose(): void {
    this.posts.length = 0;
  }

  hasRoom(): boolean {
    return true;
  }

  /** Stop holding (the monitor subscribed itself, or the INIT failed). */
  release(): void {
    this.#unsubscribe();
    this.#unsubscribe = () => {};
  }
}
