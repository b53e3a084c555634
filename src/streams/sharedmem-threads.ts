// The `sharedmem` mode between threads: one RingBuffer in a SharedArrayBuffer that travels in the
// connect params (structured clone shares it with a worker). The writer copies each chunk into
// the ring once; readers wait on a shared word with Atomics.waitAsync and get views of the ring
// (no socket, no copy). After the ring's 16 bytes of counters comes a small header:
//
//   16 SIGNAL   int32, bumped on every chunk and on close (what readers wait on)
//   20 CLOSED   int32, 1 once the writer closed
//   24 CONSUMED int32, bumped by lossless readers and closing readers (what a blocked writer waits on)
//   28 COUNT    int32, chunks published (wraps; compared by difference)
//   32 DROPPED  int64, drops of readers that closed
//   40 NEED     int64, the position a blocked writer needs every lossless reader to reach
//   48 LOG      LOG_LENGTH x (float64 end index, float64 length): the last chunks' bounds
//   ..  SLOTS   slots x 32 bytes: int32 state, int32 heartbeat, int64 position, float64 dropped
//
// A reader keeps its place as a chunk count; the log gives each chunk's (index, length) as
// Pyacq's sharedmem messages do. Lossless readers publish the start of the chunk they hold in a
// slot, and the writer does not overwrite it.
import { InvalidArgumentError, SluiceError } from '../errors.js';
import { RingBuffer, RingIndexError } from './ring-buffer.js';
import type { ConnectParams, NdChunk, ReceiverOptions, StreamReceiver, StreamSender, StreamSpec } from './transfer.js';
import { typedArrayClass } from './ndarray.js';

const SIGNAL = 4; // int32 word indices
const CLOSED = 5;
const CONSUMED = 6;
const COUNT = 7;
const DROPPED_BYTE = 32;
const NEED_BYTE = 40;
const LOG_BYTE = 48;
/** Chunks whose bounds a late reader can still find. */
export const LOG_LENGTH = 64;
const SLOT_BYTES = 32;
export const DEFAULT_SLOTS = 16;

const FREE = 0;
const DROP_OLDEST = 1;
const LOSSLESS = 2;
const EVICTED = 3;
const CLAIMING = 4;

type WaitAsync = (a: Int32Array, index: number, value: number, timeoutMs?: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/** Resolve when word `index` of `words` is no longer `value` (or after timeoutMs). */
async function waitWhile(words: Int32Array, index: number, value: number, timeoutMs?: number): Promise<void> {
  if (waitAsync === undefined)
    throw new SluiceError('ERR_NOT_SUPPORTED', 'sharedmem between threads needs Atomics.waitAsync (Node 16 or later)');
  const r = waitAsync(words, index, value, timeoutMs);
  if (!r.async) return;
  // A pending waitAsync does not keep Node's event loop alive; a waiting reader should, as a socket does.
  const keepAlive = setTimeout(() => undefined, 0x7fffffff);
  try {
    await r.value;
  } finally {
    clearTimeout(keepAlive);
  }
}

function slotsOf(params: Record<string, unknown>): number {
  const n = params['sharedmemSlots'] ?? DEFAULT_SLOTS;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > 1024)
    throw new InvalidArgumentError(`sharedmemSlots ${String(n)} must be an integer in 1..1024`);
  return n;
}

function dataOffsetFor(slots: number): number {
  const end = LOG_BYTE + LOG_LENGTH * 16 + slots * SLOT_BYTES;
  return Math.ceil(end / 64) * 64;
}

/** The ring's size and frame shape from a spec (bufferSize must be set, as in Pyacq). */
export function ringShape(spec: StreamSpec): number[] {
  const size = spec.bufferSize;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new InvalidArgumentError(`sharedmem needs bufferSize (ring size in samples) > 0, not ${String(size)}`);
  }
  return [size, ...spec.shape.slice(1)];
}

