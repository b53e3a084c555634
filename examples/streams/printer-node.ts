// A node with one input that prints what it receives: index, shape, and min/max of each chunk
// (the seed's "print stream information" example). See noise-generator-node.ts and
// remote-node-group.ts for it at work.
import { Node, type NdChunk } from 'sluice';

export class PrintInput extends Node {
  static override inputSpecs = { in: {} };
  /** Chunks printed since construction. */
  count = 0;
  #print: (line: string) => void = (line) => console.log(line);
  #waiters: { n: number; resolve: () => void }[] = [];

  protected _configure(options: Record<string, unknown>): void {
    const print = options['print'];
    if (typeof print === 'function') this.#print = print as (line: string) => void;
  }

  protected override _start(): void {
    this.startInputLoop('in', (index: number, chunk: NdChunk) => {
      let min = Infinity;
      let max = -Infinity;
      for (const v of chunk.data) {
        const x = Number(v);
        if (x < min) min = x;
        if (x > max) max = x;
      }
      this.#print(`${this.name}: index ${index} shape [${chunk.shape.join(', ')}] min ${min.toFixed(3)} max ${max.toFixed(3)}`);
      this.count++;
      this.#waiters = this.#waiters.filter((w) => (this.count >= w.n ? (w.resolve(), false) : true));
    });
  }

  /** Resolves once `n` chunks have been printed. */
  printed(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}
