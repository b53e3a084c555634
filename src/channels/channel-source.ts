// One channel of the channel server as the pvAccess server sees it: a Source whose value is the
// writers' type plus the WRITER_FIELD structure. Writers put (each put is posted to the readers,
// in order per writer, after every `wait` reader has room: the put's completion is the writer's
// back-pressure), readers are monitors with their own buffers (the pvAccess layer keeps them,
// with the reader's policy and fill rate). A private channel checks its key for every operation.
import { SluiceError } from '../errors.js';
import { BitSet } from '../pvdata/bitset.js';
import { bitOf, fieldCount } from '../pvdata/field-numbering.js';
import { t, type StructureDesc } from '../pvdata/types.js';
import { completeStructure, valueBytes, type PVStructure } from '../pvdata/values.js';
import type { AccessRequest, PeerInfo, PutRequest, PVSubscriber, RpcResult, Source } from '../pv/source.js';
import { MAX_PENDING_BYTES, MAX_PENDING_PUTS, WRITER_FIELD, writerInfoType } from './protocol.js';

export { MAX_PENDING_BYTES, MAX_PENDING_PUTS };

/** What a channel asks of its server. */
export interface ChannelHooks {
  /** The registered client a pvAccess peer (host:port) belongs to, else undefined. */
  clientOfPeer(peer: string): string | undefined;
  /** The channel got its first reader (true) or lost its last (false). */
  activity(channel: ChannelSource, active: boolean): void;
  /** A value of `bytes` bytes came from client `client` ('' for a plain peer). */
  received(client: string, bytes: number): void;
}

export interface ChannelSettings {
  name: string;
  owner: string;
  public: boolean;
  key: string;
  multiWriter: boolean;
  persist: boolean;
  /** ms since the epoch when a temporary channel goes; 0: never. */
  expiresAt: number;
  controlKey: string;
  accessGroup?: string;
}

export interface Reader {
  subscriber: PVSubscriber;
  peer: string;
  client: string;
}

export interface WriterState {
  id: string;
  /** Registered by openWriter (a client), not only by putting. */
  opened: boolean;
  seq: bigint;
  ended: boolean;
  pending: number;
  pendingBytes: number;
  chain: Promise<void>;
  /** The writer's last value (its end mark repeats it). */
  last: PVStructure | null;
}

export class ChannelSource implements Source {
  readonly settings: ChannelSettings;
  readonly #hooks: ChannelHooks;
  #type: StructureDesc | null = null;
  #userType: StructureDesc | null = null;
  #value: PVStructure | null = null;
  #writerBits = new BitSet();
  posts = 0;
  messages = 0;
  bytes = 0;
  readonly readers = new Map<PVSubscriber, Reader>();
  readonly writers = new Map<string, WriterState>();
  #openWaiters: (() => void)[] = [];
  #roomWaiters: (() => void)[] = [];
  #closeListeners = new Set<() => void>();
  #closed = false;

  constructor(settings: ChannelSettings, hooks: ChannelHooks) {
    this.settings = settings;
    this.#hooks = hooks;
  }

  get name(): string {
    return this.settings.name;
  }

  get type(): StructureDesc | null {
    return this.#type;
  }

  /** The writers' type (without WRITER_FIELD), null while untyped. */
  get userType(): StructureDesc | null {
    return this.#userType;
  }