/** The views of one shared ring's header, as writer and readers see them. */
class SharedHeader {
  readonly words: Int32Array;
  readonly log: Float64Array;
  readonly dropped: BigInt64Array;
  readonly need: BigInt64Array;
  readonly slots: number;
  readonly #slotWords: Int32Array[] = [];
  readonly #slotPositions: BigInt64Array[] = [];
  readonly #slotDropped: Float64Array[] = [];
  constructor(buffer: SharedArrayBuffer, slots: number) {
    this.words = new Int32Array(buffer, 0, LOG_BYTE / 4);
    this.dropped = new BigInt64Array(buffer, DROPPED_BYTE, 1);
    this.need = new BigInt64Array(buffer, NEED_BYTE, 1);
    this.log = new Float64Array(buffer, LOG_BYTE, LOG_LENGTH * 2);
    this.slots = slots;
    for (let i = 0; i < slots; i++) {
      const at = LOG_BYTE + LOG_LENGTH * 16 + i * SLOT_BYTES;
      this.#slotWords.push(new Int32Array(buffer, at, 2));
      this.#slotPositions.push(new BigInt64Array(buffer, at + 8, 1));
      this.#slotDropped.push(new Float64Array(buffer, at + 16, 1));
    }
  }
  slotWords(i: number): Int32Array {
    return this.#slotWords[i] as Int32Array;
  }
  slotPosition(i: number): BigInt64Array {
    return this.#slotPositions[i] as BigInt64Array;
  }
  slotDropped(i: number): Float64Array {
    return this.#slotDropped[i] as Float64Array;
  }
  /** Whether every lossless reader's position is at least `need`. */
  allReached(need: number): boolean {
    for (let i = 0; i < this.slots; i++) {
      if (Atomics.load(this.slotWords(i), 0) === LOSSLESS && Number(Atomics.load(this.slotPosition(i), 0)) < need) return false;
    }
    return true;
  }
}

function ringFor(params: StreamSpec, buffer?: SharedArrayBuffer): { ring: RingBuffer; slots: number } {
  const slots = slotsOf(params);
  const ring = new RingBuffer({
    shape: ringShape(params),
    dtype: params.dtype,
    double: params.double,
    fill: params.fill,
    axisorder: params.axisorder,
    dataOffset: dataOffsetFor(slots),
    ...(buffer ? { buffer } : { shared: true }),
  });
  return { ring, slots };
}

export class SharedRingSender implements StreamSender {
  readonly params: ConnectParams;
  readonly ring: RingBuffer;
  readonly #h: SharedHeader;
  readonly #frameBytes: number;
  readonly #evictAfterMs: number;
  #count = 0;
  #sent = 0;
  #bytes = 0;
  #lastLength = 0;
  #closed = false;
  #pending: { index: number; chunk: NdChunk }[] = [];
  #pumping: Promise<void> | null = null;
  /** Per slot: the heartbeat seen while it blocked the writer, and since when. */
  #blocked = new Map<number, { beat: number; since: number }>();

  constructor(spec: StreamSpec) {
    const { ring, slots } = ringFor(spec);
    this.ring = ring;
    this.#h = new SharedHeader(ring.buffer as SharedArrayBuffer, slots);
    this.#frameBytes = (ring.frameShape.reduce((p, d) => p * d, 1) || 1) * typedArrayClass(spec.dtype).BYTES_PER_ELEMENT;
    const t = spec['sharedmemLosslessTimeoutMs'] ?? 10_000;
    if (typeof t !== 'number' || !(t > 0))
      throw new InvalidArgumentError(`sharedmemLosslessTimeoutMs ${String(t)} must be a positive number of ms (Infinity: never)`);
    this.#evictAfterMs = t;
    this.params = { ...spec, sharedmemScope: 'threads', sharedmemBuffer: ring.buffer, sharedmemSlots: slots };
  }

