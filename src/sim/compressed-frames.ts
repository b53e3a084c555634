// Frames published compressed, as areaDetector's NDPluginCodec publishes them (and PvaPy's
// generateNtNdArray with a compressor): the compressed bytes in ubyteValue, codec.name the codec,
// codec.parameters the pvData type code of the pixels, compressedSize and uncompressedSize.
// Cached frames are compressed once, up front; streamed ones as they are published.
import { InvalidArgumentError } from '../errors.js';
import { compress, CODECS, isCodecName, type CodecName } from '../pvdata/nt/codec/index.js';
import { dataTypeOfUnionField } from '../pvdata/nt/ntndarray.js';
import { SCALAR_TYPES, t } from '../pvdata/types.js';
import type { PVStructure, PVTypedArray } from '../pvdata/values.js';
import type { SimFrames } from './frame-cache.js';

/** A frame's NTNDArray with its pixels compressed by `codec` (other fields shared, not copied). */
export function compressFrame(value: PVStructure, codec: CodecName): PVStructure {
  const union = value['value'] as { field: string; value: PVTypedArray };
  const dtype = dataTypeOfUnionField(union.field);
  if (!dtype) throw new InvalidArgumentError(`cannot compress a frame whose value is ${union.field}`);
  const packed = compress(codec, union.value);
  return {
    ...value,
    value: { field: 'ubyteValue', value: packed },
    codec: { name: codec, parameters: { type: t.int, value: SCALAR_TYPES.indexOf(dtype) } },
    compressedSize: BigInt(packed.length),
    uncompressedSize: BigInt(union.value.byteLength),
  };
}

export class CompressedFrames implements SimFrames {
  readonly codec: CodecName;
  readonly source: SimFrames;
  readonly #done = new Map<PVStructure, PVStructure>();
  /** Compressed bytes of the frames compressed so far, and how many. */
  compressedBytes = 0;
  compressedFrames = 0;

  constructor(source: SimFrames, codec: string) {
    if (!isCodecName(codec)) throw new InvalidArgumentError(`compressor '${codec}' is not supported; use one of ${CODECS.join(', ')}`);
    this.codec = codec;
    this.source = source;
    if (!source.streaming) for (let i = 0; i < source.size; i++) this.frame(i);
  }

  get dims(): readonly number[] {
    return this.source.dims;
  }
  get frameBytes(): number {
    return this.source.frameBytes;
  }
  get size(): number {
    return this.source.size;
  }
  get limit(): number {
    return this.source.limit;
  }
  get streaming(): boolean {
    return this.source.streaming;
  }

  initial(): PVStructure {
    return this.#compress(this.source.initial());
  }

  frame(index: number): PVStructure {
    return this.#compress(this.source.frame(index));
  }

  ready(index: number, signal: AbortSignal): Promise<boolean> | undefined {
    return this.source.ready?.(index, signal);
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }

  #compress(value: PVStructure): PVStructure {
    const known = this.#done.get(value);
    if (known) return known;
    const out = compressFrame(value, this.codec);
    this.compressedBytes += Number(out['compressedSize']);
    this.compressedFrames++;
    if (!this.source.streaming) this.#done.set(value, out); // recycled frames: compress once
    return out;
  }
}
