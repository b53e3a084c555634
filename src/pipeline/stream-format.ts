// The pipeline stream format (docs/stream-format.md): a self-describing binary stream of pvData
// values for stages chained by pipes, as ktools' streams are, but with the type in the stream.
// An 8-byte stream header, then records: a type, the values of that type (each with its changed
// and overrun marks), optional notes, and an end record. Values use the pvAccess codec, so writing
// a stream costs what sending the values over the network costs. This file knows no file nor
// socket: the encoder returns chunks, the decoder takes chunks of any size (stdio.ts moves them).
import { InvalidArgumentError } from '../errors.js';
import { BitSet } from '../pvdata/bitset.js';
import { encodeType } from '../pvdata/type-codec.js';
import { sameType, type StructureDesc } from '../pvdata/types.js';
import { encodeBitSet, encodeValue } from '../pvdata/value-codec.js';
import type { PVStructure } from '../pvdata/values.js';
import { ByteWriter, HOST_LE } from '../pvdata/wire.js';

/** `\x89SLS`: the high first byte catches a stream that went through a text-mode channel. */
export const STREAM_MAGIC = Uint8Array.of(0x89, 0x53, 0x4c, 0x53);
export const STREAM_VERSION = 1;
export const STREAM_HEADER_BYTES = 8;
export const RECORD_HEADER_BYTES = 8;
/** Stream header flags: bit 0 set = big-endian numbers after the stream header. */
export const FLAG_BIG_ENDIAN = 0x01;

/** Record kinds. Upper-case ASCII letters must be understood; lower-case ones may be skipped. */
export const RecordKind = {
  /** A pvData type description: the type of the values that follow. */
  TYPE: 0x54, // 'T'
  /** One value: changed BitSet, overrun BitSet, then the whole value in the current type. */
  VALUE: 0x56, // 'V'
  /** The end of the stream: uint64 count of the values it held. Nothing may follow. */
  END: 0x45, // 'E'
  /** A note: a UTF-8 JSON object (where the stream comes from, ...). Readers may skip notes. */
  NOTE: 0x6e, // 'n'
} as const;

/** Bounds a reader puts on what a stream may make it allocate. */
export interface StreamLimits {
  /** Largest record payload accepted (default 1 GiB). */
  maxRecordBytes: number;
  /** Type fields one record may describe (types and `any` values), as pvAccess decode limits. */
  maxTypeFields: number;
  /** Structures, unions and strings one value may hold. */
  maxElements: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxRecordBytes: 1 << 30,
  maxTypeFields: 100_000,
  maxElements: 10_000_000,
};

/** The marks of a value: what changed since the source's value before, what was squashed. */
export interface StreamMarks {
  changed: BitSet;
  overrun?: BitSet;
}

const WHOLE = BitSet.of(0);
const NONE = new BitSet();

/**
 * Encodes a stream: header() once, then value() for each value (a type record goes before the
 * first value and before any value of another type), note() at any time, end() last. Each call
 * returns the chunks to write; large arrays are referenced, not copied (write them before the
 * values they come from change).
 */
export class StreamEncoder {
  readonly littleEndian: boolean;
  #w: ByteWriter;
  #type: StructureDesc | null = null;
  #same = new WeakSet<StructureDesc>();
  #count = 0n;
  #ended = false;

  constructor(options: { littleEndian?: boolean } = {}) {
    this.littleEndian = options.littleEndian ?? HOST_LE;
    this.#w = new ByteWriter(this.littleEndian);
  }

  /** Values encoded so far. */
  get count(): bigint {
    return this.#count;
  }

  get type(): StructureDesc | null {
    return this.#type;
  }

  header(): Uint8Array[] {
    const w = this.#w;
    for (const b of STREAM_MAGIC) w.u8(b);
    w.u8(STREAM_VERSION);
    w.u8(this.littleEndian ? 0 : FLAG_BIG_ENDIAN);
    w.u16(0);
    return w.take();
  }

  /** A value of `type`; without marks it counts as wholly changed, nothing overrun. */
  value(type: StructureDesc, value: PVStructure, marks?: StreamMarks): Uint8Array[] {
    this.#open();
    const w = this.#w;
    if (this.#newType(type)) this.#record(RecordKind.TYPE, () => encodeType(w, type));
    this.#record(RecordKind.VALUE, () => {
      encodeBitSet(w, marks?.changed ?? WHOLE);
      encodeBitSet(w, marks?.overrun ?? NONE);
      encodeValue(w, type, value);
    });
    this.#count++;
    return w.take();
  }

  /**
   * A value record passed on as it was read (a RecordItem's bytes, in this encoder's byte order),
   * after its type record when the type differs from the current one.
   */
  record(type: StructureDesc, typeRecord: Uint8Array, bytes: Uint8Array[], littleEndian: boolean): Uint8Array[] {
    this.#open();
    if (littleEndian !== this.littleEndian) {
      throw new InvalidArgumentError('a record in the other byte order cannot be passed on undecoded');
    }
    this.#count++;
    return this.#newType(type) ? [typeRecord, ...bytes] : bytes;
  }

  /**
   * Whether `type` needs a type record: it is not the current type. Another object of the same
   * type (each input of a merge decodes its own) is the same type, and is remembered as such.
   */
  #newType(type: StructureDesc): boolean {
    if (type === this.#type || this.#same.has(type)) return false;
    if (this.#type && sameType(type, this.#type)) {
      this.#same.add(type);
      return false;
    }
    this.#type = type;
    this.#same = new WeakSet();
    return true;
  }

  note(note: Record<string, unknown>): Uint8Array[] {
    this.#open();
    const bytes = Buffer.from(JSON.stringify(note), 'utf8');
    this.#record(RecordKind.NOTE, () => this.#w.bytes(bytes));
    return this.#w.take();
  }

  end(): Uint8Array[] {
    this.#open();
    this.#record(RecordKind.END, () => this.#w.u64(this.#count));
    this.#ended = true;
    return this.#w.take();
  }

  #open(): void {
    if (this.#ended) throw new InvalidArgumentError('the stream has ended: nothing may follow end()');
  }

  /** kind, flags 0, reserved 0, payload length, payload; undone if the payload fails to encode. */
  #record(kind: number, payload: () => void): void {
    const w = this.#w;
    const mark = w.mark();
    w.u8(kind);
    w.u8(0);
    w.u16(0);
    const size = w.reserve32();
    const before = w.length;
    try {
      payload();
    } catch (err) {
      w.reset(mark);
      throw err;
    }
    w.patch32(size, w.length - before);
  }
}
