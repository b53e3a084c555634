// The seam between a stream and the way its chunks travel. A stream (OutputStream/InputStream)
// knows its spec, index and filters; a transfer mode knows how chunks get from one process or
// thread to another. Modes are registered by name, as Pyacq's are, so more can be added
// (the built-in ones: tcp over a pvAccess monitor, inproc, sharedmem).
import type { ScalarType } from '../pvdata/types.js';
import type { PVTypedArray } from '../pvdata/values.js';

/** Element types a stream may carry (numpy names, as Pyacq's `dtype`). */
export type StreamDType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export type StreamType = 'analogsignal' | 'digitalsignal' | 'event' | 'image/video';

/**
 * A chunk of a stream: `shape[0]` samples (axis 0 is time) of `shape.slice(1)` each, in `data`
 * (C order unless `strides` says otherwise; strides in elements). `data` may be a view into a
 * larger buffer; receivers must not keep it past the next recv() unless the mode says it is theirs.
 */
export interface NdChunk {
  data: PVTypedArray;
  shape: readonly number[];
  strides?: readonly number[];
}

/** What `configure()` accepts; every field has a default (see streams/spec.ts). */
export interface StreamSpec {
  protocol: 'tcp' | 'inproc';
  /** Bind address for tcp. */
  interface: string;
  /** tcp port; 0 picks a free one (written back after binding). */
  port: number;
  transfermode: string;
  streamtype: StreamType;
  dtype: StreamDType;
  /** Frame shape; shape[0] is -1 (any chunk length) or a fixed chunk length. */
  shape: readonly number[];
  /** Memory axis order of ring buffers (null: C order). */
  axisorder: readonly number[] | null;
  /** Ring size in samples (sharedmem, and inputs' setBuffer default). */
  bufferSize: number;
  /** Double ring: every window is one contiguous view. */
  double: boolean;
  /** Value written into gaps (null: NaN for floats, 0 otherwise). */
  fill: number | bigint | null;
  sampleRate: number;
  units: string;
  /** Re-chunk to exactly this many samples per chunk (0: send chunks as given). */
  chunkSize: number;
  /** '' or a codec name of pvdata/nt/codec (lz4, zlib, blosc, ...). */
  compression: string;
  /** Unknown keys travel to the receiver, as Pyacq's params do. */
  [extra: string]: unknown;
}

/** What an input needs to reach an output: the spec plus the mode's own fields (structured-cloneable). */
export type ConnectParams = StreamSpec & Record<string, unknown>;

/** The sending half of a transfer mode, owned by one OutputStream. */
export interface StreamSender {
  /** The params inputs connect with (mode fields filled in after binding). */
  readonly params: ConnectParams;
  /**
   * Send one chunk ending at absolute sample `index` (last sample + 1). False asks the caller to
   * wait for drained() before sending more (a lossless reader is behind); never throws for a slow reader.
   */
  send(index: number, chunk: NdChunk): boolean;
  drained(): Promise<void>;
  /** Drops counted for readers with the drop-oldest policy (per reader id). */
  stats(): { sent: number; bytes: number; readers: number; dropped: number };
  close(): Promise<void>;
}

/** The receiving half, owned by one InputStream. */
export interface StreamReceiver {
  /** The next chunk, or null once the output closed (or the receiver was closed). */
  recv(): Promise<{ index: number; chunk: NdChunk } | null>;
  /** Chunks received, and chunks this reader's own queue dropped (drop-oldest policy). */
  stats?(): { received: number; dropped: number };
  /** Chunks that arrived for this reader and that recv() would return without waiting. */
  queued(): number;
  /**
   * Throw away the chunks queued() counts (Pyacq's empty_queue) and return how many. Chunks still
   * on the way (a server's queue, a socket) are not touched; the end of the stream is kept.
   */
  discardQueued(): number;
  close(): Promise<void>;
}

/** Reader policy for fan-out: lossless (back-pressure to the writer) or drop-oldest (counted). */
export type ReaderPolicy = 'lossless' | 'drop-oldest';

export interface ReceiverOptions {
  policy: ReaderPolicy;
  /** Chunks queued per reader before the policy applies. */
  queueSize: number;
}

export interface TransferMode {
  readonly name: string;
  createSender(spec: StreamSpec): Promise<StreamSender>;
  createReceiver(params: ConnectParams, options: ReceiverOptions): Promise<StreamReceiver>;
}

const modes = new Map<string, TransferMode>();

export function registerTransferMode(mode: TransferMode): void {
  modes.set(mode.name, mode);
}

export function transferMode(name: string): TransferMode | undefined {
  return modes.get(name);
}

export function transferModes(): string[] {
  return [...modes.keys()];
}

/** numpy dtype name -> pvData scalar type. */
export const STREAM_DTYPES: Record<StreamDType, ScalarType> = {
  int8: 'byte',
  uint8: 'ubyte',
  int16: 'short',
  uint16: 'ushort',
  int32: 'int',
  uint32: 'uint',
  int64: 'long',
  uint64: 'ulong',
  float32: 'float',
  float64: 'double',
};