  get value(): PVStructure | null {
    return this.#value;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Give the channel its type (once): readers waiting in whenOpen() go on. */
  setType(userType: StructureDesc): void {
    if (this.#type) throw new SluiceError('ERR_INVALID_ARGUMENT', `channel ${this.name} has its type already`);
    const type = t.struct([...userType.fields.map((m) => [m.name, m.type] as const), [WRITER_FIELD, writerInfoType]], userType.id);
    const bit = bitOf(type, WRITER_FIELD);
    this.#writerBits = new BitSet();
    for (let b = bit; b < bit + fieldCount(writerInfoType); b++) this.#writerBits.set(b);
    this.#userType = userType;
    this.#type = type;
    this.#value = completeStructure(type, {});
    for (const w of this.#openWaiters.splice(0)) w();
  }

  whenOpen(): Promise<void> {
    if (this.#type || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#openWaiters.push(resolve));
  }

  get accessGroup(): string | undefined {
    return this.settings.accessGroup;
  }

  /** Is `key` this channel's key (always true for a public one)? Never logs either. */
  keyMatches(key: string | undefined): boolean {
    return this.settings.public || (key !== undefined && key === this.settings.key);
  }

  checkKey(key: string | undefined): void {
    if (this.keyMatches(key)) return;
    throw new SluiceError(
      'ERR_ACCESS_DENIED',
      key === undefined || key === ''
        ? `channel ${this.name} is private: give its key (record[key=…])`
        : `wrong key for channel ${this.name}`,
    );
  }

  authorize(request: AccessRequest): void {
    if (request.operation === 'rpc') throw new SluiceError('ERR_NOT_SUPPORTED', `channel ${this.name} does not take RPCs`);
    this.checkKey(request.options['key']);
  }

  subscribe(subscriber: PVSubscriber): () => void {
    // The pvAccess layer calls authorize() first; this guards a layer that does not.
    if (subscriber.options && !this.keyMatches(subscriber.options['key'])) {
      queueMicrotask(() => subscriber.onClose());
      return () => {};
    }
    const peer = subscriber.peer?.peer ?? '';
    this.readers.set(subscriber, { subscriber, peer, client: (peer && this.#hooks.clientOfPeer(peer)) || '' });
    if (this.readers.size === 1) this.#hooks.activity(this, true);
    return () => {
      if (!this.readers.delete(subscriber)) return;
      this.notifyRoom();
      if (this.readers.size === 0) this.#hooks.activity(this, false);
    };
  }

  /** Wait-readers that are full hold the writers back; a reader leaving or reading frees them. */
  notifyRoom(): void {
    if (this.#roomWaiters.length === 0 || !this.#waitersHaveRoom()) return;
    for (const w of this.#roomWaiters.splice(0)) w();
  }

  #waitersHaveRoom(): boolean {
    for (const r of this.readers.keys()) if (r.policy === 'wait' && !r.hasRoom()) return false;
    return true;
  }

  /** Posts waiting for a `wait` reader's room (what holds writers back now). */
  get waitingForRoom(): number {
    return this.#roomWaiters.length;
  }

  #room(): Promise<void> {
    if (this.#closed || this.#waitersHaveRoom()) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  onClosed(listener: () => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  readonly acceptsPut = true;
  readonly acceptsRpc = false;

  handleRpc(): RpcResult {
    throw new SluiceError('ERR_NOT_SUPPORTED', `channel ${this.name} does not take RPCs`);
  }

  /** The writer a put comes from: its client's name, else the peer's address. */
  writerOf(peer: PeerInfo): string {
    return this.#hooks.clientOfPeer(peer.peer) ?? peer.peer;
  }

  /** Register a writer (openWriter). */
  openWriter(id: string): WriterState {
    let w = this.writers.get(id);
    if (!w || w.ended) {
      w = { id, opened: true, seq: 0n, ended: false, pending: 0, pendingBytes: 0, chain: Promise.resolve(), last: null };
      this.writers.set(id, w);
    }
    w.opened = true;
    return w;
  }

  handlePut(put: PutRequest): void | Promise<void> {
    this.checkKey(put.options['key']);
    const id = this.writerOf(put);
    const client = this.#hooks.clientOfPeer(put.peer);
    if (!this.settings.multiWriter && client !== this.settings.owner) {
      throw new SluiceError(
        'ERR_ACCESS_DENIED',
        `channel ${this.name} has a single writer, its owner ${this.settings.owner}; ${id} may not write (multiWriter: false)`,
      );
    }
    let w = this.writers.get(id);
    if (!w || w.ended) {
      w = { id, opened: false, seq: 0n, ended: false, pending: 0, pendingBytes: 0, chain: Promise.resolve(), last: null };
      this.writers.set(id, w);
    }
    const bytes = valueBytes(put.value);
    if (w.pending >= MAX_PENDING_PUTS || (w.pending > 0 && w.pendingBytes + bytes > MAX_PENDING_BYTES))
      throw new SluiceError(
        'ERR_LIMIT',
        `writer ${id} has ${w.pending} puts (${w.pendingBytes} bytes) to ${this.name} waiting: wait for their completion`,
      );
    const writer = w;
    this.#hooks.received(client ?? '', bytes);
    // Nothing of this writer's waits and every wait-reader has room: post now, and the put is
    // answered now (a throw, ERR_OVERFLOW, fails it as in the chain).
    if (writer.pending === 0 && !this.#closed && this.#waitersHaveRoom()) return this.#post(writer, put.value, put.changed, false, bytes);
    return this.#chain(writer, () => this.#post(writer, put.value, put.changed, false, bytes), bytes);
  }

  /** A plain peer's connection closed: forget its writer state (its seq restarts on a new connection). */
  forgetWriter(id: string): void {
    const w = this.writers.get(id);
    if (w && !w.opened && w.pending === 0) this.writers.delete(id);
  }

  /** Post the writer's end-of-transfer mark after its puts, forced through every reader buffer. */
  endWriter(id: string): Promise<void> {
    const w = this.writers.get(id);
    if (!w || w.ended) return Promise.resolve();
    w.ended = true;
    const done = this.#chain(w, () => {
      if (!this.#type) return;
      // The whole value: readers see the writer's last value with the mark, whoever wrote since.
      this.#post(w, w.last ?? (this.#value as PVStructure), BitSet.of(0), true, 0);
    });
    return done.finally(() => {
      if (this.writers.get(w.id) === w) this.writers.delete(w.id);
    });
  }

  /** Run `step` after the writer's earlier puts, once every wait-reader has room. */
  #chain(w: WriterState, step: () => void, bytes = 0): Promise<void> {
    w.pending++;
    w.pendingBytes += bytes;
    const run = w.chain.then(async () => {
      await this.#room();
      if (this.#closed) throw new SluiceError('ERR_CHANNEL_CLOSED', `channel ${this.name} was deleted`);
      step();
    });
    // The next put of this writer waits for this one, failed or not.
    w.chain = run.then(
      () => {},
      () => {},
    );
    return run.finally(() => {
      w.pending--;
      w.pendingBytes -= bytes;
    });
  }

  #post(w: WriterState, value: PVStructure, changed: BitSet, end: boolean, bytes: number): void {
    for (const r of this.readers.keys()) {
      if (r.policy === 'raise' && !end && !r.hasRoom()) {
        throw new SluiceError(
          'ERR_OVERFLOW',
          `a reader of ${this.name} (${r.peer?.peer ?? 'a monitor'}) has a full buffer (policy raise): value not posted`,
        );
      }
    }
    w.seq++;
    const posted: PVStructure = { ...value, [WRITER_FIELD]: { id: w.id, seq: w.seq, end } };
    const bits = changed.copy().or(this.#writerBits);
    if (!end) w.last = value;
    this.#value = posted;
    this.posts++;
    this.messages++;
    this.bytes += bytes;
    for (const r of this.readers.keys()) r.onPost(posted, bits, undefined, end);
  }

  /** The stats channel's own posts (writer 'server'), whole values. */
  postFromServer(value: PVStructure): void {
    if (!this.#type) return;
    const w = this.openWriter('server');
    this.#post(w, value, BitSet.of(0), false, valueBytes(value));
  }

  /** Delete: readers see the channel go, waiting puts fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#type = null;
    this.#value = null;
    const readers = [...this.readers.keys()];
    this.readers.clear();
    for (const r of readers) r.onClose();
    for (const w of this.#roomWaiters.splice(0)) w();
    for (const w of this.#openWaiters.splice(0)) w();
    for (const l of [...this.#closeListeners]) l();
  }
}
