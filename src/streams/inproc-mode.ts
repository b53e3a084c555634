// `inproc`: output and inputs in one process (one thread). A chunk is handed to each reader's
// bounded queue by reference: the receiver gets the very same typed array, no copy at all.
// A lossless reader whose queue is full makes send() return false (the writer waits for
// drained()); a drop-oldest reader loses its oldest queued chunk, counted.
import { randomUUID } from 'node:crypto';
import { ConnectionError, InvalidArgumentError } from '../errors.js';
import {
  registerTransferMode,
  type ConnectParams,
  type NdChunk,
  type ReceiverOptions,
  type StreamReceiver,
  type StreamSender,
  type StreamSpec,
} from './transfer.js';

interface Item {
  index: number;
  chunk: NdChunk;
}

class InprocReader implements StreamReceiver {
  readonly #sender: InprocSender;
  readonly #options: ReceiverOptions;
  readonly #queue: Item[] = [];
  #head = 0;
  #waiter: ((item: Item | null) => void) | null = null;
  #closed = false;
  #received = 0;
  dropped = 0;

  constructor(sender: InprocSender, options: ReceiverOptions) {
    this.#sender = sender;
    this.#options = options;
  }

  get lossless(): boolean {
    return this.#options.policy === 'lossless';
  }

  queued(): number {
    return this.#queue.length - this.#head;
  }

  hasRoom(): boolean {
    return this.queued() < this.#options.queueSize;
  }

  discardQueued(): number {
    const n = this.queued();
    this.#queue.length = 0;
    this.#head = 0;
    if (n > 0 && this.lossless) this.#sender.notifyRoom();
    return n;
  }

  /** From the sender: queue (or hand over) one chunk; false when the queue is now full. */
  push(item: Item): boolean {
    if (this.#closed) return true;
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      this.#received++;
      w(item);
      return true;
    }
    if (!this.hasRoom()) {
      // Full: a drop-oldest reader gives up its oldest chunk; a lossless one whose writer did not
      // wait loses one too (memory stays bounded), and both are counted.
      this.#head++;
      this.dropped++;
      this.#sender.dropped++;
    }
    this.#queue.push(item);
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    return this.hasRoom();
  }

  recv(): Promise<Item | null> {
    if (this.queued() > 0) {
      const item = this.#queue[this.#head] as Item;
      this.#queue[this.#head++] = undefined as unknown as Item;
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      this.#received++;
      if (this.lossless) this.#sender.notifyRoom();
      return Promise.resolve(item);
    }
    if (this.#closed) return Promise.resolve(null);
    if (this.#waiter)
      return Promise.reject(new InvalidArgumentError('inproc stream: recv() called again before the previous one resolved'));
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  stats(): { received: number; dropped: number } {
    return { received: this.#received, dropped: this.dropped };
  }

  /** The output closed: queued chunks can still be read, then recv() gives null. */
  end(): void {
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = null;
    if (w) w(null);
  }

  close(): Promise<void> {
    this.end();
    this.#queue.length = 0;
    this.#head = 0;
    this.#sender.remove(this);
    return Promise.resolve();
  }
}

const live = new Map<string, InprocSender>();

class InprocSender implements StreamSender {
  readonly params: ConnectParams;
  readonly #readers = new Set<InprocReader>();
  #drainWaiters: (() => void)[] = [];
  #sent = 0;
  #bytes = 0;
  dropped = 0;

  constructor(spec: StreamSpec) {
    const inprocId = randomUUID();
    this.params = { ...spec, protocol: 'inproc', inprocId };
    live.set(inprocId, this);
  }

  add(options: ReceiverOptions): InprocReader {
    const r = new InprocReader(this, options);
    this.#readers.add(r);
    return r;
  }

  remove(r: InprocReader): void {
    this.#readers.delete(r);
    this.notifyRoom();
  }

  send(index: number, chunk: NdChunk): boolean {
    this.#sent++;
    this.#bytes += chunk.data.byteLength;
    let room = true;
    const item = { index, chunk };
    for (const r of this.#readers) if (!r.push(item) && r.lossless) room = false;
    return room;
  }

  get writable(): boolean {
    for (const r of this.#readers) if (r.lossless && !r.hasRoom()) return false;
    return true;
  }

  notifyRoom(): void {
    if (this.#drainWaiters.length > 0 && this.writable) for (const w of this.#drainWaiters.splice(0)) w();
  }

  drained(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  stats(): { sent: number; bytes: number; readers: number; dropped: number } {
    return { sent: this.#sent, bytes: this.#bytes, readers: this.#readers.size, dropped: this.dropped };
  }

  close(): Promise<void> {
    live.delete(this.params['inprocId'] as string);
    for (const r of this.#readers) r.end();
    this.#readers.clear();
    for (const w of this.#drainWaiters.splice(0)) w();
    return Promise.resolve();
  }
}

export const inprocMode = {
  name: 'inproc',
  createSender(spec: StreamSpec): Promise<StreamSender> {
    return Promise.resolve(new InprocSender(spec));
  },
  createReceiver(params: ConnectParams, options: ReceiverOptions): Promise<StreamReceiver> {
    const sender = live.get(String(params['inprocId']));
    if (!sender) {
      const why = 'inprocId' in params ? 'it is closed, or in another process or thread' : 'the params have no inprocId';
      return Promise.reject(new ConnectionError('ERR_CHANNEL_NOT_FOUND', `inproc stream: no output to connect to (${why})`));
    }
    return Promise.resolve(sender.add(options));
  },
};

registerTransferMode(inprocMode);
