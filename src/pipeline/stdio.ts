// Streams of bytes to and from the stream format (fd-io.ts reads and writes descriptors): a
// stream read from a Readable or any chunks (stdin, a file, a named pipe) as items, and a stream
// written to a Writable with its back-pressure (write() false, then await drained(), as stream.write does).
// A reader that goes away (EPIPE: `sluice cat X | head`) is a normal end for the writer.
import { open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { DecodeError } from '../errors.js';
import { FdWritable } from './fd-io.js';
import type { PVStructure } from '../pvdata/values.js';
import type { StructureDesc } from '../pvdata/types.js';
import { StreamDecoder, type RecordItem, type StreamDecoderOptions, type StreamItem, type ValueItem } from './stream-decoder.js';
import { FLAG_BIG_ENDIAN, RECORD_HEADER_BYTES, RecordKind, STREAM_HEADER_BYTES, StreamEncoder, type StreamMarks } from './stream-format.js';

/** The items of the stream `input` carries; throws a DecodeError on a wrong or truncated stream. */
export async function* readStream(
  input: Readable | NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>,
  options: StreamDecoderOptions = {},
): AsyncGenerator<StreamItem> {
  for await (const batch of readBatches(input, options)) yield* batch;
}

/**
 * The same items, a batch per chunk read: a stage that handles a batch before it waits lets its
 * output write the batch's records in one go. The array is reused: done with it before the next.
 */
export async function* readBatches(
  input: Readable | NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>,
  options: StreamDecoderOptions & {
    /** Called when the caller asks for the next batch, with the bytes the decoder still holds. */
    batchDone?: (retainedBytes: number) => void;
  } = {},
): AsyncGenerator<StreamItem[]> {
  const items: StreamItem[] = [];
  const decoder = new StreamDecoder((item) => items.push(item), options);
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    decoder.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    if (items.length > 0) {
      yield items;
      options.batchDone?.(decoder.retainedBytes); // the caller is done with the batch
    }
    items.length = 0;
    if (decoder.ended) break; // the end record: what may follow is not ours to read
  }
  decoder.finish();
}

export class StreamOutput {
  readonly #out: Writable | NodeJS.WritableStream;
  readonly #encoder: StreamEncoder;
  /** A descriptor written with blocking calls: written directly, past the Writable's machinery. */
  readonly #direct: FdWritable | null;
  #closed = false;
  #needDrain = false;

  /** Writes the stream header at once. */
  constructor(out: Writable | NodeJS.WritableStream, options: { littleEndian?: boolean } = {}) {
    this.#out = out;
    this.#direct = out instanceof FdWritable ? out : null;
    this.#encoder = new StreamEncoder(options);
    out.on('error', (err: NodeJS.ErrnoException) => {
      // The reader went away: stop writing. Other errors are the caller's (end() rejects).
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') this.#closed = true;
      else this.#error = err;
    });
    this.#write(this.#encoder.header());
  }

  #error: Error | null = null;

