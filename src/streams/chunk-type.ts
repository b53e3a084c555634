// The pvAccess structure one stream chunk travels in (tcp mode), normative-style so that
// `pvmonitor` and `sluice monitor` can read it:
//
//   structure sluice:nt/NTStreamChunk:1.0
//     union value          NTNDArray's: byteValue ... doubleValue (ubyteValue when compressed)
//     long index           absolute index of the last sample + 1
//     int[] shape          chunk shape, C order, shape[0] samples (axis 0 is time)
//     string dtype         numpy name of the decoded elements (float32, uint16, ...)
//     codec_t codec        { string name ('' = none), any parameters (unused: null) }
//     long compressedSize  bytes in value (when compressed)
//     long uncompressedSize bytes of the decoded array
//     double sampleRate    Hz, from the spec
//     string streamtype    analogsignal | digitalsignal | event | image/video
//     time_t timeStamp     when the chunk was sent
//
// The reader checks every field against the spec it connected with before it trusts a size, so
// a hostile or broken writer gets a clear error, never a crash or a large allocation.
import { SluiceError } from '../errors.js';
import { codecT, ndValueT } from '../pvdata/nt/ntndarray.js';
import { timeNow, timeT } from '../pvdata/nt/common.js';
import { compress, decompress, isCodecName, MAX_DECODED_BYTES } from '../pvdata/nt/codec/index.js';
import { t } from '../pvdata/types.js';
import { ELEMENT_SIZE, type PVStructure, type PVTypedArray } from '../pvdata/values.js';
import { dtypeOf, elementCount } from './ndarray.js';
import { isStreamDType } from './spec.js';
import { STREAM_DTYPES, type NdChunk, type StreamSpec } from './transfer.js';

export const NT_STREAM_CHUNK_ID = 'sluice:nt/NTStreamChunk:1.0';

export const streamChunkT = t.struct(
  {
    value: ndValueT,
    index: t.long,
    shape: t.array('int'),
    dtype: t.string,
    codec: codecT,
    compressedSize: t.long,
    uncompressedSize: t.long,
    sampleRate: t.double,
    streamtype: t.string,
    timeStamp: timeT,
  },
  NT_STREAM_CHUNK_ID,
);

/** The structure for one chunk; the array is referenced (no copy) unless `spec.compression` compresses it. */
export function buildStreamChunk(index: number, chunk: NdChunk, spec: StreamSpec): PVStructure {
  const data = chunk.data;
  const bytes = data.byteLength;
  let value: { field: string; value: PVTypedArray };
  let codec = '';
  if (spec.compression !== '') {
    codec = spec.compression;
    value = { field: 'ubyteValue', value: compress(codec, data) };
  } else {
    value = { field: `${STREAM_DTYPES[spec.dtype]}Value`, value: data };
  }
  return {
    value,
    index,
    shape: Int32Array.from(chunk.shape),
    dtype: spec.dtype,
    codec: { name: codec, parameters: null },
    compressedSize: codec === '' ? bytes : value.value.byteLength,
    uncompressedSize: bytes,
    sampleRate: spec.sampleRate,
    streamtype: spec.streamtype,
    timeStamp: timeNow(),
  };
}

function bad(source: string, message: string): SluiceError {
  return new SluiceError('ERR_DECODE', `stream chunk from ${source}: ${message}`);
}

function int(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
}

/**
 * Read one received chunk structure, checked against the spec the input connected with: type id,
 * dtype, shape (trailing dimensions as the spec's), data length, codec and sizes. Uncompressed
 * arrays are returned as received (views of the socket's bytes when aligned).
 */
export function readStreamChunk(typeId: string, v: PVStructure, spec: StreamSpec, source: string): { index: number; chunk: NdChunk } {
  if (typeId !== NT_STREAM_CHUNK_ID) throw bad(source, `type is '${typeId}', not ${NT_STREAM_CHUNK_ID}`);
  const index = int(v['index']);
  const dtype = v['dtype'];
  if (!isStreamDType(dtype)) throw bad(source, `dtype '${String(dtype)}' is not a stream dtype`);
  if (dtype !== spec.dtype) throw bad(source, `dtype ${dtype} is not the stream's ${spec.dtype}`);
  const rawShape = v['shape'] as ArrayLike<number> | undefined;
  if (!rawShape || typeof rawShape.length !== 'number') throw bad(source, 'no shape');
  const shape = Array.from(rawShape, Number);
  const want = spec.shape;
  if (shape.length !== want.length)
    throw bad(source, `shape [${shape.join(', ')}] has ${shape.length} dimensions, the stream ${want.length}`);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i] as number;
    const w = want[i] as number;
    if (!Number.isSafeInteger(d) || d < 0 || (w !== -1 && d !== w))
      throw bad(source, `shape [${shape.join(', ')}] does not fit the stream's [${want.join(', ')}]`);
  }
  const n = shape[0] as number;
  if (!Number.isSafeInteger(index) || index < n)
    throw bad(source, `index ${String(v['index'])} is not an index >= the chunk's ${n} samples`);
  const size = STREAM_DTYPES[dtype];
  const elements = elementCount(shape);
  const bytes = elements * ELEMENT_SIZE[size];
  if (bytes > MAX_DECODED_BYTES)
    throw bad(source, `shape [${shape.join(', ')}] is ${bytes} bytes, more than the ${MAX_DECODED_BYTES}-byte limit`);
  const union = v['value'] as { field?: unknown; value?: unknown } | null;
  const codec = (v['codec'] as { name?: unknown } | undefined)?.name ?? '';
  if (union === null || typeof union !== 'object') throw bad(source, 'no value');
  const payload = union.value;
  if (codec === '') {
    if (union.field !== `${size}Value` || dtypeOf(payload) !== dtype)
      throw bad(source, `value is ${String(union.field)}, the stream carries ${dtype} (${size}Value)`);
    const data = payload as PVTypedArray;
    if (data.length !== elements) throw bad(source, `shape [${shape.join(', ')}] needs ${elements} elements, value has ${data.length}`);
    return { index, chunk: { data, shape } };
  }
  if (typeof codec !== 'string' || !isCodecName(codec))
    throw new SluiceError('ERR_CODEC', `stream chunk from ${source}: codec '${String(codec)}' is not supported`);
  if (union.field !== 'ubyteValue' || !(payload instanceof Uint8Array))
    throw bad(source, `compressed value is ${String(union.field)}, not ubyteValue`);
  const compressed = int(v['compressedSize']);
  const uncompressed = int(v['uncompressedSize']);
  if (compressed !== payload.length)
    throw new SluiceError('ERR_CODEC', `stream chunk from ${source}: compressedSize ${compressed} but ${payload.length} bytes came`);
  if (uncompressed !== bytes)
    throw new SluiceError(
      'ERR_CODEC',
      `stream chunk from ${source}: uncompressedSize ${uncompressed} but shape [${shape.join(', ')}] of ${dtype} is ${bytes} bytes`,
    );
  return { index, chunk: { data: decompress(codec, payload, size, bytes), shape } };
}
