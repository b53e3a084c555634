// A channel writer: values go to the channel's PV as puts on one open put operation, several in
// flight (at most `window`), so a writer streams without a round trip per value. The server tells
// the writer through the client's inbox whether the channel has a reader; while it has none the
// writer pauses (write() false, drained() waits for a reader) or drops and counts, by choice. A
// put the server refuses (a `raise` reader's full queue, a wrong key) rejects drained() and end()
// and is emitted as 'error' when someone listens.
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, SluiceError } from '../errors.js';
import type { PutSession } from '../pva/client/put-session.js';
import type { StructureDesc } from '../pvdata/types.js';
import { valueBytes, type PVStructure } from '../pvdata/values.js';
import { MAX_PENDING_BYTES, MAX_PENDING_PUTS } from './protocol.js';
import { serverCodeOf } from './service-client.js';

export type WhenInactive = 'pause' | 'drop';

/**
 * Puts in flight at most, and their bytes. Small values need many in flight to keep the link
 * busy: 256 of 16 KiB go out in a few writes and are answered in a few (64 left the writer
 * waiting for answers); large ones are bounded by the bytes (8 of 2 MiB). Options are capped at
 * what the server holds for a writer (MAX_PENDING_PUTS, MAX_PENDING_BYTES), so it never refuses one.
 */
export const DEFAULT_WINDOW = MAX_PENDING_PUTS;
export const DEFAULT_WINDOW_BYTES = 16 * 1024 * 1024;

export interface ChannelWriterOptions {
  /** The key of a private channel. */
  key?: string;
  /** What write() does while the channel has no reader (default 'pause'). */
  whenInactive?: WhenInactive;
  /** Puts in flight at most (default and most 256): write() turns false beyond it. */
  window?: number;
  /** Bytes of values in flight at most (default 16 MiB, at most 64 MiB; one value always goes): large values need fewer puts to keep the link busy. */
  windowBytes?: number;
}

export interface ChannelWriterStats {
  /** Values handed to write() and accepted (sent or waiting to be sent). */
  written: number;
  /** Puts the server answered. */
  acknowledged: number;
  /** Values dropped while the channel had no reader ('drop'). */
  dropped: number;
  /** Puts the server refused. */
  refused: number;
}

/** A put the channel server refused; `serverCode` is the code its message names ('' if none). */
export class ChannelWriteError extends SluiceError {
  readonly serverCode: string;
  constructor(channel: string, cause: Error) {
    super('ERR_REMOTE', `write to channel ${channel} refused: ${cause.message}`, { cause });
    this.name = 'ChannelWriteError';
    this.serverCode =
      (cause as { serverCode?: string }).serverCode || serverCodeOf(cause.message, (cause as { remoteStack?: string }).remoteStack ?? '');
  }
}

/** What the writer needs of its ChannelClient. */
export interface WriterHost {
  closeWriter(writer: ChannelWriter): Promise<void>;
}

export class ChannelWriter extends EventEmitter {
  readonly channel: string;
  /** The writer id the server gave (the client name). */
  readonly id: string;
  readonly stats: ChannelWriterStats = { written: 0, acknowledged: 0, dropped: 0, refused: 0 };
  readonly #session: PutSession;
  readonly #host: WriterHost;
  readonly #whenInactive: WhenInactive;
  readonly #window: number;
  readonly #windowBytes: number;
  #inFlightBytes = 0;
  #active: boolean;
  /** Values accepted while no room or no reader, sent in order as soon as possible. */
  readonly #pending: PVStructure[] = [];
  #inFlight = 0;
  #error: Error | null = null;
  #ended = false;
  #endPromise: Promise<void> | null = null;
  readonly #drainWaiters: { resolve(): void; reject(e: Error): void }[] = [];
  readonly #activeWaiters: (() => void)[] = [];
  readonly #idleWaiters: { resolve(): void; reject(e: Error): void }[] = [];

  /** @internal ChannelClient.openWriter makes writers. */
  constructor(host: WriterHost, channel: string, id: string, session: PutSession, active: boolean, options: ChannelWriterOptions) {
    super();
    this.#host = host;
    this.channel = channel;
    this.id = id;
    this.#session = session;
    this.#active = active;
    this.#whenInactive = options.whenInactive ?? 'pause';
    if (this.#whenInactive !== 'pause' && this.#whenInactive !== 'drop') {
      throw new InvalidArgumentError(`whenInactive must be 'pause' or 'drop', not '${String(this.#whenInactive)}'`);
    }
    this.#window = Math.min(MAX_PENDING_PUTS, Math.max(1, options.window ?? DEFAULT_WINDOW));
    this.#windowBytes = Math.min(MAX_PENDING_BYTES, Math.max(1, options.windowBytes ?? DEFAULT_WINDOW_BYTES));
  }

