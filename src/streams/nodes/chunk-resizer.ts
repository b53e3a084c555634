// ChunkResizer (Pyacq's): configure({ chunkSize }) and every chunk sent has exactly chunkSize
// frames: long chunks are split (views, no copy), short ones joined. The output index is counted
// from the samples received since start(), so it is always a multiple of chunkSize; a gap in the
// input's indices is closed up, not filled.
import { InvalidArgumentError } from '../../errors.js';
import { toChunk } from '../chunk.js';
import { Chunker } from '../chunker.js';
import { Node } from '../node.js';
import type { NdChunk, StreamSpec } from '../transfer.js';

export class ChunkResizer extends Node {
  static override inputSpecs = { in: {} };
  static override outputSpecs = { out: {} };
  #chunkSize = 0;
  #received = 0;
  #chunker: Chunker | null = null;
  readonly #out: [number, NdChunk][] = [];

  get chunkSize(): number {
    return this.#chunkSize;
  }

  protected _configure(options: Record<string, unknown>): void {
    const c = options['chunkSize'];
    if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 1)
      throw new InvalidArgumentError(`ChunkResizer: chunkSize must be a whole number of frames >= 1, not ${String(c)}`);
    this.#chunkSize = c;
  }

  protected override outputDefaults(): Partial<StreamSpec> {
    const input = this.inputs['in'];
    if (!input?.connected) return {};
    const p = input.params;
    return { streamtype: p.streamtype, dtype: p.dtype, shape: [-1, ...p.shape.slice(1)], sampleRate: p.sampleRate, units: p.units };
  }

  protected override _start(): void {
    const out = this.outputs['out'] as NonNullable<(typeof this.outputs)['out']>;
    this.#received = 0;
    this.#chunker = new Chunker(this.#chunkSize, 0);
    const chunker = this.#chunker;
    this.startInputLoop('in', async (_index: number, raw: NdChunk) => {
      const chunk = raw.strides ? toChunk(raw, raw.shape.slice(1)) : raw;
      this.#received += chunk.shape[0] as number;
      const ready = chunker.push(this.#received, chunk, this.#out);
      try {
        for (const [i, c] of ready) await this.sendOn(out, c, i);
      } finally {
        ready.length = 0;
      }
    });
  }
}
