// StreamConverter (Pyacq's): relays its input to an output with another transfer mode or
// protocol (sharedmem -> tcp, tcp -> inproc, ...), casting to the output's dtype when it differs,
// with the same index. configureOutput('out', { ... }) starts from the input's params.
import { cast } from '../filters.js';
import { Node } from '../node.js';
import type { NdChunk, StreamDType, StreamSpec } from '../transfer.js';

/** Fields a converter's output takes from its input unless the caller gives them. */
export const RELAYED_FIELDS = ['streamtype', 'dtype', 'shape', 'sampleRate', 'units', 'fill'] as const;

export class StreamConverter extends Node {
  static override inputSpecs = { in: {} };
  static override outputSpecs = { out: {} };
  /** Params where the output differs from the input (Pyacq's `conversions`), set by initialize(). */
  conversions: Record<string, [unknown, unknown]> = {};

  protected _configure(): void {}

  protected override outputDefaults(): Partial<StreamSpec> {
    const input = this.inputs['in'];
    if (!input?.connected) return {};
    const p = input.params;
    const out: Record<string, unknown> = {};
    for (const k of RELAYED_FIELDS) out[k] = p[k];
    return out;
  }

  protected override _initialize(): void {
    const a = (this.inputs['in'] as NonNullable<(typeof this.inputs)['in']>).params;
    const b = this.outputParams('out');
    this.conversions = {};
    for (const k of ['protocol', 'transfermode', ...RELAYED_FIELDS] as const) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) this.conversions[k] = [a[k], b[k]];
    }
  }

  protected override _start(): void {
    const out = this.outputs['out'] as NonNullable<(typeof this.outputs)['out']>;
    const toDtype = cast(out.params.dtype as StreamDType);
    this.startInputLoop('in', (index: number, chunk: NdChunk) => this.sendOn(out, toDtype(index, chunk)[1], index));
  }
}
