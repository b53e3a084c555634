// The one file of the pipeline floor that touches streams of bytes: a stream read from a
// Readable (stdin, a file, a named pipe) as an async iterator of items, and a stream written to a
// Writable with its back-pressure (write() false, then await drained(), as stream.write does).
// A reader that goes away (EPIPE: `sluice cat X | head`) is a normal end for the writer.
import type { Readable, Writable } from 'node:stream';
import type { PVStructure } from '../pvdata/values.js';
import type { StructureDesc } from '../pvdata/types.js';
import { StreamDecoder, type StreamItem } from './stream-decoder.js';
import { StreamEncoder, type StreamLimits, type StreamMarks } from './stream-format.js';

/** The items of the stream `input` carries; throws a DecodeError on a wrong or truncated stream. */
export async function* readStream(
  input: Readable | NodeJS.ReadableStream,
  options: { source?: string; limits?: Partial<StreamLimits> } = {},
): AsyncGenerator<StreamItem> {
  const items: StreamItem[] = [];
  const decoder = new StreamDecoder((item) => items.push(item), options);
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    decoder.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    for (let i = 0; i < items.length; i++) yield items[i] as StreamItem;
    items.length = 0;
    if (decoder.ended) break; // the end record: what may follow is not ours to read
  }
  decoder.finish();
}

export class StreamOutput {
  readonly #out: Writable | NodeJS.WritableStream;
  readonly #encoder: StreamEncoder;
  #closed = false;
  #needDrain = false;

  /** Writes the stream header at once. */
  constructor(out: Writable | NodeJS.WritableStream, options: { littleEndian?: boolean } = {}) {
    this.#out = out;
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

  /** Values written so far. */
  get count(): bigint {
    return this.#encoder.count;
  }

  /** False: wait for drained() before writing more. */
  write(type: StructureDesc, value: PVStructure, marks?: StreamMarks): boolean {
    return this.#write(this.#encoder.value(type, value, marks));
  }

  note(note: Record<string, unknown>): boolean {
    return this.#write(this.#encoder.note(note));
  }

  /** Resolves when the Writable takes more (at once when it does, or when the reader went away). */
  drained(): Promise<void> {
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
    if (this.#error) throw this.#error;
    if (this.#closed) return;
    const chunks = this.#encoder.end();
    await new Promise<void>((resolve, reject) => {
      for (const c of chunks) this.#out.write(c);
      this.#out.write(new Uint8Array(0), (err) => (err && !this.#closed ? reject(err) : resolve()));
    });
    if (this.#error) throw this.#error;
  }

  #write(chunks: Uint8Array[]): boolean {
    if (this.#closed) return false;
    let ok = true;
    for (const c of chunks) ok = this.#out.write(c);
    if (!ok) this.#needDrain = true;
    return ok;
  }
}
