// Primitive wire encodings of pvAccess (Size, strings, scalars, arrays) in either byte order.
// ByteWriter hands out chunks without copying large arrays; ByteReader reads across a list of
// chunks (a message split by TCP or segmented by the sender) and views aligned arrays in place.
import { endianness } from 'node:os';
import { DecodeError, EncodeError, ProtocolError } from '../errors.js';
import type { ScalarType } from './types.js';
import { ELEMENT_SIZE, TYPED_ARRAY, type PVTypedArray } from './values.js';

export const HOST_LE = endianness() === 'LE';
/** Arrays of at least this many bytes are sent by reference instead of being copied. */
export const ZERO_COPY_MIN = 1024;
const DEFAULT_BLOCK = 64 * 1024;

export interface WriterMark {
  readonly buf: Buffer;
  readonly dv: DataView;
  readonly pos: number;
  readonly start: number;
  readonly chunks: number;
  readonly chunkBytes: number;
}

export class ByteWriter {
  /** Byte order of everything written (pvAccess peers agree on it per connection). */
  le: boolean;
  #buf: Buffer;
  #dv: DataView;
  #pos = 0;
  #start = 0; // start of the region not yet handed out as a chunk
  #chunks: Uint8Array[] = [];
  #chunkBytes = 0;
  #block: number;

