// The consumer's client-side queue (PvaPy's PvObjectQueue): bounded (0 = unbounded), refusing
// what does not fit and counting it, with a waiter for the processing loop.

export interface QueueStats {
  nReceived: number;
  nRejected: number;
  nDelivered: number;
  nQueued: number;
}

/** The queue statistics of an input without a queue. */
export const NO_QUEUE_STATS: Readonly<QueueStats> = Object.freeze({ nReceived: 0, nRejected: 0, nDelivered: 0, nQueued: 0 });

export class ReceiverQueue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #maxLength: number;
  #waiter: (() => void) | null = null;
  nReceived = 0;
  nRejected = 0;
  nDelivered = 0;
  lastPut = 0;

  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  get maxLength(): number {
    return this.#maxLength;
  }

  set maxLength(n: number) {
    this.#maxLength = n;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Add an item; false (and counted as rejected) when the queue is full. */
  push(item: T): boolean {
    if (this.#maxLength > 0 && this.length >= this.#maxLength) {
      this.nRejected++;
      return false;
    }
    this.#items.push(item);
    this.nReceived++;
    this.lastPut = Date.now();
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w();
    }
    return true;
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Compact now and then so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.nDelivered++;
    return item;
  }

  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Resolves when an item is pushed (or at once if one is waiting), or after ms. */
  wait(ms: number): Promise<void> {
    if (this.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        resolve();
      }, ms);
      this.#waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  resetCounters(): void {
    this.nReceived = this.nRejected = this.nDelivered = 0;
  }

  stats(): QueueStats {
    return { nReceived: this.nReceived, nRejected: this.nRejected, nDelivered: this.nDelivered, nQueued: this.length };
  }
}