  /** The reader went away: nothing more is written, and the writer may stop. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes the Writable holds that its reader has not taken yet. */
  get buffered(): number {
    return (this.#out as Writable).writableLength ?? 0;
  }

  /** Values written so far. */
  get count(): bigint {
    return this.#encoder.count;
  }

  get littleEndian(): boolean {
    return this.#encoder.littleEndian;
  }

  /** False: wait for drained() before writing more. */
  write(type: StructureDesc, value: PVStructure, marks?: StreamMarks): boolean {
    return this.#write(this.#encoder.value(type, value, marks));
  }

  /** A value as read: decoded (written with its marks) or a record (its bytes passed on). */
  pass(item: ValueItem | RecordItem): boolean {
    if (item.kind === 'value') return this.write(item.type, item.value, { changed: item.changed, overrun: item.overrun });
    if (this.#closed) return false;
    for (const c of this.#encoder.record(item.type, item.typeRecord, item.bytes, item.littleEndian)) this.#hold(c);
    return !this.#needDrain;
  }

  /**
   * A value record streams through (StreamThrough): its type record goes first when the type is
   * new, and the value counts; its bytes follow through bytes().
   */
  begin(type: StructureDesc, typeRecord: Uint8Array): void {
    if (this.#closed) return;
    for (const c of this.#encoder.record(type, typeRecord, [], this.#encoder.littleEndian)) this.#hold(c);
  }

  /** Bytes of a record streaming through, held until flush() (written with their neighbours). */
  bytes(view: Uint8Array): void {
    if (!this.#closed) this.#hold(view);
  }

  note(note: Record<string, unknown>): boolean {
    return this.#write(this.#encoder.note(note));
  }

  /**
   * Write what pass() holds. Records read from one chunk lie side by side in it, so they are held
   * and written as one view rather than one write (a system call, on a pipe) per record.
   */
  flush(): boolean {
    const held = this.#held;
    if (!held) return !this.#needDrain;
    this.#held = null;
    return this.#write([held]);
  }

  /**
   * Until uncork(), what is written gathers in the Writable (its cork()) and then goes out in
   * one call: the values a stage makes from one read reach the next stage together, which then
   * wakes once for them rather than once each.
   */
  cork(): void {
    (this.#out as Writable).cork?.();
  }

  uncork(): void {
    this.flush();
    (this.#out as Writable).uncork?.();
  }

  /** Resolves when the Writable takes more (at once when it does, or when the reader went away). */
  drained(): Promise<void> {
    this.flush();
    if (!this.#needDrain || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#out.off('drain', done);
        this.#out.off('close', done);
        this.#needDrain = false;
        resolve();
      };
      this.#out.on('drain', done);
      this.#out.on('close', done);
    });
  }

  /** Write the end record and wait until it is flushed (not when the reader went away). */
  async end(): Promise<void> {
    this.flush();
    if (this.#error) throw this.#error;
    if (this.#closed) return;
    const chunks = this.#encoder.end();
    await new Promise<void>((resolve, reject) => {
      for (const c of chunks) this.#out.write(c);
      this.#out.write(new Uint8Array(0), (err) => (err && !this.#closed ? reject(err) : resolve()));
    });
    if (this.#error) throw this.#error;
  }

  #held: Uint8Array | null = null;

  #hold(c: Uint8Array): void {
    const h = this.#held;
    if (h && h.buffer === c.buffer && h.byteOffset + h.length === c.byteOffset) {
      this.#held = new Uint8Array(h.buffer, h.byteOffset, h.length + c.length);
      return;
    }
    this.flush();
    this.#held = c;
  }

  #write(chunks: Uint8Array[]): boolean {
    if (this.#closed) return false;
    if (this.#held) this.flush(); // what is held goes first
    let ok = true;
    const direct = this.#direct;
    for (const c of chunks) ok = direct ? direct.writeNow(c) : this.#out.write(c);
    if (!ok) this.#needDrain = true;
    return ok;
  }
}

/**
 * The number of values a stream file holds, from its record headers alone (payloads are skipped,
 * not read): what a partitioner needs to deal contiguous blocks or a shuffle.
 */
export async function countValues(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(RECORD_HEADER_BYTES);
    const size = (await fh.stat()).size;
    let at = STREAM_HEADER_BYTES;
    let le = true;
    let n = 0;
    for (;;) {
      if (at === STREAM_HEADER_BYTES) {
        // Check the stream header the way the decoder does, from the same bytes.
        const { bytesRead } = await fh.read(head, 0, STREAM_HEADER_BYTES, 0);
        new StreamDecoder(() => {}, { source: path }).push(head.subarray(0, bytesRead));
        le = ((head[5] as number) & FLAG_BIG_ENDIAN) === 0;
      }
      const { bytesRead } = await fh.read(head, 0, RECORD_HEADER_BYTES, at);
      if (bytesRead < RECORD_HEADER_BYTES) throw new DecodeError(`${path}: truncated: no end record after ${n} values`);
      const kind = head[0];
      const length = le ? head.readUInt32LE(4) : head.readUInt32BE(4);
      if (kind === RecordKind.END) return n;
      if (kind === RecordKind.VALUE) n++;
      at += RECORD_HEADER_BYTES + length;
      if (at > size) throw new DecodeError(`${path}: truncated: a record runs past the end of the file`);
    }
  } finally {
    await fh.close();
  }
}