  send(index: number, chunk: NdChunk): boolean {
    if (this.#closed) throw new SluiceError('ERR_CHANNEL_CLOSED', 'send() on a closed sharedmem sender');
    const n = chunk.shape[0] ?? 0;
    if (this.#pending.length > 0 || !this.#fits(index)) {
      this.#pending.push({ index, chunk });
      this.#pump();
      return false;
    }
    this.#write(index, chunk);
    return this.#fits(index + n);
  }

  #write(index: number, chunk: NdChunk): void {
    const n = chunk.shape[0] ?? 0;
    this.ring.write(chunk, index);
    const e = (this.#count % LOG_LENGTH) * 2;
    this.#h.log[e] = index;
    this.#h.log[e + 1] = n;
    this.#count = (this.#count + 1) | 0;
    Atomics.store(this.#h.words, COUNT, this.#count);
    Atomics.add(this.#h.words, SIGNAL, 1);
    Atomics.notify(this.#h.words, SIGNAL);
    this.#sent++;
    this.#bytes += n * this.#frameBytes;
    this.#lastLength = n;
  }

  /** Whether a chunk ending at `end` overwrites nothing a lossless reader holds or has yet to read. */
  #fits(end: number): boolean {
    const h = this.#h;
    let ok = true;
    for (let i = 0; i < h.slots; i++) {
      const w = h.slotWords(i);
      if (Atomics.load(w, 0) !== LOSSLESS) continue;
      const pos = Number(Atomics.load(h.slotPosition(i), 0));
      if (end - this.ring.size <= pos) {
        this.#blocked.delete(i);
        continue;
      }
      if (this.#evictIfDead(i, w)) continue;
      ok = false;
    }
    return ok;
  }

  /** A lossless reader whose heartbeat has not moved for the timeout is demoted to drop-oldest. */
  #evictIfDead(i: number, w: Int32Array): boolean {
    const beat = Atomics.load(w, 1);
    const now = performance.now();
    const b = this.#blocked.get(i);
    if (b === undefined || b.beat !== beat) {
      this.#blocked.set(i, { beat, since: now });
      return false;
    }
    if (now - b.since < this.#evictAfterMs) return false;
    this.#blocked.delete(i);
    return Atomics.compareExchange(w, 0, LOSSLESS, EVICTED) === LOSSLESS;
  }

  #pump(): void {
    this.#pumping ??= (async () => {
      while (this.#pending.length > 0 && !this.#closed) {
        const next = this.#pending[0] as { index: number; chunk: NdChunk };
        Atomics.store(this.#h.need, 0, BigInt(next.index - this.ring.size));
        const seen = Atomics.load(this.#h.words, CONSUMED);
        if (this.#fits(next.index)) {
          this.#pending.shift();
          this.#write(next.index, next.chunk);
        } else {
          await waitWhile(this.#h.words, CONSUMED, seen, this.#waitSliceMs());
        }
      }
      this.#pumping = null;
    })();
  }

  #waitSliceMs(): number {
    return Number.isFinite(this.#evictAfterMs) ? Math.min(this.#evictAfterMs, 1000) : 1000;
  }

  async drained(): Promise<void> {
    while (!this.#closed) {
      if (this.#pumping) {
        await this.#pumping;
        continue;
      }
      const end = this.ring.index() + this.#lastLength;
      Atomics.store(this.#h.need, 0, BigInt(end - this.ring.size));
      const seen = Atomics.load(this.#h.words, CONSUMED);
      if (this.#fits(end)) return;
      await waitWhile(this.#h.words, CONSUMED, seen, this.#waitSliceMs());
    }
  }

  stats(): { sent: number; bytes: number; readers: number; dropped: number } {
    const h = this.#h;
    let readers = 0;
    let dropped = Number(Atomics.load(h.dropped, 0));
    for (let i = 0; i < h.slots; i++) {
      const s = Atomics.load(h.slotWords(i), 0);
      if (s === FREE || s === CLAIMING) continue;
      readers++;
      dropped += h.slotDropped(i)[0] as number;
    }
    return { sent: this.#sent, bytes: this.#bytes, readers, dropped };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    Atomics.store(this.#h.words, CLOSED, 1);
    Atomics.add(this.#h.words, SIGNAL, 1);
    Atomics.notify(this.#h.words, SIGNAL);
    Atomics.add(this.#h.words, CONSUMED, 1);
    Atomics.notify(this.#h.words, CONSUMED);
    await this.#pumping;
  }
}

export interface SharedRingReceiverStats {
  received: number;
  /** Samples of chunks overwritten before this reader reached them. */
  dropped: number;
  /** A lossless reader that stopped beating for the writer's timeout became drop-oldest. */
  evicted: boolean;
}

export class SharedRingReceiver implements StreamReceiver {
  readonly ring: RingBuffer;
  readonly #h: SharedHeader;
  readonly #slot: number;
  readonly #slotWords: Int32Array | null;
  readonly #slotPosition: BigInt64Array | null;
  readonly #slotDropped: Float64Array | null;
  #count: number;
  /** End of the last chunk taken: chunks lost from the log are counted from here. */
  #nextIndex: number;
  #closed = false;
  /** The second piece of a chunk that wrapped around a single ring. */
  #rest: { start: number; end: number } | null = null;
  readonly #stats: SharedRingReceiverStats = { received: 0, dropped: 0, evicted: false };

  constructor(params: ConnectParams, options: Pick<ReceiverOptions, 'policy'>) {
    const buffer = params['sharedmemBuffer'];
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new InvalidArgumentError(
        'sharedmem (threads) params carry no SharedArrayBuffer in sharedmemBuffer (was the output made with sharedmemScope processes?)',
      );
    }
    const { ring, slots } = ringFor(params, buffer);
    this.ring = ring;
    this.#h = new SharedHeader(buffer, slots);
    const policy = options.policy === 'lossless' ? LOSSLESS : DROP_OLDEST;
    this.#slot = this.#claim();
    if (this.#slot < 0 && policy === LOSSLESS) {
      throw new SluiceError(
        'ERR_LIMIT',
        `all ${slots} reader slots of this sharedmem stream are taken: no room for a lossless reader (raise sharedmemSlots)`,
      );
    }
    this.#slotWords = this.#slot < 0 ? null : this.#h.slotWords(this.#slot);
    this.#slotPosition = this.#slot < 0 ? null : this.#h.slotPosition(this.#slot);
    this.#slotDropped = this.#slot < 0 ? null : this.#h.slotDropped(this.#slot);
    if (this.#slotWords) Atomics.store(this.#slotWords, 0, policy);
    this.#count = Atomics.load(this.#h.words, COUNT);
    this.#nextIndex = ring.index();
  }

  /** Take a free slot, set its position to the ring's index, then publish its policy. */
  #claim(): number {
    for (let i = 0; i < this.#h.slots; i++) {
      const w = this.#h.slotWords(i);
      if (Atomics.compareExchange(w, 0, FREE, CLAIMING) !== FREE) continue;
      Atomics.store(this.#h.slotPosition(i), 0, BigInt(this.ring.index()));
      this.#h.slotDropped(i)[0] = 0;
      return i;
    }
    return -1;
  }

  stats(): Readonly<SharedRingReceiverStats> {
    return this.#stats;
  }

  /** Chunks published and not yet taken (for a reader far behind: those it can still reach through the log). */
  queued(): number {
    if (this.#closed) return 0;
    const lag = (Atomics.load(this.#h.words, COUNT) - this.#count) | 0;
    return Math.min(Math.max(lag, 0), LOG_LENGTH - 1) + (this.#rest ? 1 : 0);
  }

  /** Skip to the newest chunk published: its end becomes this reader's place (a lossless writer may go on). */
  discardQueued(): number {
    const n = this.queued();
    if (n === 0) return 0;
    this.#rest = null;
    const count = Atomics.load(this.#h.words, COUNT);
    if (count !== this.#count) {
      const e = (((((count - 1) | 0) % LOG_LENGTH) + LOG_LENGTH) % LOG_LENGTH) * 2;
      this.#nextIndex = this.#h.log[e] as number;
      this.#count = count;
    }
    this.#beat();
    this.#hold(this.#nextIndex);
    return n;
  }

  /**
   * Whether samples [index - length, index) are still in the ring. A drop-oldest reader's views
   * may be overwritten while it uses them (the writer does not wait for it): check after use.
   */
  intact(index: number, length: number): boolean {
    return index - length >= this.ring.firstIndex();
  }

  async recv(): Promise<{ index: number; chunk: NdChunk } | null> {
    const words = this.#h.words;
    for (;;) {
      if (this.#closed) return null;
      if (this.#rest) {
        const { start, end } = this.#rest;
        this.#rest = null;
        const got = this.#take(start, end);
        if (got) return got;
        continue;
      }
      const signal = Atomics.load(words, SIGNAL);
      const count = Atomics.load(words, COUNT);
      const lag = (count - this.#count) | 0;
      if (lag > 0) {
        const got = this.#next(count, lag);
        if (got) return got;
        continue;
      }
      if (Atomics.load(words, CLOSED) === 1) return null;
      await waitWhile(words, SIGNAL, signal);
    }
  }

  /** The chunk after the last one taken, or null when it was lost (drops counted). */
  #next(count: number, lag: number): { index: number; chunk: NdChunk } | null {
    const jumped = lag >= LOG_LENGTH;
    // Bounds that left the log: go on from the oldest chunk whose entry is certainly intact.
    if (jumped) this.#count = (count - (LOG_LENGTH - 1)) | 0;
    const e = (((this.#count % LOG_LENGTH) + LOG_LENGTH) % LOG_LENGTH) * 2;
    const end = this.#h.log[e] as number;
    const length = this.#h.log[e + 1] as number;
    if (((Atomics.load(this.#h.words, COUNT) - this.#count) | 0) >= LOG_LENGTH) return null; // entry rewritten meanwhile: look again
    this.#count = (this.#count + 1) | 0;
    // The lost chunks' samples (their gaps too: their bounds are gone) count as dropped.
    if (jumped && end - length > this.#nextIndex) this.#drop(end - length - this.#nextIndex);
    return this.#take(end - length, end);
  }

  /** Samples [start, end) as a view, from the window start if the oldest part was overwritten. */
  #take(start: number, end: number): { index: number; chunk: NdChunk } | null {
    this.#beat();
    let from = start;
    let pieces: NdChunk[];
    for (;;) {
      const first = this.ring.firstIndex();
      if (end <= first) {
        this.#drop(end - start);
        return null;
      }
      from = Math.max(start, first);
      try {
        pieces = this.ring.getData(from, end, { join: false });
        break;
      } catch (e) {
        if (!(e instanceof RingIndexError)) throw e;
        // the writer moved the window on between our look and the read: look again
      }
    }
    if (from > start) this.#drop(from - start);
    const chunk = pieces[0] as NdChunk;
    const pieceEnd = from + (chunk.shape[0] as number);
    if (pieces.length > 1) this.#rest = { start: pieceEnd, end };
    this.#hold(from);
    this.#nextIndex = end;
    this.#stats.received++;
    return { index: pieceEnd, chunk };
  }

  #beat(): void {
    if (!this.#slotWords) return;
    Atomics.add(this.#slotWords, 1, 1);
    if (Atomics.load(this.#slotWords, 0) === EVICTED) this.#stats.evicted = true;
  }

  #drop(samples: number): void {
    this.#stats.dropped += samples;
    if (this.#slotDropped) this.#slotDropped[0] = this.#stats.dropped;
  }

  /** Publish the start of the chunk now held: a lossless writer may overwrite everything before it. */
  #hold(index: number): void {
    if (!this.#slotPosition || !this.#slotWords) return;
    Atomics.store(this.#slotPosition, 0, BigInt(index));
    Atomics.add(this.#h.words, CONSUMED, 1);
    // Wake a blocked writer only when the last reader it waits for got far enough (once per wait).
    if (
      Atomics.load(this.#slotWords, 0) === LOSSLESS &&
      index >= Number(Atomics.load(this.#h.need, 0)) &&
      this.#h.allReached(Number(Atomics.load(this.#h.need, 0)))
    ) {
      Atomics.notify(this.#h.words, CONSUMED);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#slotWords) {
      Atomics.add(this.#h.dropped, 0, BigInt(this.#stats.dropped));
      if (this.#slotDropped) this.#slotDropped[0] = 0;
      Atomics.store(this.#slotWords, 0, FREE);
      Atomics.add(this.#h.words, CONSUMED, 1);
      Atomics.notify(this.#h.words, CONSUMED);
    }
    // wake our own pending recv() (other readers of this ring wake too and wait again)
    Atomics.notify(this.#h.words, SIGNAL);
  }
}
