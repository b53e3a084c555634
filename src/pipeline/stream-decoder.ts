// Reads the pipeline stream format (stream-format.ts, docs/stream-format.md) from chunks of any
// size, one byte at a time if need be: a state machine over the stream header, record headers
// and payloads. Payloads are views into the chunks received (no copies); arrays in values are
// viewed in place when aligned, as on the network path. A wrong or hostile stream stops with a
// DecodeError naming the cause and the byte offset; a size field is checked before anything is
// allocated for it.
import { DecodeError } from '../errors.js';
import type { BitSet } from '../pvdata/bitset.js';
import { TypeCache, decodeType } from '../pvdata/type-codec.js';
import type { StructureDesc } from '../pvdata/types.js';
import { decodeBitSet, decodeValue } from '../pvdata/value-codec.js';
import type { PVStructure } from '../pvdata/values.js';
import { ByteReader } from '../pvdata/wire.js';
import {
  DEFAULT_STREAM_LIMITS,
  FLAG_BIG_ENDIAN,
  RECORD_HEADER_BYTES,
  RecordKind,
  STREAM_HEADER_BYTES,
  STREAM_MAGIC,
  STREAM_VERSION,
  type StreamLimits,
} from './stream-format.js';

export interface ValueItem {
  kind: 'value';
  type: StructureDesc;
  value: PVStructure;
  changed: BitSet;
  overrun: BitSet;
  index: bigint;
}

export type StreamItem =
  | { kind: 'type'; type: StructureDesc }
  | ValueItem
  | RecordItem
  | { kind: 'note'; note: Record<string, unknown> }
  | { kind: 'end'; count: bigint };

/**
 * A value record passed on undecoded (the decoder's `undecoded` option): its bytes, record header
 * included, as views into the chunks read, and the type record in force, for a stage that moves
 * values without looking at them (head, tee, partition, merge). Its framing has been checked; its
 * payload has not (the stage that decodes it will).
 */
export interface RecordItem {
  kind: 'record';
  type: StructureDesc;
  /** The whole type record (header and payload) the value is in. */
  typeRecord: Uint8Array;
  /** The value record: header and payload. */
  bytes: Uint8Array[];
  /** The payload alone (the marks, then the value), views of the same bytes. */
  payload: Uint8Array[];
  littleEndian: boolean;
  index: bigint;
}

