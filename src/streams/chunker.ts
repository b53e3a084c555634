// Re-chunking to a fixed chunk size C (pipeline stage 2). Chunks are aligned on absolute indices:
// every chunk sent holds samples [k*C, (k+1)*C) and so ends at an index that is a multiple of C.
// A long chunk is split into views (no copy) where its samples line up with those boundaries;
// short ones are joined into a new array. A gap (an index that jumps ahead) fills the rest of the
// pending chunk with the fill value and sends it; whole chunks inside the gap are not sent (the
// receiver sees the index jump), and a chunk the new data starts inside begins with fill values.
// Memory: at most one pending chunk.
import type { PVTypedArray } from '../pvdata/values.js';
import type { NdChunk } from './transfer.js';

export class Chunker {
  readonly size: number;
  readonly #fill: number | bigint;
  #pending: PVTypedArray | null = null;
  /** Absolute index of the pending chunk's first sample, and of the next sample to write in it. */
  #start = 0;
  #end = 0;
  #frame: readonly number[] = [];
  #per = 1;

  constructor(size: number, fill: number | bigint) {
    this.size = size;
    this.#fill = fill;
  }

  /** Samples held back for the next chunk. */
  get pending(): number {
    return this.#pending ? this.#end - this.#start : 0;
  }

  reset(): void {
    this.#pending = null;
  }

  /** Add a chunk ending at `index`; returns the fixed-size chunks now complete, each with its end index. */
  push(index: number, chunk: NdChunk, out: [number, NdChunk][] = []): [number, NdChunk][] {
    const C = this.size;
    const n = chunk.shape[0] as number;
    const first = index - n;
    const data = chunk.data;
    this.#frame = chunk.shape.slice(1);
    this.#per = n > 0 ? data.length / n : 1;
    const per = this.#per;
    if (this.#pending && this.#end < first) {
      // A gap: fill the pending chunk up to the new data or to its end.
      const upTo = Math.min(first, this.#start + C);
      this.#fillRange(this.#end, upTo);
      this.#end = upTo;
      if (upTo === this.#start + C) this.#emit(out);
    }
    let pos = first;
    while (pos < index) {
      if (!this.#pending) {
        const chunkStart = Math.floor(pos / C) * C;
        if (pos === chunkStart && index - pos >= C) {
          const from = (pos - first) * per;
          out.push([pos + C, { data: data.subarray(from, from + C * per), shape: [C, ...this.#frame] }]);
          pos += C;
          continue;
        }
        const Ctor = data.constructor as new (n: number) => PVTypedArray;
        this.#pending = new Ctor(C * per);
        this.#start = chunkStart;
        this.#end = chunkStart;
        this.#fillRange(chunkStart, pos);
        this.#end = pos;
      }
      const take = Math.min(index, this.#start + C) - pos;
      const from = (pos - first) * per;
      this.#pending.set(data.subarray(from, from + take * per) as never, (pos - this.#start) * per);
      pos += take;
      this.#end = pos;
      if (this.#end === this.#start + C) this.#emit(out);
    }
    return out;
  }

  #fillRange(from: number, to: number): void {
    if (to <= from || !this.#pending) return;
    (this.#pending as Float64Array).fill(this.#fill as number, (from - this.#start) * this.#per, (to - this.#start) * this.#per);
  }

  #emit(out: [number, NdChunk][]): void {
    const data = this.#pending as PVTypedArray;
    this.#pending = null;
    out.push([this.#start + this.size, { data, shape: [this.size, ...this.#frame] }]);
  }
}
