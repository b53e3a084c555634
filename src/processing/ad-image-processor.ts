// Base class for processors of Area Detector frames (NTNDArray), after PvaPy's AdImageProcessor:
// the image helpers of nd-image.ts as methods, and an NTNDArray input type so that the `pvas`
// input mode (clients put frames into a PV we host) works without more code. Without overrides
// it republishes its input, like UserDataProcessor, which makes it a passthrough for benchmarks.
import { ntndarray } from '../pvdata/nt/ntndarray.js';
import type { FieldDesc, StructureDesc } from '../pvdata/types.js';
import type { PVStructure, PVTypedArray } from '../pvdata/values.js';
import {
  dimsOf,
  frameOf,
  outputTypeWith,
  replaceImage,
  toNtNdArray,
  type Frame,
  type ImageGeometry,
  type ToNtNdArrayOptions,
} from './nd-image.js';
import { UserDataProcessor } from './user-data-processor.js';

export class AdImageProcessor extends UserDataProcessor {
  /**
   * The image of an NTNDArray with its geometry; `data` is the frame's own array (no copy).
   * Compressed frames (NDPluginCodec lz4, lz4hdf5, bslz4, blosc, zlib) are decoded, once per frame;
   * a payload that cannot be decoded throws ERR_CODEC, dimensions that do not fit the colour mode ERR_PROCESSOR.
   */
  frameOf(value: PVStructure): Frame {
    return frameOf(value);
  }

  /** A new NTNDArray from pixels; `extra` adds top-level fields (declare them with outputTypeWith()). */
  toNtNdArray(data: PVTypedArray, opts: ToNtNdArrayOptions): PVStructure {
    return toNtNdArray(data, opts);
  }

  /**
   * `value` with its image replaced and every other field kept (cheaper than toNtNdArray());
   * `dims` as in NTNDArray (fastest first), or a geometry ({ nx, ny, nz?, colorMode? }).
   */
  replaceImage(value: PVStructure, data: PVTypedArray, dims: number[] | ImageGeometry): PVStructure {
    return replaceImage(value, data, Array.isArray(dims) ? dims : dimsOf(dims));
  }

  /** NTNDArray plus extra top-level fields: return it from getOutputType() when publishing extended frames. */
  outputTypeWith(extraFields: Record<string, FieldDesc>): StructureDesc {
    return outputTypeWith(extraFields);
  }

  /** An empty NTNDArray, so that the `pvas` input mode can host the input PV. */
  override getInputType(): StructureDesc | null {
    return ntndarray.type();
  }
}