/** What a stage that streams records through does with a value record, told at its header. */
export const Verdict = {
  /** Skip its bytes. */
  DROP: 0,
  /** Hand its bytes on. */
  PASS: 1,
  /** Hand its bytes on, then stop: the stage's stream ends after it. */
  LAST: 2,
  /** Stop before it. */
  STOP: 3,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * Value records streamed through undecoded, for a stage that decides from a value's position
 * alone (filter --every, head, partition, cat of files): decided at the record's header, their
 * bytes handed on as they arrive, so that a stage writes what it read as it read it, as cat does.
 */
export interface StreamThrough {
  /** Records stream through when the stream is in this byte order; otherwise values are decoded. */
  littleEndian: boolean;
  /**
   * At each value record's header: what to do with it. For PASS and LAST, the record's type
   * (`typeRecord` holds its whole type record) is the type of the bytes write() gets next.
   */
  decide(type: StructureDesc, typeRecord: Uint8Array): Verdict;
  /** Bytes of a passed record (its header, then its payload), as views into the chunks pushed. */
  write(bytes: Uint8Array): void;
}

export interface StreamDecoderOptions {
  /** Names the input in error messages ('stdin', a file name). */
  source?: string;
  limits?: Partial<StreamLimits>;
  /**
   * Pass value records on undecoded (as RecordItems) when the stream is in this byte order; in the
   * other order they are decoded, as without the option.
   */
  undecoded?: { littleEndian: boolean };
  /** Stream value records through (see StreamThrough); excludes `undecoded`. */
  through?: StreamThrough;
}

const enum State {
  StreamHeader,
  RecordHeader,
  Payload,
  /** A value record's payload streaming through: taken as it comes, #length bytes left. */
  Through,
  Ended,
  /** The stage stopped the stream (Verdict LAST or STOP): the rest of the input is not read. */
  Stopped,
}

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');

export class StreamDecoder {
  /** Names the input in error messages ('stdin', a file name). */
  readonly source: string;
  readonly #limits: StreamLimits;
  readonly #onItem: (item: StreamItem) => void;
  #parts: Uint8Array[] = [];
  #have = 0;
  /** Bytes of the stream consumed before #parts (error messages give offsets). */
  #offset = 0;
  #state = State.StreamHeader;
  #le = true;
  #kind = 0;
  #length = 0;
  #cache = new TypeCache();
  #type: StructureDesc | null = null;
  #count = 0n;
  readonly #undecoded: { littleEndian: boolean } | undefined;
  /** Set when value records pass undecoded: the current record's header, the type record in force. */
  #pass = false;
  #header: Uint8Array[] = [];
  #typeRecord: Uint8Array = new Uint8Array(0);
  readonly #through: StreamThrough | undefined;
  /** The verdict on the record streaming through (State.Through). */
  #verdict: Verdict = Verdict.DROP;

  constructor(onItem: (item: StreamItem) => void, options: StreamDecoderOptions = {}) {
    this.#onItem = onItem;
    this.source = options.source ?? 'the stream';
    this.#limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
    this.#through = options.through;
    this.#undecoded = options.undecoded ?? (options.through && { littleEndian: options.through.littleEndian });
  }

  get ended(): boolean {
    return this.#state === State.Ended;
  }

  /** A StreamThrough verdict ended the stream early; what follows in the input is not read. */
  get stopped(): boolean {
    return this.#state === State.Stopped;
  }

  /** Values decoded so far. */
  get count(): bigint {
    return this.#count;
  }

  /** Bytes of the chunks pushed that the decoder still refers to: the end of what it was given. */
  get retainedBytes(): number {
    // The header of a record being read whole is kept (as a view) for its type record or RecordItem.
    return this.#have + (this.#pass && this.#state === State.Payload ? RECORD_HEADER_BYTES : 0);
  }

  /** Take the next chunk (kept by reference until decoded: do not reuse its memory). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.#state === State.Stopped) return;
    if (this.#state === State.Ended) throw this.#error('data after the end record');
    this.#parts.push(chunk);
    this.#have += chunk.length;
    for (;;) {
      if (this.#state === State.Through) {
        if (!this.#streamThrough()) return;
        continue;
      }
      const need =
        this.#state === State.StreamHeader ? STREAM_HEADER_BYTES : this.#state === State.RecordHeader ? RECORD_HEADER_BYTES : this.#length;
      if (this.#have < need) return;
      const at = this.#offset;
      const bytes = this.#take(need);
      if (this.#state === State.StreamHeader) this.#streamHeader(bytes);
      else if (this.#state === State.RecordHeader) this.#recordHeader(bytes, at);
      else this.#payload(bytes, at);
      if (this.ended) {
        if (this.#have > 0) throw this.#error('data after the end record');
        return;
      }
      if (this.stopped) return; // TypeScript does not see that #recordHeader() may stop
    }
  }

  /** The input ended: throws unless the stream ended with its end record (or was stopped). */
  finish(): void {
    if (this.#state === State.Ended || this.#state === State.Stopped) return;
    if (this.#state === State.StreamHeader) {
      if (this.#have === 0) throw this.#error('empty input: no stream header');
      const b = Buffer.concat(this.#parts);
      if (!b.subarray(0, 4).equals(Buffer.from(STREAM_MAGIC.subarray(0, Math.min(4, b.length))))) {
        throw this.#error(`not a Sluice stream (${b.length} bytes, starting with ${hex(b.subarray(0, 4))})`);
      }
    }
    const where = this.#have > 0 || this.#state === State.Payload || this.#state === State.Through ? ' in the middle of a record' : '';
    throw this.#error(`truncated${where}: the input ended after ${this.#count} values without the end record`);
  }

  #take(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let left = n;
    while (left > 0) {
      const c = this.#parts[0] as Uint8Array;
      if (c.length <= left) {
        out.push(c);
        this.#parts.shift();
        left -= c.length;
      } else {
        out.push(c.subarray(0, left));
        this.#parts[0] = c.subarray(left);
        left = 0;
      }
    }
    this.#have -= n;
    this.#offset += n;
    return out;
  }

  #streamHeader(parts: Uint8Array[]): void {
    const b = Buffer.concat(parts); // 8 bytes
    if (!STREAM_MAGIC.every((m, i) => b[i] === m)) {
      const text = b.every((c) => c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c < 0x7f));
      throw new DecodeError(
        `${this.source}: not a Sluice stream (it starts with ${hex(b.subarray(0, 4))}, a stream with ${hex(STREAM_MAGIC)})` +
          (text ? `; it looks like text: "${b.toString('latin1').replace(/\s+/g, ' ')}..."` : ''),
      );
    }
    const version = b[4] as number;
    if (version !== STREAM_VERSION) {
      throw new DecodeError(`${this.source}: stream format version ${version}; this reader knows version ${STREAM_VERSION}`);
    }
    const flags = b[5] as number;
    if (flags & ~FLAG_BIG_ENDIAN || b[6] !== 0 || b[7] !== 0) {
      throw new DecodeError(`${this.source}: unknown stream header flags ${hex(b.subarray(5, 8))} (a newer writer?)`);
    }
    this.#le = (flags & FLAG_BIG_ENDIAN) === 0;
    this.#pass = this.#undecoded?.littleEndian === this.#le;
    this.#state = State.RecordHeader;
  }

  #recordHeader(parts: Uint8Array[], at: number): void {
    // Read in place (one header a record: no reader object for it); joined only when split.
    const h = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
    const kind = h[0] as number;
    const flags = h[1] as number;
    const le = this.#le;
    const reserved = le ? (h[2] as number) | ((h[3] as number) << 8) : ((h[2] as number) << 8) | (h[3] as number);
    const length = le
      ? ((h[4] as number) | ((h[5] as number) << 8) | ((h[6] as number) << 16)) + (h[7] as number) * 0x1000000
      : ((h[7] as number) | ((h[6] as number) << 8) | ((h[5] as number) << 16)) + (h[4] as number) * 0x1000000;
    if (flags !== 0 || reserved !== 0) throw this.#error(`record flags ${flags}/${reserved} at byte ${at} are not 0 (a newer writer?)`);
    if (length > this.#limits.maxRecordBytes) {
      throw this.#error(`a record of ${length} bytes at byte ${at} exceeds the limit of ${this.#limits.maxRecordBytes}`);
    }
    const known = kind === RecordKind.TYPE || kind === RecordKind.VALUE || kind === RecordKind.END || kind === RecordKind.NOTE;
    const skippable = kind >= 0x61 && kind <= 0x7a;
    if (!known && !skippable) throw this.#error(`unknown record kind 0x${kind.toString(16)} at byte ${at}`);
    if (kind === RecordKind.END && length !== 8) throw this.#error(`an end record of ${length} bytes at byte ${at} (it has 8)`);
    this.#kind = kind;
    this.#length = length;
    if (this.#pass && this.#through && kind === RecordKind.VALUE && this.#type) return this.#startThrough(parts);
    if (this.#pass) this.#header = parts;
    this.#state = State.Payload;
    if (length === 0) this.#payload([], at + RECORD_HEADER_BYTES);
  }

  /** A value record's header: the stage decides, and the record's bytes stream through or are skipped. */
  #startThrough(header: Uint8Array[]): void {
    const through = this.#through as StreamThrough;
    const verdict = through.decide(this.#type as StructureDesc, this.#typeRecord);
    if (verdict === Verdict.STOP) {
      this.#stop();
      return;
    }
    this.#verdict = verdict;
    if (verdict !== Verdict.DROP) for (const h of header) through.write(h);
    this.#state = State.Through;
  }

  /** Take what there is of the payload streaming through; false when all there is was taken. */
  #streamThrough(): boolean {
    if (this.#length > 0) {
      if (this.#have === 0) return false;
      const n = Math.min(this.#have, this.#length);
      const parts = this.#take(n);
      this.#length -= n;
      if (this.#verdict !== Verdict.DROP) for (const p of parts) (this.#through as StreamThrough).write(p);
      if (this.#length > 0) return false;
    }
    this.#count++;
    if (this.#verdict === Verdict.LAST) this.#stop();
    else this.#state = State.RecordHeader;
    return this.#state !== State.Stopped;
  }

  #stop(): void {
    this.#state = State.Stopped;
    this.#parts = [];
    this.#have = 0;
  }

  #payload(parts: Uint8Array[], at: number): void {
    this.#state = State.RecordHeader;
    let item: StreamItem | null;
    try {
      item = this.#record(parts);
    } catch (err) {
      const e = err as Error;
      throw this.#error(`bad ${kindName(this.#kind)} record at byte ${at}: ${e.message}`, e);
    }
    if (item) this.#onItem(item); // outside the try: the caller's errors are its own
  }

  #record(parts: Uint8Array[]): StreamItem | null {
    if (this.#pass && this.#kind === RecordKind.VALUE && this.#type) {
      const bytes = this.#header.concat(parts);
      return {
        kind: 'record',
        type: this.#type,
        typeRecord: this.#typeRecord,
        bytes,
        payload: parts,
        littleEndian: this.#le,
        index: this.#count++,
      };
    }
    const r = new ByteReader(parts, this.#le).limitWork(this.#limits);
    switch (this.#kind) {
      case RecordKind.TYPE: {
        const type = decodeType(r, this.#cache);
        if (type?.kind !== 'structure') throw new DecodeError(`it describes ${type ? `a ${type.kind}` : 'nothing'}, not a structure`);
        this.#done(r);
        this.#type = type;
        if (this.#pass) this.#typeRecord = Buffer.concat([...this.#header, ...parts]);
        return { kind: 'type', type };
      }
      case RecordKind.VALUE: {
        const type = this.#type;
        if (!type) throw new DecodeError('a value before any type record');
        const changed = decodeBitSet(r);
        const overrun = decodeBitSet(r);
        const value = decodeValue(r, type, this.#cache) as PVStructure;
        this.#done(r);
        return { kind: 'value', type, value, changed, overrun, index: this.#count++ };
      }
      case RecordKind.END: {
        const count = r.u64();
        if (count !== this.#count) throw new DecodeError(`it counts ${count} values, the stream held ${this.#count}`);
        this.#state = State.Ended;
        return { kind: 'end', count };
      }
      case RecordKind.NOTE: {
        const note: unknown = JSON.parse(Buffer.concat(parts).toString('utf8'));
        if (note === null || typeof note !== 'object' || Array.isArray(note)) throw new DecodeError('not a JSON object');
        return { kind: 'note', note: note as Record<string, unknown> };
      }
      default:
        return null; // a lower-case kind this reader does not know: skipped
    }
  }

  #done(r: ByteReader): void {
    if (r.remaining !== 0) throw new DecodeError(`${r.remaining} bytes left over after it`);
  }

  #error(message: string, cause?: Error): DecodeError {
    return new DecodeError(`${this.source}: ${message}`, cause ? { cause } : undefined);
  }
}

function kindName(kind: number): string {
  switch (kind) {
    case RecordKind.TYPE:
      return 'type';
    case RecordKind.VALUE:
      return 'value';
    case RecordKind.END:
      return 'end';
    case RecordKind.NOTE:
      return 'note';
    default:
      return `0x${kind.toString(16)}`;
  }
}
