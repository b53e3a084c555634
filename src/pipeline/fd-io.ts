// A stage's input and output on their file descriptors, with blocking read() and write() calls,
// as cat moves bytes: Node's stream machinery (non-blocking pipes, partial writes, epoll) costs
// several times the copy itself, and a stage that only moves a stream has nothing else to wait
// for. Reads fill a slab from where the last one ended, so records that span reads lie side by
// side in memory and the output writes them as one view; slabs are reused once recycled. The
// event loop gets a turn every few reads, so that Ctrl-C is seen; a stage blocked in a read sees
// it when its input next moves (the stage before it, stopped by the same Ctrl-C, ends its stream).
import { closeSync, createReadStream, fstatSync, open, openSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { InvalidArgumentError } from '../errors.js';

/** A slab is this large; a read asks for what is left of it, and a new slab starts when little is. */
const SLAB_BYTES = 1 << 20;
const MIN_READ_BYTES = 64 * 1024;
/** Reads between two turns of the event loop (see turn()). */
export const READS_PER_TURN = 16;

/** A turn of the event loop, between blocking calls: signals (Ctrl-C) and timers are seen. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Free slabs kept for reuse at most (more are left to the garbage collector). */
const MAX_FREE_SLABS = 8;

/**
 * Reads a descriptor into slabs. A slab is reused once its reader says (recycle()) that nothing
 * it read into it is referenced any more: fresh memory costs page faults on first touch, which
 * cat, reusing one buffer, never pays.
 */
export class FdReader {
  readonly #fd: number;
  readonly #fallback: (() => AsyncIterable<Uint8Array | string>) | undefined;
  /** Slabs read into, oldest first; the last is being filled (`filled` bytes so far). */
  readonly #used: { slab: Buffer; filled: number }[] = [];
  readonly #free: Buffer[] = [];

  /** Where `fd` does not block (EAGAIN: made non-blocking), the rest comes from `fallback()`. */
  constructor(fd: number, fallback?: () => AsyncIterable<Uint8Array | string>) {
    this.#fd = fd;
    this.#fallback = fallback;
  }

  /** The bytes of the descriptor until its end. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    for (let reads = 1; ; reads++) {
      const chunk = this.readNow();
      if (chunk === null) return;
      if (chunk === undefined) {
        if (!this.#fallback) throw new InvalidArgumentError(`descriptor ${this.#fd} does not block and has no stream to read it with`);
        for await (const c of this.#fallback()) yield typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
        return;
      }
      yield chunk;
      if (reads % READS_PER_TURN === 0) await turn();
    }
  }

  /**
   * The next bytes, read with one blocking read(): null at the end, undefined where the
   * descriptor does not block (EAGAIN: read the rest with chunks(), which falls back to a stream).
   */
  readNow(): Uint8Array | null | undefined {
    let cur = this.#used.at(-1);
    if (!cur || SLAB_BYTES - cur.filled < MIN_READ_BYTES) {
      cur = { slab: this.#free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES), filled: 0 };
      this.#used.push(cur);
    }
    let n: number;
    try {
      n = readSync(this.#fd, cur.slab, cur.filled, SLAB_BYTES - cur.filled, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return undefined;
      if (code === 'EOF') return null;
      throw err;
    }
    if (n === 0) return null;
    const at = cur.filled;
    cur.filled += n;
    return cur.slab.subarray(at, at + n);
  }

  /**
   * Nothing read so far is referenced any more but the last `retained` bytes (what a decoder
   * holds of a record not yet complete): the slabs before those are reused by later reads.
   */
  recycle(retained: number): void {
    let i = this.#used.length - 1;
    let left = retained;
    while (i > 0 && left > (this.#used[i] as { filled: number }).filled) left -= (this.#used[i--] as { filled: number }).filled;
    for (const u of this.#used.splice(0, i)) if (this.#free.length < MAX_FREE_SLABS) this.#free.push(u.slab);
    // Nothing retained: the next read goes to the start of the slab again, memory still in cache.
    if (retained === 0 && this.#used[0]) this.#used[0].filled = 0;
  }
}

/** The bytes of `fd` until its end, each read into memory of its own (nothing is reused). */
export function fdChunks(fd: number, fallback?: () => AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  return new FdReader(fd, fallback).chunks();
}

/** The bytes of a file, read as fdChunks() reads; the file is closed at the end or on an error. */
export async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    yield* fdChunks(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The bytes of a file or of a pipe (a named pipe, or /dev/fd/N of a shell's `<(...)`), read
 * without blocking, so that a stage can read several at once (merge). A regular file comes in
 * chunks of `chunkBytes`; a pipe through a socket stream: an fs stream would allocate (and then
 * copy out of) `chunkBytes` for every read, however few bytes the pipe had, which costs a
 * megabyte of fresh memory per value where values trickle in one by one.
 */
export async function* inputChunks(path: string, chunkBytes = 64 * 1024): AsyncGenerator<Uint8Array> {
  // Opened off the event loop: opening a named pipe waits for its writer.
  const fd = await new Promise<number>((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
  const stat = fstatSync(fd);
  const input =
    stat.isFIFO() || stat.isSocket()
      ? new Socket({ fd, readable: true, writable: false })
      : createReadStream('', { fd, highWaterMark: chunkBytes });
  try {
    for await (const chunk of input) yield chunk as Uint8Array;
  } finally {
    input.destroy(); // closes the descriptor
  }
}

/** What an FdWritable holds before write() returns false (only after a fall-back to a stream). */
const WRITE_HIGH_WATER_MARK = 4 << 20;

/**
 * A Writable whose writes are blocking write() calls on `fd` (the pipe's back-pressure is the
 * write blocking). Where the descriptor does not block (EAGAIN), this write and all later ones
 * go to `fallback()`, a stream over the same descriptor, in order.
 */
export class FdWritable extends Writable {
  readonly #fd: number;
  readonly #fallback: () => NodeJS.WritableStream;
  #stream: NodeJS.WritableStream | null = null;

  constructor(fd: number, fallback: () => NodeJS.WritableStream) {
    // Writes complete at once (blocking), so a chunk larger than the default 16 KiB would make
    // write() say "wait for drain" for nothing; the mark bounds what waits after a fall-back.
    super({ decodeStrings: true, highWaterMark: WRITE_HIGH_WATER_MARK });
    this.#fd = fd;
    this.#fallback = fallback;
  }

  /**
   * Write `chunk` at once with blocking calls, past the Writable's machinery (its queue is empty
   * while the descriptor blocks); what this cannot write now goes through write(). Returns what
   * write() would: false to wait for 'drain'.
   */
  writeNow(chunk: Uint8Array): boolean {
    if (this.#stream || this.writableLength > 0 || this.destroyed) return this.write(chunk);
    let at = 0;
    try {
      while (at < chunk.length) at += writeSync(this.#fd, chunk, at, chunk.length - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return this.write(chunk.subarray(at));
      this.destroy(err as Error);
      return false;
    }
    return true;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.#stream) {
      this.#stream.write(chunk, done);
      return;
    }
    let at = 0;
    try {
      while (at < chunk.length) at += writeSync(this.#fd, chunk, at, chunk.length - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return done(err as Error);
      const stream = (this.#stream = this.#fallback());
      stream.on('error', (e: Error) => this.destroy(e));
      stream.write(chunk.subarray(at), done);
      return;
    }
    done();
  }
}
