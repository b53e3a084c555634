// Base class for processors of Area Detector frames (NTNDArray), after PvaPy's AdImageProcessor:
// the image helpers of nd-image.ts as methods, and an NTNDArray input type so that the `pvas`
// input mode (clients put frames into a PV we host) works without more code. Without overrides
// it republishes its input, like UserDataProcessor, which makes it a passthrough for benchmarks.
import { SluiceError } from '../errors.js';
import { timeNow } from '../pvdata/nt/common.js';
import { ntndarray } from '../pvdata/nt/ntndarray.js';
import type { FieldDesc, StructureDesc } from '../pvdata/types.js';
import { scalarTypeOfArray, type PVStructure, type PVTypedArray, type PVValue } from '../pvdata/values.js';
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
  override getInputPvObjectType(): StructureDesc | null {
    return ntndarray.type();
  }

  // PvaPy's AdImageProcessor helpers under their own names. Where PvaPy takes or returns a NumPy
  // image, these take or return the flat typed array (row-major, as Frame.shape says) and the
  // geometry separately.

  /**
   * PvaPy's reshapeNtNdArray(): [imageId, image, nx, ny, nz, colorMode, fieldKey]; nz is null for
   * a mono image, and everything but the id is null for an empty frame, as in PvaPy.
   */
  reshapeNtNdArray(ntNdArray: PVStructure): ReshapedNtNdArray {
    const f = frameOf(ntNdArray);
    if (f.data.length === 0) return [f.id, null, null, null, null, null, null];
    return [f.id, f.data, f.nx, f.ny, f.nz === 1 && f.shape.length === 2 ? null : f.nz, f.colorMode, `${f.dtype}Value`];
  }

  /** PvaPy's getNtNdArrayDataFieldKey(): the NTNDArray `value` member for this array ('ushortValue'...). */
  getNtNdArrayDataFieldKey(image: PVTypedArray): string {
    const dtype = scalarTypeOfArray(image);
    if (!dtype) throw new SluiceError('ERR_PROCESSOR', 'getNtNdArrayDataFieldKey needs a TypedArray');
    return `${dtype}Value`;
  }

  /**
   * PvaPy's generateNtNdArray2D(): a new mono NTNDArray. The image is a flat array of ny rows of
   * nx pixels (nx and ny are needed here, where NumPy carries the shape), or { data, nx, ny }.
   * Compressed images (dtype, compressorName) are not made here.
   */
  generateNtNdArray2D(
    imageId: number,
    image: PVTypedArray | Image2D,
    nx?: number,
    ny?: number,
    _dtype?: unknown,
    compressorName?: string | null,
    extraFields?: Record<string, PVValue> | null,
  ): PVStructure {
    if (compressorName)
      throw new SluiceError('ERR_PROCESSOR', `generateNtNdArray2D: compressed images (${compressorName}) are not supported`);
    const img = image2D(image, nx, ny, 'generateNtNdArray2D');
    return toNtNdArray(img.data, { uniqueId: imageId, nx: img.nx, ny: img.ny, ...(extraFields ? { extra: extraFields } : {}) });
  }

  /**
   * PvaPy's replaceNtNdArrayImage2D(): `ntNdArray` with a new mono image, uniqueId and time stamps
   * (now), other fields kept; extra fields set on top. A flat array keeps the dimensions of
   * `ntNdArray` (it must have as many pixels); { data, nx, ny } gives new ones. Returns a new
   * object (PvaPy changes its argument): publish the return value.
   */
  replaceNtNdArrayImage2D(
    ntNdArray: PVStructure,
    imageId: number,
    image: PVTypedArray | Image2D,
    extraFields?: Record<string, PVValue> | null,
  ): PVStructure {
    let img: Image2D;
    if (ArrayBuffer.isView(image)) {
      const dims = (ntNdArray['dimension'] as { size: number }[] | undefined) ?? [];
      img = image2D(image, dims[0]?.size, dims[1]?.size, 'replaceNtNdArrayImage2D');
    } else {
      img = image2D(image, undefined, undefined, 'replaceNtNdArrayImage2D');
    }
    const out = replaceImage(ntNdArray, img.data, dimsOf({ nx: img.nx, ny: img.ny }));
    const now = timeNow();
    out['uniqueId'] = imageId;
    out['timeStamp'] = now;
    out['dataTimeStamp'] = now;
    if (extraFields) Object.assign(out, extraFields);
    return out;
  }
}

/** A mono image as a flat row-major array with its size. */
export interface Image2D {
  data: PVTypedArray;
  nx: number;
  ny: number;
}

/** What PvaPy's reshapeNtNdArray() returns: [imageId, image, nx, ny, nz, colorMode, fieldKey]. */
export type ReshapedNtNdArray =
  [number, PVTypedArray, number, number, number | null, number, string] | [number, null, null, null, null, null, null];

function image2D(image: PVTypedArray | Image2D, nx: number | undefined, ny: number | undefined, what: string): Image2D {
  const img = ArrayBuffer.isView(image) ? { data: image, nx, ny } : image;
  if (!Number.isSafeInteger(img.nx) || !Number.isSafeInteger(img.ny)) {
    throw new SluiceError('ERR_PROCESSOR', `${what}: give nx and ny with a flat image array (or { data, nx, ny })`);
  }
  return img as Image2D;
}
