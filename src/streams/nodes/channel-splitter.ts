// ChannelSplitter (Pyacq's): configure({ outputChannels: { name: [channel indices] } }); when
// its input connects it creates one output per group (same stream type, dtype and sample rate,
// shape [-1, n]) and sends each its columns of every chunk, with the input's index. The outputs
// are configured with configureOutput(name, params) (protocol, transfer mode...) before initialize().
import { InvalidArgumentError } from '../../errors.js';
import type { PVTypedArray } from '../../pvdata/values.js';
import { toChunk } from '../chunk.js';
import { Node } from '../node.js';
import type { NdChunk, StreamSpec } from '../transfer.js';

export class ChannelSplitter extends Node {
  static override inputSpecs = { in: { shape: [-1, -1] } };
  #groups: Record<string, number[]> = {};

  get outputChannels(): Record<string, number[]> {
    return this.#groups;
  }

  protected _configure(options: Record<string, unknown>): void {
    const groups = options['outputChannels'];
    if (groups === null || typeof groups !== 'object' || Array.isArray(groups) || Object.keys(groups).length === 0) {
      throw new InvalidArgumentError(`ChannelSplitter: outputChannels must be { name: [channel indices] }, not ${JSON.stringify(groups)}`);
    }
    const checked: Record<string, number[]> = {};
    for (const [name, list] of Object.entries(groups as Record<string, unknown>)) {
      if (!Array.isArray(list) || list.length === 0 || !list.every((c) => Number.isSafeInteger(c) && (c as number) >= 0))
        throw new InvalidArgumentError(`ChannelSplitter: outputChannels.${name} must be a non-empty list of channel indices >= 0`);
      checked[name] = [...(list as number[])];
    }
    this.#groups = checked;
  }

  protected override afterInputConnect(): void {
    const p = (this.inputs['in'] as NonNullable<(typeof this.inputs)['in']>).params;
    const n = p.shape[1] as number;
    for (const [name, list] of Object.entries(this.#groups)) {
      const bad = list.find((c) => c >= n);
      if (bad !== undefined) throw new InvalidArgumentError(`ChannelSplitter: output '${name}' wants channel ${bad}, the input has ${n}`);
      if (!Object.hasOwn(this.outputs, name)) this.addOutput(name);
    }
  }

  protected override outputDefaults(name: string): Partial<StreamSpec> {
    const input = this.inputs['in'];
    if (!input?.connected) return {};
    const p = input.params;
    const n = this.#groups[name]?.length ?? 1;
    return { streamtype: 'analogsignal', dtype: p.dtype, sampleRate: p.sampleRate, units: p.units, shape: [-1, n] };
  }

  protected override _start(): void {
    const groups = Object.entries(this.#groups).map(([name, list]) => ({ out: this.outputs[name], list }));
    this.startInputLoop('in', async (index: number, raw: NdChunk) => {
      const chunk = toChunk(raw, raw.shape.slice(1));
      const rows = chunk.shape[0] as number;
      const width = chunk.shape[1] as number;
      const src = chunk.data;
      for (const { out, list } of groups) {
        if (!out) continue;
        const Ctor = src.constructor as new (n: number) => PVTypedArray;
        const m = list.length;
        const data = new Ctor(rows * m) as Float64Array;
        const from = src as Float64Array;
        for (let r = 0; r < rows; r++) {
          const base = r * width;
          for (let j = 0; j < m; j++) data[r * m + j] = from[base + (list[j] as number)] as number;
        }
        await this.sendOn(out, { data, shape: [rows, m] }, index);
      }
    });
  }
}
