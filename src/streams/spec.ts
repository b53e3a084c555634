// configure()'s parameters: Pyacq's defaults and checks, under our camelCase names. The spec is
// what travels to inputs (ConnectParams), so unknown keys are kept, as Pyacq keeps them.
import { InvalidArgumentError } from '../errors.js';
import { STREAM_DTYPES, type StreamDType, type StreamSpec, type StreamType } from './transfer.js';

export const STREAM_TYPES: readonly StreamType[] = ['analogsignal', 'digitalsignal', 'event', 'image/video'];

/** Defaults of every field (Pyacq's, except port 0 for "any" instead of '*'). */
export const DEFAULT_SPEC: Readonly<StreamSpec> = Object.freeze({
  protocol: 'tcp',
  interface: '127.0.0.1',
  port: 0,
  transfermode: 'plaindata',
  streamtype: 'analogsignal',
  dtype: 'float32',
  shape: [-1, 1],
  axisorder: null,
  bufferSize: 0,
  double: false,
  fill: null,
  sampleRate: 1,
  units: '',
  chunkSize: 0,
  compression: '',
});

/** Events are (time, value) records: one float64 row of two columns per event. */
export const EVENT_SHAPE: readonly number[] = [-1, 2];

const KNOWN = new Set(Object.keys(DEFAULT_SPEC));

function bad(message: string): never {
  throw new InvalidArgumentError(`stream spec: ${message}`);
}

export function isStreamDType(name: unknown): name is StreamDType {
  return typeof name === 'string' && Object.hasOwn(STREAM_DTYPES, name);
}

function checkShape(shape: unknown, streamtype: StreamType): number[] {
  if (!Array.isArray(shape) || shape.length === 0) bad(`shape must be a non-empty array (axis 0 is time), not ${JSON.stringify(shape)}`);
  const out = shape.map((n: unknown, i) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) bad(`shape[${i}] must be an integer, not ${String(n)}`);
    if (i === 0 ? n === 0 || n < -1 : n <= 0) {
      bad(i === 0 ? `shape[0] must be -1 (any chunk length) or a chunk length > 0, not ${n}` : `shape[${i}] must be > 0, not ${n}`);
    }
    return n;
  });
  if (streamtype === 'image/video' && out.length < 3)
    bad(`an image/video stream has shape [-1, height, width(, colors)], not ${JSON.stringify(out)}`);
  if (streamtype === 'event' && (out.length !== 2 || out[1] !== 2))
    bad(`an event stream has shape [-1, 2] (time, value), not ${JSON.stringify(out)}`);
  return out;
}

/**
 * The full spec from configure()'s parameters: defaults for what is missing, every known field
 * checked (ERR_INVALID_ARGUMENT naming the field), unknown fields kept as given. An event stream
 * defaults to dtype float64 and shape [-1, 2].
 */
export function normalizeSpec(params: Partial<StreamSpec> & Record<string, unknown> = {}): StreamSpec {
  if (params === null || typeof params !== 'object') bad(`parameters must be an object, not ${String(params)}`);
  const streamtype = params.streamtype ?? DEFAULT_SPEC.streamtype;
  if (!STREAM_TYPES.includes(streamtype)) bad(`streamtype '${String(streamtype)}' is not one of ${STREAM_TYPES.join(', ')}`);
  const event = streamtype === 'event';
  const spec: StreamSpec = {
    ...DEFAULT_SPEC,
    ...(event ? { dtype: 'float64', shape: EVENT_SHAPE } : {}),
    ...params,
    streamtype,
  } as StreamSpec;
  if (spec.protocol !== 'tcp' && spec.protocol !== 'inproc') bad(`protocol '${String(spec.protocol)}' is not tcp or inproc`);
  if (typeof spec.interface !== 'string') bad(`interface must be an address text, not ${String(spec.interface)}`);
  if (!Number.isSafeInteger(spec.port) || spec.port < 0 || spec.port > 65535)
    bad(`port must be 0 (any) to 65535, not ${String(spec.port)}`);
  if (typeof spec.transfermode !== 'string' || spec.transfermode === '')
    bad(`transfermode must be a mode name, not ${String(spec.transfermode)}`);
  if (!isStreamDType(spec.dtype)) bad(`dtype '${String(spec.dtype)}' is not one of ${Object.keys(STREAM_DTYPES).join(', ')}`);
  spec.shape = checkShape(spec.shape, streamtype);
  if (event && spec.dtype !== 'float64') bad(`an event stream carries float64 (time, value) rows, not ${spec.dtype}`);
  if (spec.axisorder !== null) {
    const order = spec.axisorder;
    const n = spec.shape.length;
    const valid = Array.isArray(order) && order.length === n && [...order].sort((a, b) => a - b).every((v, i) => v === i);
    if (!valid) bad(`axisorder must be a permutation of 0..${n - 1}, not ${JSON.stringify(order)}`);
    spec.axisorder = [...order];
  }
  if (!Number.isSafeInteger(spec.bufferSize) || spec.bufferSize < 0)
    bad(`bufferSize must be a sample count >= 0, not ${String(spec.bufferSize)}`);
  if (typeof spec.double !== 'boolean') bad(`double must be true or false, not ${String(spec.double)}`);
  if (spec.fill !== null && typeof spec.fill !== 'number' && typeof spec.fill !== 'bigint')
    bad(`fill must be a number or null, not ${String(spec.fill)}`);
  if (typeof spec.sampleRate !== 'number' || !(spec.sampleRate > 0)) bad(`sampleRate must be > 0 Hz, not ${String(spec.sampleRate)}`);
  if (typeof spec.units !== 'string') bad(`units must be a text, not ${String(spec.units)}`);
  if (!Number.isSafeInteger(spec.chunkSize) || spec.chunkSize < 0)
    bad(`chunkSize must be a sample count >= 0, not ${String(spec.chunkSize)}`);
  const fixed = spec.shape[0] as number;
  if (spec.chunkSize > 0 && fixed > 0 && fixed !== spec.chunkSize) bad(`chunkSize ${spec.chunkSize} contradicts shape[0] ${fixed}`);
  if (typeof spec.compression !== 'string') bad(`compression must be '' or a codec name, not ${String(spec.compression)}`);
  return spec;
}

/** Fields of the spec that are not Pyacq's standard ones (they travel to the receiver as they are). */
export function extraFields(spec: StreamSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) if (!KNOWN.has(k)) out[k] = v;
  return out;
}

/** Does `actual` (an output's shape) satisfy `wanted` (an input's), -1 matching any length? */
export function shapeMatches(wanted: readonly number[], actual: readonly number[]): boolean {
  return wanted.length === actual.length && wanted.every((w, i) => w === -1 || actual[i] === -1 || w === actual[i]);
}