  constructor(littleEndian = true, blockSize = DEFAULT_BLOCK) {
    this.le = littleEndian;
    this.#block = blockSize;
    this.#buf = Buffer.allocUnsafeSlow(blockSize);
    this.#dv = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.#chunkBytes + this.#pos - this.#start;
  }

  ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    this.#cut();
    // The old block stays alive as long as chunks handed out still reference it.
    this.#buf = Buffer.allocUnsafeSlow(Math.max(this.#block, n));
    this.#dv = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
    this.#pos = this.#start = 0;
  }

  #cut(): void {
    if (this.#pos > this.#start) {
      // A plain Uint8Array view: cheaper to make than a Buffer slice, and sockets take it.
      this.#chunks.push(new Uint8Array(this.#buf.buffer, this.#buf.byteOffset + this.#start, this.#pos - this.#start));
      this.#chunkBytes += this.#pos - this.#start;
      this.#start = this.#pos;
    }
  }

  /** Everything written so far, as chunks for socket.writev; the writer starts afresh. */
  take(): Uint8Array[] {
    this.#cut();
    const out = this.#chunks;
    this.#chunks = [];
    this.#chunkBytes = 0;
    if (this.#buf.length - this.#pos < 512) this.ensure(this.#buf.length); // fresh block
    return out;
  }

  /** A point to return to with reset() if what follows fails to encode. */
  mark(): WriterMark {
    return { buf: this.#buf, dv: this.#dv, pos: this.#pos, start: this.#start, chunks: this.#chunks.length, chunkBytes: this.#chunkBytes };
  }

  /** Forget everything written since mark() (nothing since then may have been taken). */
  reset(m: WriterMark): void {
    this.#buf = m.buf;
    this.#dv = m.dv;
    this.#pos = m.pos;
    this.#start = m.start;
    this.#chunks.length = m.chunks;
    this.#chunkBytes = m.chunkBytes;
  }

  /** A place for a uint32 to be filled in later (message payload sizes). */
  reserve32(): { buf: DataView; at: number } {
    this.ensure(4);
    const r = { buf: this.#dv, at: this.#pos };
    this.#pos += 4;
    return r;
  }

  patch32(r: { buf: DataView; at: number }, value: number): void {
    r.buf.setUint32(r.at, value, this.le);
  }

  u8(v: number): void {
    this.ensure(1);
    this.#buf[this.#pos++] = v;
  }
  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }
  i8(v: number): void {
    this.ensure(1);
    this.#dv.setInt8(this.#pos++, v);
  }
  u16(v: number): void {
    this.ensure(2);
    this.#dv.setUint16(this.#pos, v, this.le);
    this.#pos += 2;
  }
  i16(v: number): void {
    this.ensure(2);
    this.#dv.setInt16(this.#pos, v, this.le);
    this.#pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.#dv.setUint32(this.#pos, v, this.le);
    this.#pos += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.#dv.setInt32(this.#pos, v, this.le);
    this.#pos += 4;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.#dv.setBigInt64(this.#pos, v, this.le);
    this.#pos += 8;
  }
  u64(v: bigint): void {
    this.ensure(8);
    this.#dv.setBigUint64(this.#pos, v, this.le);
    this.#pos += 8;
  }
  f32(v: number): void {
    this.ensure(4);
    this.#dv.setFloat32(this.#pos, v, this.le);
    this.#pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.#dv.setFloat64(this.#pos, v, this.le);
    this.#pos += 8;
  }

  /** pvAccess Size: one byte below 254, else 254 + int32; -1 encodes "null" (255). */
  size(n: number): void {
    if (n === -1) this.u8(255);
    else if (n < 254) this.u8(n);
    else {
      if (n > 0x7fffffff) throw new EncodeError(`size ${n} does not fit in an int32`);
      this.u8(254);
      this.i32(n);
    }
  }

  string(s: string): void {
    // ASCII fast path: byte length equals string length and no encoder call is needed.
    const n = s.length;
    let ascii = n < 128;
    if (ascii)
      for (let i = 0; i < n; i++)
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
    if (ascii) {
      this.ensure(1 + n);
      this.#buf[this.#pos++] = n;
      for (let i = 0; i < n; i++) this.#buf[this.#pos++] = s.charCodeAt(i);
      return;
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.size(len);
    this.ensure(len);
    this.#pos += this.#buf.write(s, this.#pos, len, 'utf8');
  }

  /** Raw bytes, copied. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /** A TypedArray's elements (no count). Large arrays in host order are passed by reference. */
  typedArray(a: PVTypedArray): void {
    const n = a.byteLength;
    if (n === 0) return;
    const swap = a.BYTES_PER_ELEMENT > 1 && this.le !== HOST_LE;
    if (!swap && n >= ZERO_COPY_MIN) {
      this.#cut();
      this.#chunks.push(new Uint8Array(a.buffer, a.byteOffset, n));
      this.#chunkBytes += n;
      return;
    }
    this.ensure(n);
    this.#buf.set(new Uint8Array(a.buffer, a.byteOffset, n), this.#pos);
    if (swap) swapBytes(this.#buf, this.#pos, n, a.BYTES_PER_ELEMENT);
    this.#pos += n;
  }
}

/** Reverse the bytes of each `width`-byte element in place (Node's native swaps). */
function swapBytes(b: Uint8Array, at: number, n: number, width: number): void {
  const view = Buffer.from(b.buffer, b.byteOffset + at, n);
  if (width === 2) view.swap16();
  else if (width === 4) view.swap32();
  else view.swap64();
}

const EMPTY = new Uint8Array(0);
// Shared by all readers: only used within one synchronous read of a straddling primitive.
const SCRATCH = new Uint8Array(8);
const SCRATCH_DV = new DataView(SCRATCH.buffer);
// Consecutive messages are views of the same received chunk: reuse its DataView.
let lastBuffer: ArrayBufferLike = EMPTY.buffer;
let lastView = new DataView(EMPTY.buffer);
function viewOf(buf: ArrayBufferLike): DataView {
  if (buf !== lastBuffer) {
    lastBuffer = buf;
    lastView = new DataView(buf as ArrayBuffer);
  }
  return lastView;
}

/**
 * Bounds on the decode work one message may cause, beyond its bytes: fields of type descriptions
 * (counted as expanded, so a reference to a cached type costs what it stands for) and values that
 * each become an object or string (elements of string, boolean, structure, union and any arrays).
 * A peer could otherwise keep the event loop busy for seconds with a few megabytes.
 */
export interface DecodeLimits {
  maxTypeFields: number;
  maxElements: number;
}

export const UNBOUNDED_DECODE: DecodeLimits = { maxTypeFields: Infinity, maxElements: Infinity };

export class ByteReader {
  le: boolean;
  #limits: DecodeLimits = UNBOUNDED_DECODE;
  #typeFields = 0;
  #elements = 0;
  #chunks: readonly Uint8Array[];
  #ci = 0;
  #buf: Uint8Array = EMPTY;
  #dv: DataView = lastView;
  #base = 0; // byteOffset of #buf in its ArrayBuffer: #dv is indexed by #base + #pos
  #pos = 0;
  #remaining: number;

  constructor(data: Uint8Array | readonly Uint8Array[], littleEndian = true) {
    this.le = littleEndian;
    this.#chunks = data instanceof Uint8Array ? [data] : data;
    let total = 0;
    for (const c of this.#chunks) total += c.length;
    this.#remaining = total;
    this.#ci = -1;
    this.#next();
  }

  get remaining(): number {
    return this.#remaining;
  }

  /** Bound the decode work of what this reader holds (one message from a peer). */
  limitWork(limits: DecodeLimits): this {
    this.#limits = limits;
    return this;
  }

  /** n more type-description fields are being built. */
  chargeTypeFields(n: number): void {
    if ((this.#typeFields += n) > this.#limits.maxTypeFields) {
      throw new ProtocolError('ERR_LIMIT', `type descriptions of more than ${this.#limits.maxTypeFields} fields in one message`);
    }
  }

  /** n more values that each become an object or a string (elements of non-numeric arrays). */
  chargeElements(n: number, what: string): void {
    if ((this.#elements += n) > this.#limits.maxElements) {
      throw new ProtocolError(
        'ERR_LIMIT',
        `more than ${this.#limits.maxElements} structures, unions and strings in one message (at ${what})`,
      );
    }
  }

  #next(): void {
    while (++this.#ci < this.#chunks.length) {
      const c = this.#chunks[this.#ci] as Uint8Array;
      if (c.length === 0) continue;
      this.#buf = c;
      this.#dv = viewOf(c.buffer);
      this.#base = c.byteOffset;
      this.#pos = 0;
      return;
    }
    this.#buf = EMPTY;
    this.#pos = 0;
  }

  /** Throw unless n more bytes exist; called before any allocation sized by the peer. */
  need(n: number, what = 'data'): void {
    if (n > this.#remaining) {
      throw new DecodeError(`truncated ${what}: needs ${n} bytes, ${this.#remaining} left`);
    }
  }

  /** Fill scratch with n bytes that straddle chunk boundaries. */
  #gather(n: number): DataView {
    this.need(n);
    for (let i = 0; i < n; i++) {
      while (this.#pos >= this.#buf.length) this.#next();
      SCRATCH[i] = this.#buf[this.#pos++] as number;
    }
    this.#remaining -= n;
    return SCRATCH_DV;
  }

  skip(n: number): void {
    this.need(n);
    this.#remaining -= n;
    while (n > 0) {
      const avail = this.#buf.length - this.#pos;
      if (avail === 0) {
        this.#next();
        continue;
      }
      const k = Math.min(avail, n);
      this.#pos += k;
      n -= k;
    }
  }

  u8(): number {
    if (this.#pos < this.#buf.length) {
      this.#remaining--;
      return this.#buf[this.#pos++] as number;
    }
    return this.#gather(1).getUint8(0);
  }
  bool(): boolean {
    return this.u8() !== 0;
  }
  i8(): number {
    return (this.u8() << 24) >> 24;
  }
  u16(): number {
    if (this.#buf.length - this.#pos >= 2) {
      const v = this.#dv.getUint16(this.#base + this.#pos, this.le);
      this.#pos += 2;
      this.#remaining -= 2;
      return v;
    }
    return this.#gather(2).getUint16(0, this.le);
  }
  i16(): number {
    return (this.u16() << 16) >> 16;
  }
  u32(): number {
    if (this.#buf.length - this.#pos >= 4) {
      const v = this.#dv.getUint32(this.#base + this.#pos, this.le);
      this.#pos += 4;
      this.#remaining -= 4;
      return v;
    }
    return this.#gather(4).getUint32(0, this.le);
  }
  i32(): number {
    return this.u32() | 0;
  }
  i64(): bigint {
    if (this.#buf.length - this.#pos >= 8) {
      const v = this.#dv.getBigInt64(this.#base + this.#pos, this.le);
      this.#pos += 8;
      this.#remaining -= 8;
      return v;
    }
    return this.#gather(8).getBigInt64(0, this.le);
  }
  u64(): bigint {
    if (this.#buf.length - this.#pos >= 8) {
      const v = this.#dv.getBigUint64(this.#base + this.#pos, this.le);
      this.#pos += 8;
      this.#remaining -= 8;
      return v;
    }
    return this.#gather(8).getBigUint64(0, this.le);
  }
  f32(): number {
    if (this.#buf.length - this.#pos >= 4) {
      const v = this.#dv.getFloat32(this.#base + this.#pos, this.le);
      this.#pos += 4;
      this.#remaining -= 4;
      return v;
    }
    return this.#gather(4).getFloat32(0, this.le);
  }
  f64(): number {
    if (this.#buf.length - this.#pos >= 8) {
      const v = this.#dv.getFloat64(this.#base + this.#pos, this.le);
      this.#pos += 8;
      this.#remaining -= 8;
      return v;
    }
    return this.#gather(8).getFloat64(0, this.le);
  }

  /** pvAccess Size; -1 for the "null" marker 255. */
  size(): number {
    const b = this.u8();
    if (b < 254) return b;
    if (b === 255) return -1;
    const n = this.i32();
    if (n < 0) throw new DecodeError(`negative size ${n}`);
    return n;
  }

  /** A Size that must not be null and must not exceed the remaining bytes times `minBytesPerItem`. */
  count(what: string, minBytesPerItem = 1): number {
    const n = this.size();
    if (n < 0) throw new DecodeError(`null size where a ${what} count was expected`);
    if (minBytesPerItem > 0) this.need(n * minBytesPerItem, what);
    return n;
  }

  /** n bytes as one contiguous Uint8Array: a view when they lie in one chunk, else a copy. */
  bytes(n: number): Uint8Array {
    this.need(n);
    if (this.#buf.length - this.#pos >= n) {
      const v = this.#buf.subarray(this.#pos, this.#pos + n);
      this.#pos += n;
      this.#remaining -= n;
      if (this.#pos === this.#buf.length && n > 0) this.#next();
      return v;
    }
    const out = new Uint8Array(n);
    this.#copyInto(out, 0, n);
    return out;
  }

  #copyInto(out: Uint8Array, at: number, n: number): void {
    this.#remaining -= n;
    while (n > 0) {
      const avail = this.#buf.length - this.#pos;
      if (avail === 0) {
        this.#next();
        continue;
      }
      const k = Math.min(avail, n);
      out.set(this.#buf.subarray(this.#pos, this.#pos + k), at);
      this.#pos += k;
      at += k;
      n -= k;
    }
  }

  string(): string {
    const n = this.count('string');
    if (n === 0) return '';
    if (this.#buf.length - this.#pos >= n) {
      const b = this.#buf;
      const s = this.#pos;
      this.#pos += n;
      this.#remaining -= n;
      if (n < 32) {
        // Short ASCII names dominate; decoding them by hand avoids a TextDecoder call.
        let out = '';
        for (let i = s; i < s + n; i++) {
          const c = b[i] as number;
          if (c > 0x7f) return Buffer.from(b.buffer, b.byteOffset + s, n).toString('utf8');
          out += String.fromCharCode(c);
        }
        return out;
      }
      return Buffer.from(b.buffer, b.byteOffset + s, n).toString('utf8');
    }
    return Buffer.from(this.bytes(n)).toString('utf8');
  }

  /**
   * `count` elements of a numeric type. The result views the received bytes when they lie in one
   * chunk, are aligned and need no byte swap; otherwise it is one copy.
   */
  typedArray(type: ScalarType, count: number): PVTypedArray {
    const C = TYPED_ARRAY[type];
    if (!C) throw new DecodeError(`'${type}' is not a numeric type`);
    const width = ELEMENT_SIZE[type];
    const n = count * width;
    this.need(n, `${type}[] of ${count} elements`);
    const swap = width > 1 && this.le !== HOST_LE;
    if (!swap && this.#buf.length - this.#pos >= n) {
      const off = this.#buf.byteOffset + this.#pos;
      if (off % width === 0) {
        const v = new C(this.#buf.buffer as ArrayBuffer, off, count);
        this.#pos += n;
        this.#remaining -= n;
        return v;
      }
    }
    // Every byte is overwritten below: skip the zero-fill of `new C(count)` (a large cost for
    // multi-megabyte frames). allocUnsafeSlow gives a buffer of its own at offset 0: aligned.
    const raw = n >= 4096 ? Buffer.allocUnsafeSlow(n).buffer : new ArrayBuffer(n);
    const out = new C(raw as ArrayBuffer, 0, count);
    const bytes = new Uint8Array(raw, 0, n);
    this.#copyInto(bytes, 0, n);
    if (swap) swapBytes(bytes, 0, n, width);
    return out;
  }
}