  /** The channel's type as the put operation has it (the writer mark included). */
  get type(): StructureDesc {
    return this.#session.type as StructureDesc;
  }

  /** True while the channel has at least one reader. */
  get active(): boolean {
    return this.#active;
  }

  /** Puts sent and not yet answered, plus values waiting to be sent. */
  get backlog(): number {
    return this.#inFlight + this.#pending.length;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The first error the server answered a put with, if any. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Send `value` (the writer's fields; the server adds who wrote it). Returns false when the
   * caller should wait for drained() before writing more: the window of puts in flight is full,
   * or ('pause') the channel has no reader. The value is accepted either way, except when
   * dropped ('drop' and no reader).
   */
  write(value: PVStructure): boolean {
    if (this.#ended) throw new InvalidArgumentError(`writer of ${this.channel} has ended`);
    if (this.#error) throw this.#error;
    if (!this.#active && this.#whenInactive === 'drop') {
      this.stats.dropped++;
      return true;
    }
    this.stats.written++;
    if (this.#active && this.#pending.length === 0 && this.#windowOpen(valueBytes(value))) this.#send(value);
    else this.#pending.push(value);
    return this.#hasRoom();
  }

  #hasRoom(): boolean {
    return this.#active && this.#pending.length === 0 && this.#windowOpen();
  }

  /**
   * Room for one more put of `bytes` (unknown: any room) within both window limits; a first put
   * always goes, however large.
   */
  #windowOpen(bytes = 1): boolean {
    return this.#inFlight === 0 || (this.#inFlight < this.#window && this.#inFlightBytes + bytes <= this.#windowBytes);
  }

  #send(value: PVStructure): void {
    const bytes = valueBytes(value);
    this.#inFlight++;
    this.#inFlightBytes += bytes;
    try {
      this.#session.putWith(value, (err) => this.#answered(bytes, err));
    } catch (err) {
      // The session is closed: fail as an answer would, after write() returned.
      queueMicrotask(() => this.#answered(bytes, err as Error));
    }
  }

  /** A put's answer (in the order sent): room for the next, or the writer fails. */
  #answered(bytes: number, err: Error | null): void {
    this.#inFlight--;
    this.#inFlightBytes -= bytes;
    if (err) {
      this.stats.refused++;
      this.#fail(new ChannelWriteError(this.channel, err));
      return;
    }
    this.stats.acknowledged++;
    this.#pump();
  }

  #pump(): void {
    while (this.#active && this.#pending.length > 0 && this.#windowOpen(valueBytes(this.#pending[0] as PVStructure)))
      this.#send(this.#pending.shift() as PVStructure);
    if (this.#hasRoom()) for (const w of this.#drainWaiters.splice(0)) w.resolve();
    if (this.#inFlight === 0 && this.#pending.length === 0) for (const w of this.#idleWaiters.splice(0)) w.resolve();
  }

  #fail(err: Error): void {
    if (!this.#error) {
      this.#error = err;
      this.#pending.length = 0;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
    for (const w of this.#drainWaiters.splice(0)) w.reject(this.#error);
    for (const w of this.#idleWaiters.splice(0)) w.reject(this.#error);
  }

  /** Resolves when write() would return true again (room in the window and, with 'pause', a reader). */
  drained(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#hasRoom() || (this.#ended && this.backlog === 0)) return Promise.resolve();
    if (!this.#active && this.#whenInactive === 'drop') return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** Resolves when the channel has a reader. */
  whenActive(): Promise<void> {
    if (this.#active) return Promise.resolve();
    return new Promise((resolve) => this.#activeWaiters.push(resolve));
  }

  /** @internal The client's inbox said whether the channel has a reader now. */
  setActive(active: boolean): void {
    if (active === this.#active) return;
    this.#active = active;
    this.emit(active ? 'active' : 'inactive');
    if (active) {
      for (const w of this.#activeWaiters.splice(0)) w();
      this.#pump();
    } else if (this.#whenInactive === 'drop' && this.#drainWaiters.length) {
      for (const w of this.#drainWaiters.splice(0)) w.resolve();
    }
  }

  /**
   * Send what is waiting, then the end-of-transfer mark; the writer is then closed. Values still
   * waiting for a reader ('pause') wait for one first.
   */
  end(): Promise<void> {
    this.#endPromise ??= (async () => {
      this.#ended = true;
      if (this.#error) throw this.#error;
      if (this.#inFlight > 0 || this.#pending.length > 0) {
        await new Promise<void>((resolve, reject) => this.#idleWaiters.push({ resolve, reject }));
      }
      await this.#host.closeWriter(this);
      this.#session.close();
    })();
    return this.#endPromise;
  }

  /** @internal The client closes without an end mark: puts in flight fail. */
  abort(): void {
    this.#ended = true;
    this.#session.close();
  }
}
