// The `sharedmem` mode between processes. Node cannot map memory, so the ring is a file in
// /dev/shm (a RAM file system; os.tmpdir() where it is absent): the writer writes each chunk at
// its place with positional writes, readers read it with positional reads into a buffer of their
// own (one copy on each side), and only (index, length) travels, as a small pvAccess PV that
// readers monitor. The file starts with the ring's two int64 counters, as Pyacq's shared ring:
//
//    0 write index  int64 (end of the region being overwritten; written before the data)
//    8 read index   int64 (end of what is fully written; written after the data)
//   16 magic 'SLUICERB', 24 size in samples (int64), 32 frame bytes (int64), 40 double (int32),
//   44 axes in axisorder (int32, 0: C order), 48 axisorder (one byte per axis, at most 16)
//
// Data from byte 64, laid out as the RingBuffer's (ring-layout.ts): 2 x size samples when
// double (every window of the file one contiguous range, as Pyacq's double ring), the axes in
// axisorder. Readers read a range in the ring's axis order and get it with strides.
//
// A reader checks the write index after reading: what was overwritten meanwhile is dropped and
// counted. Lossless readers monitor with pipeline flow control, so their unconsumed updates make
// the writer's send() return false; drop-oldest readers monitor another PV that never holds the
// writer back.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileError, InvalidArgumentError, SluiceError } from '../errors.js';
import { SharedPV } from '../pv/shared-pv.js';
import { PvaClient } from '../pva/client/client.js';
import type { MonitorUpdate, PvaSubscription } from '../pva/client/subscription.js';
import { PvaServer } from '../pva/server/server.js';
import { t } from '../pvdata/types.js';
import {
  chunkFrames,
  cOrderStrides,
  dtypeOf,
  fillValueFor,
  elementCount,
  makeTypedArray,
  stridedCopy,
  typedArrayClass,
} from './ndarray.js';
import { RingLayout, type RingSpan } from './ring-layout.js';
import { ringShape } from './sharedmem-threads.js';
import type { ConnectParams, NdChunk, ReceiverOptions, StreamReceiver, StreamSender, StreamSpec } from './transfer.js';

const HEADER_BYTES = 64;
const MAX_ORDER_AXES = 16;

/** The header's description of a ring (what readers check against the params). */
function headerOf(layout: RingLayout, frameBytes: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 16);
  header.writeBigInt64LE(BigInt(layout.size), 24);
  header.writeBigInt64LE(BigInt(frameBytes), 32);
  header.writeInt32LE(layout.double ? 1 : 0, 40);
  const order = layout.cOrder ? [] : (layout.axisorder as readonly number[]);
  header.writeInt32LE(order.length, 44);
  order.forEach((a, k) => header.writeUInt8(a, 48 + k));
  return header;
}

/** The ring's layout from the params; an axisorder the header cannot hold is refused. */
function layoutOf(spec: StreamSpec): RingLayout {
  const layout = new RingLayout({ shape: ringShape(spec), double: spec.double === true, axisorder: spec.axisorder });
  if (!layout.cOrder && (layout.axisorder as readonly number[]).length > MAX_ORDER_AXES)
    throw new InvalidArgumentError(`sharedmem between processes: axisorder has more than ${MAX_ORDER_AXES} axes`);
  return layout;
}

/** Positional I/O of `n` samples at absolute `start`, block laid out in the ring's axis order, run by run. */
function ringIO(
  layout: RingLayout,
  spans: RingSpan[],
  n: number,
  elementBytes: number,
  io: (blockByte: number, bytes: number, fileByte: number) => number,
): number {
  let done = 0;
  for (const span of spans)
    layout.runs(span, n, (m, b, len) => (done += io(b * elementBytes, len * elementBytes, HEADER_BYTES + m * elementBytes)));
  return done;
}
const MAGIC = Buffer.from('SLUICERB', 'latin1');
/** One chunk's place in the ring; `closed` marks the end of the stream (the last update). */
const controlType = t.struct({ index: t.long, length: t.long, closed: t.boolean }, 'sluice:stream/ShmChunk:1.0');

