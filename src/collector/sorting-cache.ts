// The collector's cache (PvaPy reference 4.6): objects from several producers, keyed by id,
// released in id order. Several objects may share an id (tiles of one frame).
//
// Unlike PvaPy, which drains only when the cache is full or after 5 s of silence, an id is
// released as soon as nothing can come before it any more:
//  - it is the next expected id (the last released + offset), or the same id as the last one
//    released (a late tile of that frame);
//  - or every producer has already delivered this id or a later one, so the ids of the gap
//    before it cannot arrive (each producer's stream is in order);
//  - or it has waited `timeoutMs` for the gap to fill, or the cache holds `capacity` objects.
// Ids older than the last released one are rejected, except a producer whose own ids went back
// while the cache is empty: that is a restarted stream (a new run), and collecting starts again
// from it. A new run is numbered from 1: the ids of it before the first one that came are missed.

export interface Released<T> {
  id: number;
  items: T[];
  /** Ids expected (by the offset) between the previous released id and this one, never seen. */
  missed: number;
}

export type AddResult = 'cached' | 'rejected' | 'restart';

export interface SortingCacheOptions {
  /** Objects held before the oldest is released regardless of gaps (PvaPy collectorCacheSize). */
  capacity: number;
  /** Expected step between consecutive ids of the merged stream. */
  offset: number;
  /** Longest wait of an object for a missing predecessor, in ms. */
  timeoutMs: number;
  producers: readonly number[];
  now?: () => number;
}

interface Slot<T> {
  items: T[];
  since: number;
}

export class SortingCache<T> {
  readonly #slots = new Map<number, Slot<T>>();
  /** Cached ids in ascending order (short: bounded by the capacity). */
  #ids: number[] = [];
  #size = 0;
  #lastId: number | null = null;
  readonly #lastSeen = new Map<number, number>();
  readonly #producers: readonly number[];
  readonly #now: () => number;
  capacity: number;
  offset: number;
  timeoutMs: number;
  nCollected = 0;
  nRejected = 0;
  nMissed = 0;
  /** Runs of the stream seen: 1 from the first object, one more for each restart. */
  nRuns = 0;

  constructor(o: SortingCacheOptions) {
    this.capacity = Math.max(1, o.capacity);
    this.offset = Math.max(1, o.offset);
    this.timeoutMs = o.timeoutMs;
    this.#producers = o.producers;
    this.#now = o.now ?? Date.now;
  }

  /** Objects held now. */
  get size(): number {
    return this.#size;
  }

  get lastId(): number | null {
    return this.#lastId;
  }

  add(producer: number, id: number, item: T): AddResult {
    const previous = this.#lastSeen.get(producer);
    let result: AddResult = 'cached';
    if (this.#lastId !== null && id < this.#lastId) {
      if (this.#size === 0 && previous !== undefined && id < previous) {
        // That producer started again: so do we (PvaPy: an old id on an empty cache), from
        // before id 1 of the new run.
        this.#lastId = 0;
        this.#lastSeen.clear();
        this.nRuns++;
        result = 'restart';
      } else {
        this.nRejected++;
        return 'rejected';
      }
    }
    if (this.nRuns === 0) this.nRuns = 1;
    this.#lastSeen.set(producer, previous === undefined || id > previous || result === 'restart' ? id : previous);
    let slot = this.#slots.get(id);
    if (!slot) {
      slot = { items: [], since: this.#now() };
      this.#slots.set(id, slot);
      this.#insertId(id);
    }
    slot.items.push(item);
    this.#size++;
    return result;
  }

  #insertId(id: number): void {
    const ids = this.#ids;
    // Ids come almost in order: look from the end.
    let i = ids.length;
    while (i > 0 && (ids[i - 1] as number) > id) i--;
    ids.splice(i, 0, id);
  }

  /** True when the oldest cached id may be released now. */
  #headReady(now: number): boolean {
    const head = this.#ids[0];
    if (head === undefined) return false;
    if (this.#size >= this.capacity) return true;
    const last = this.#lastId;
    if (last !== null && head <= last + this.offset) return true;
    if (this.#allPast(head)) return true;
    return now - (this.#slots.get(head) as Slot<T>).since >= this.timeoutMs;
  }

  /** Every producer has delivered `id` or a later one. */
  #allPast(id: number): boolean {
    for (const p of this.#producers) {
      const seen = this.#lastSeen.get(p);
      if (seen === undefined || seen < id) return false;
    }
    return true;
  }

  /** Take, in order, every id that is ready. */
  takeReady(): Released<T>[] {
    const out: Released<T>[] = [];
    const now = this.#now();
    while (this.#headReady(now)) out.push(this.#release());
    return out;
  }

  /** Take everything (at stop), in order. */
  takeAll(): Released<T>[] {
    const out: Released<T>[] = [];
    while (this.#ids.length > 0) out.push(this.#release());
    return out;
  }

  #release(): Released<T> {
    const id = this.#ids.shift() as number;
    const slot = this.#slots.get(id) as Slot<T>;
    this.#slots.delete(id);
    this.#size -= slot.items.length;
    const last = this.#lastId;
    // Missed: the multiples of the offset strictly between the last id and this one.
    const missed = last !== null && id > last ? Math.max(0, Math.ceil((id - last) / this.offset) - 1) : 0;
    this.nMissed += missed;
    this.nCollected += slot.items.length;
    if (last === null || id > last) this.#lastId = id;
    return { id, items: slot.items, missed };
  }

  /** When the oldest object's wait for its gap ends (ms, on the cache's clock), or null. */
  nextDeadline(): number | null {
    const head = this.#ids[0];
    if (head === undefined) return null;
    return (this.#slots.get(head) as Slot<T>).since + this.timeoutMs;
  }

  resetCounters(): void {
    this.nCollected = this.nRejected = this.nMissed = 0;
    this.nRuns = this.#lastId === null ? 0 : 1;
  }
}