/** Where ring files go: /dev/shm when the system has it (memory), else the temp directory. */
export function ringDirectory(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export interface ControlAddress {
  host: string;
  port: number;
  /** PV name prefix: `${name}:lossless` (pipelined) and `${name}:latest`. */
  name: string;
}

export class FileRingSender implements StreamSender {
  readonly params: ConnectParams;
  readonly path: string;
  readonly #fd: number;
  readonly #size: number;
  readonly #layout: RingLayout;
  readonly #frame: readonly number[];
  readonly #frameBytes: number;
  readonly #elementBytes: number;
  /** Chunks that are strided or go to a ring with an axisorder are laid out here first. */
  #stage: Uint8Array = new Uint8Array(0);
  readonly #server: PvaServer;
  readonly #lossless: SharedPV;
  readonly #latest: SharedPV;
  readonly #counter = Buffer.alloc(8);
  readonly #fill: Uint8Array;
  readonly #removeOnExit: () => void;
  #index = 0;
  #sent = 0;
  #bytes = 0;
  #closed = false;

  private constructor(spec: StreamSpec, server: PvaServer, control: ControlAddress) {
    this.#layout = layoutOf(spec);
    this.#size = this.#layout.size;
    const frame = this.#layout.frameShape;
    this.#frame = frame;
    this.#elementBytes = typedArrayClass(spec.dtype).BYTES_PER_ELEMENT;
    this.#frameBytes = elementCount(frame) * this.#elementBytes;
    this.path = join(ringDirectory(), `sluice-ring-${process.pid}-${randomBytes(6).toString('hex')}`);
    this.#fd = openSync(this.path, 'wx+', 0o600);
    const path = this.path;
    this.#removeOnExit = () => {
      try {
        unlinkSync(path);
      } catch {
        // already removed
      }
    };
    process.once('exit', this.#removeOnExit);
    ftruncateSync(this.#fd, HEADER_BYTES + this.#layout.capacity * this.#frameBytes);
    writeSync(this.#fd, headerOf(this.#layout, this.#frameBytes), 0, HEADER_BYTES, 0);
    const oneFrame = makeTypedArray(spec.dtype, null, 0, elementCount(frame));
    (oneFrame as { fill(v: number | bigint): unknown }).fill(fillValueFor(spec.dtype, spec.fill));
    this.#fill = new Uint8Array(oneFrame.buffer, 0, oneFrame.byteLength);
    if (this.#fill.some((b) => b !== 0)) this.#fillRange(-this.#size, 0);
    this.#server = server;
    this.#lossless = SharedPV.readonly().open(controlType, { index: 0n, length: 0n });
    this.#latest = SharedPV.readonly().open(controlType, { index: 0n, length: 0n });
    server.addPV(`${control.name}:lossless`, this.#lossless);
    server.addPV(`${control.name}:latest`, this.#latest);
    this.params = { ...spec, sharedmemScope: 'processes', sharedmemPath: this.path, sharedmemControl: control };
  }

  static async create(spec: StreamSpec): Promise<FileRingSender> {
    layoutOf(spec);
    const host = typeof spec.interface === 'string' && spec.interface !== '' && spec.interface !== '0.0.0.0' ? spec.interface : '127.0.0.1';
    const port = spec['sharedmemControlPort'] ?? 0;
    if (typeof port !== 'number' || !Number.isSafeInteger(port) || port < 0 || port > 65535)
      throw new InvalidArgumentError(`sharedmemControlPort ${String(port)} is not a port`);
    const server = new PvaServer({ host, port, udpPort: false });
    const bound = await server.listen();
    try {
      return new FileRingSender(spec, server, { host, port: bound, name: `sluice:shm:${randomBytes(6).toString('hex')}` });
    } catch (e) {
      await server.close();
      throw e;
    }
  }

  send(index: number, chunk: NdChunk): boolean {
    if (this.#closed) throw new SluiceError('ERR_CHANNEL_CLOSED', 'send() on a closed sharedmem sender');
    if (dtypeOf(chunk.data) !== this.params.dtype)
      throw new InvalidArgumentError(`chunk dtype ${dtypeOf(chunk.data) ?? 'unknown'} does not match the stream's ${this.params.dtype}`);
    const n = chunkFrames(chunk, this.#frame, elementCount(this.#frame));
    if (n > this.#size) throw new InvalidArgumentError(`chunk of ${n} samples is larger than the ring of ${this.#size}`);
    if (!Number.isSafeInteger(index) || index - this.#index < n) {
      throw new InvalidArgumentError(`ring index ${index} advances by ${index - this.#index}, less than the chunk's ${n} samples`);
    }
    const before = this.#index;
    this.#writeCounter(0, index);
    const start = index - n;
    const gapFrom = Math.max(before, index - this.#size);
    if (start > gapFrom) this.#fillRange(gapFrom, start);
    this.#writeSamples(this.#block(chunk, n), start, n);
    this.#writeCounter(8, index);
    this.#index = index;
    this.#sent++;
    this.#bytes += n * this.#frameBytes;
    const update = { index: BigInt(index), length: BigInt(n) };
    this.#latest.post(update);
    return this.#lossless.post(update);
  }

  #writeCounter(at: number, value: number): void {
    this.#counter.writeBigInt64LE(BigInt(value), 0);
    writeSync(this.#fd, this.#counter, 0, 8, at);
  }

  /** The chunk's bytes laid out as the ring's memory (C order chunks to a C order ring: as they are). */
  #block(chunk: NdChunk, n: number): Uint8Array {
    const bytes = n * this.#frameBytes;
    if (this.#layout.cOrder && chunk.strides === undefined) return new Uint8Array(chunk.data.buffer, chunk.data.byteOffset, bytes);
    if (this.#stage.byteLength < bytes) this.#stage = new Uint8Array(bytes);
    const shape = [n, ...this.#frame];
    const into = makeTypedArray(this.params.dtype, this.#stage.buffer, 0, n * elementCount(this.#frame));
    stridedCopy(into, 0, this.#layout.blockStrides(n), chunk.data, 0, chunk.strides ?? cOrderStrides(shape), shape);
    return this.#stage.subarray(0, bytes);
  }

  #writeSamples(block: Uint8Array, start: number, n: number): void {
    ringIO(this.#layout, this.#layout.writeSpans(start, n), n, this.#elementBytes, (b, len, at) => writeSync(this.#fd, block, b, len, at));
  }

  #fillRange(from: number, to: number): void {
    const block = Math.min(to - from, 1024);
    const fills = new Uint8Array(block * this.#frameBytes);
    for (let k = 0; k < block; k++) fills.set(this.#fill, k * this.#frameBytes);
    for (let i = from; i < to; i += block) this.#writeSamples(fills, i, Math.min(block, to - i));
  }

  drained(): Promise<void> {
    return this.#closed ? Promise.resolve() : this.#lossless.drained();
  }

  /** Drops across processes are counted by each reader (FileRingReceiver.stats); here 0. */
  stats(): { sent: number; bytes: number; readers: number; dropped: number } {
    return { sent: this.#sent, bytes: this.#bytes, readers: this.#lossless.subscriberCount + this.#latest.subscriberCount, dropped: 0 };
  }

  /**
   * End the stream: readers get a last update marked closed after the chunks queued for them;
   * they are given sharedmemCloseTimeoutMs (default 5 s) to take them and leave (a reader leaves
   * when it reads the end) before the control server closes: closing it drops what its sockets
   * still hold, and a reader cut off sees the disconnect as the end. The
   * file is removed at once: readers that have it open keep reading it (POSIX unlink).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const end = { index: BigInt(this.#index), length: 0n, closed: true };
    this.#latest.post(end);
    this.#lossless.post(end);
    this.#removeOnExit();
    const timeout = this.params['sharedmemCloseTimeoutMs'] ?? 5000;
    const until = performance.now() + (typeof timeout === 'number' ? timeout : 5000);
    // No event tells that a subscriber left; this polls only while readers finish.
    while (this.#lossless.subscriberCount + this.#latest.subscriberCount > 0 && performance.now() < until)
      await new Promise((r) => setTimeout(r, 5));
    this.#lossless.close();
    this.#latest.close();
    await this.#server.close();
    closeSync(this.#fd);
    process.removeListener('exit', this.#removeOnExit);
  }
}

export interface FileRingReceiverStats {
  received: number;
  /** Samples overwritten before this reader read them. */
  dropped: number;
}

export class FileRingReceiver implements StreamReceiver {
  readonly path: string;
  readonly #fd: number;
  readonly #size: number;
  readonly #layout: RingLayout;
  readonly #frame: readonly number[];
  readonly #frameBytes: number;
  readonly #elementBytes: number;
  readonly #dtype: StreamSpec['dtype'];
  readonly #client: PvaClient;
  readonly #sub: PvaSubscription;
  readonly #counters = Buffer.alloc(16);
  #buffer = new ArrayBuffer(0);
  /** End of the last chunk read (-1 until connected). */
  #nextIndex = -1;
  #started: Promise<void> | null = null;
  /** Index of the end-of-stream update once it came (-1: its samples were read), else null. */
  #endIndex: number | null = null;
  readonly #gone: Promise<IteratorResult<MonitorUpdate>>;
  #closed = false;
  readonly #stats: FileRingReceiverStats = { received: 0, dropped: 0 };

  constructor(params: ConnectParams, options: ReceiverOptions) {
    const path = params['sharedmemPath'];
    const control = params['sharedmemControl'] as ControlAddress | undefined;
    if (typeof path !== 'string' || typeof control !== 'object' || control === null || typeof control.name !== 'string') {
      throw new InvalidArgumentError('sharedmem (processes) params need sharedmemPath and sharedmemControl {host, port, name}');
    }
    this.path = path;
    this.#layout = layoutOf(params);
    this.#size = this.#layout.size;
    this.#frame = this.#layout.frameShape;
    this.#dtype = params.dtype;
    this.#elementBytes = typedArrayClass(params.dtype).BYTES_PER_ELEMENT;
    this.#frameBytes = elementCount(this.#frame) * this.#elementBytes;
    try {
      this.#fd = openSync(path, 'r');
    } catch (e) {
      throw new FileError(
        path,
        `cannot open the sharedmem ring file (${(e as NodeJS.ErrnoException).code ?? 'error'}): was the output closed, or is it on another host?`,
        { cause: e },
      );
    }
    try {
      this.#checkHeader();
    } catch (e) {
      closeSync(this.#fd);
      throw e;
    }
    this.#client = new PvaClient({
      env: { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: `${control.host}:${control.port}` },
    });
    const lossless = options.policy === 'lossless';
    const name = `${control.name}:${lossless ? 'lossless' : 'latest'}`;
    this.#sub = this.#client.monitor(name, lossless ? { pipeline: true, queueSize: options.queueSize } : { queueSize: options.queueSize });
    // The control server going away (the writer closed or died) ends the stream for us.
    this.#gone = new Promise((resolve) => this.#sub.once('disconnect', () => resolve({ done: true, value: undefined })));
  }

  #checkHeader(): void {
    const expected = HEADER_BYTES + this.#layout.capacity * this.#frameBytes;
    const actual = fstatSync(this.#fd).size;
    if (actual !== expected) {
      throw new FileError(
        this.path,
        `sharedmem ring file has ${actual} bytes, the stream's ring needs ${expected} (truncated, or not this stream's ring)`,
      );
    }
    const header = Buffer.alloc(HEADER_BYTES);
    readSync(this.#fd, header, 0, HEADER_BYTES, 0);
    if (!header.subarray(16, 24).equals(MAGIC)) throw new FileError(this.path, 'not a sluice sharedmem ring file (bad magic)');
    const size = Number(header.readBigInt64LE(24));
    const fb = Number(header.readBigInt64LE(32));
    if (size !== this.#size || fb !== this.#frameBytes) {
      throw new FileError(
        this.path,
        `sharedmem ring file holds ${size} samples of ${fb} bytes, the params say ${this.#size} of ${this.#frameBytes}`,
      );
    }
    const mine = headerOf(this.#layout, this.#frameBytes);
    if (!header.subarray(40).equals(mine.subarray(40))) {
      const order = header.subarray(48, 48 + Math.min(MAX_ORDER_AXES, Math.max(0, header.readInt32LE(44))));
      throw new FileError(
        this.path,
        `sharedmem ring file is laid out with double ${header.readInt32LE(40) === 1} and axisorder [${[...order].join(', ')}], ` +
          `the params say double ${this.#layout.double} and axisorder ${JSON.stringify(this.#layout.axisorder)}`,
      );
    }
  }

  stats(): Readonly<FileRingReceiverStats> {
    return this.#stats;
  }

  /**
   * Resolves once the reader is subscribed: the control PV's current value marks where it starts
   * (the chunks after it are the ones it will get). recv() waits for it too.
   */
  connected(): Promise<void> {
    this.#started ??= (async () => {
      const first = await Promise.race([this.#sub.next(), this.#gone]);
      if (first.done === true || first.value.value['closed'] === true) return;
      this.#nextIndex = this.#control(first.value.value)[0];
    })();
    return this.#started;
  }

  /** (index, length) of a control value, refused unless it can be a chunk of this ring. */
  #control(v: Record<string, unknown>): [number, number] {
    const index = asSafeInteger(v['index']);
    const length = asSafeInteger(v['length']);
    if (index === null || length === null || length < 0 || length > this.#size || index < length) {
      throw new SluiceError(
        'ERR_PROTOCOL',
        `sharedmem control value (index ${String(v['index'])}, length ${String(v['length'])}) is not a chunk of a ring of ${this.#size} samples`,
      );
    }
    return [index, length];
  }

  async recv(): Promise<{ index: number; chunk: NdChunk } | null> {
    await this.connected();
    for (;;) {
      if (this.#closed || this.#nextIndex < 0) return this.#end();
      if (this.#endIndex !== null) {
        // The end of the stream: first what it squashed (its index is the writer's last), then null.
        const end = this.#endIndex;
        this.#endIndex = -1;
        return (end > this.#nextIndex ? this.#readSince(this.#nextIndex, end) : null) ?? this.#end();
      }
      const next = await Promise.race([this.#sub.next(), this.#gone]);
      if (next.done === true || this.#closed) return this.#end();
      const u = next.value;
      const [index, length] = this.#control(u.value);
      if (index < this.#nextIndex) {
        throw new SluiceError('ERR_PROTOCOL', `sharedmem control index ${index} goes back before ${this.#nextIndex}`);
      }
      if (u.value['closed'] === true) {
        this.#endIndex = index;
        continue;
      }
      // Updates squashed on the way (server or client queue): read everything since the last one.
      const squashed = !u.overrun.isEmpty();
      const got = this.#readSince(squashed ? this.#nextIndex : index - length, index);
      if (got) return got;
    }
  }

  /** Samples [start, end), at most the ring's worth (older ones counted as dropped). */
  #readSince(start: number, end: number): { index: number; chunk: NdChunk } | null {
    if (end - start > this.#size) {
      this.#drop(end - this.#size - start);
      start = end - this.#size;
    }
    return this.#read(start, end);
  }

  /** The stream is over: leave the control PV at once (a closing writer waits for lossless readers to leave). */
  #end(): null {
    this.#nextIndex = -1;
    this.#endIndex = null;
    this.#sub.close();
    this.#client.close();
    return null;
  }

  /** Chunk updates that came and are not taken yet (squashed ones count as one). */
  queued(): number {
    if (this.#closed || this.#nextIndex < 0) return 0;
    if (this.#endIndex !== null) return this.#endIndex > this.#nextIndex ? 1 : 0;
    const n = this.#sub.pending;
    return n > 0 && this.#sub.peekLast()?.value['closed'] === true ? n - 1 : n;
  }

  /** Skip to the newest chunk announced (its end becomes this reader's place); the end of the stream is kept. */
  discardQueued(): number {
    if (this.#closed || this.#nextIndex < 0) return 0;
    let n = 0;
    if (this.#endIndex !== null && this.#endIndex > this.#nextIndex) {
      this.#nextIndex = this.#endIndex;
      n++;
    }
    for (const u of this.#sub.takeQueued()) {
      const [index] = this.#control(u.value);
      if (index < this.#nextIndex) {
        throw new SluiceError('ERR_PROTOCOL', `sharedmem control index ${index} goes back before ${this.#nextIndex}`);
      }
      this.#nextIndex = index;
      if (u.value['closed'] === true) this.#endIndex = index;
      else n++;
    }
    return n;
  }

  /** Samples [start, end) from the file; null when all of them were overwritten meanwhile. */
  #read(start: number, end: number): { index: number; chunk: NdChunk } | null {
    const n = end - start;
    const bytes = n * this.#frameBytes;
    if (this.#buffer.byteLength < bytes) this.#buffer = new ArrayBuffer(bytes);
    const into = new Uint8Array(this.#buffer, 0, bytes);
    const got = ringIO(this.#layout, this.#layout.readSpans(start, n), n, this.#elementBytes, (b, len, at) =>
      readSync(this.#fd, into, b, len, at),
    );
    readSync(this.#fd, this.#counters, 0, 16, 0);
    const writeIndex = Number(this.#counters.readBigInt64LE(0));
    const readIndex = Number(this.#counters.readBigInt64LE(8));
    if (got !== bytes) throw new FileError(this.path, `sharedmem ring file gave ${got} of ${bytes} bytes (truncated?)`);
    if (end > readIndex) {
      throw new SluiceError('ERR_PROTOCOL', `sharedmem control announced samples up to ${end}, the ring holds up to ${readIndex}`);
    }
    this.#nextIndex = end;
    // Everything before writeIndex - size may have been overwritten while we read it.
    const firstValid = writeIndex - this.#size;
    let from = start;
    if (from < firstValid) {
      this.#drop(Math.min(end, firstValid) - from);
      if (end <= firstValid) return null;
      from = firstValid;
    }
    const block = makeTypedArray(this.#dtype, this.#buffer, 0, n * elementCount(this.#frame));
    this.#stats.received++;
    return { index: end, chunk: this.#layout.view(block, this.#layout.blockStrides(n), from - start, end - from) };
  }

  #drop(samples: number): void {
    this.#stats.dropped += samples;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sub.close();
    this.#client.close();
    closeSync(this.#fd);
  }
}

function asSafeInteger(v: unknown): number | null {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : null;
}
