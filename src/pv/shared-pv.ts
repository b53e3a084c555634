// A PV served by a Server or a CaServer, in the manner of PVXS's SharedPV: open() with a type
// and value, post() full or partial updates, close(); optional handlers for PUT and RPC.
// It is the Source (source.ts) servers ask for, keeping the value its producer posts.
import { InvalidArgumentError, SluiceError } from '../errors.js';
import { BitSet } from '../pvdata/bitset.js';
import { bitOf, fieldCount } from '../pvdata/field-numbering.js';
import { mergeMarked } from '../pvdata/merge.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { UpdateMarks } from '../pvdata/update.js';
import { completeStructure, type PVStructure } from '../pvdata/values.js';
import { Distributor, type DistributorSettings } from './distributor.js';
import type { PeerInfo, PutRequest, PVSubscriber, RpcArgs, RpcResult, Source } from './source.js';

export type { PeerInfo, PutRequest, RpcArgs, RpcResult, PVSubscriber } from './source.js';

export type PutHandler = (pv: SharedPV, put: PutRequest) => void | Promise<void>;
export type RpcHandler = (pv: SharedPV, args: RpcArgs, peer: PeerInfo) => RpcResult | Promise<RpcResult>;

export interface SharedPVOptions {
  onPut?: PutHandler;
  onRpc?: RpcHandler;
  /** Access security group (ASG) of the PV, as a record's ASG field (default DEFAULT). */
  accessGroup?: string;
}

export class SharedPV implements Source {
  #type: StructureDesc | null = null;
  #value: PVStructure | null = null;
  #subscribers = new Set<PVSubscriber>();
  /** Subscribers that share the updates (distributor plugin); created when the first one joins. */
  #distributor: Distributor<PVSubscriber> | null = null;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  onPut: PutHandler | undefined;
  onRpc: RpcHandler | undefined;
  /** Access security group whose rules apply (unless a PV list places the name in another). */
  accessGroup: string | undefined;
  /** Number of posts since open (useful for statistics). */
  posts = 0;

  constructor(options: SharedPVOptions = {}) {
    this.onPut = options.onPut;
    this.onRpc = options.onRpc;
    this.accessGroup = options.accessGroup;
  }

  /** A PV whose puts are stored and posted to every subscriber (PVXS "mailbox"). */
  static mailbox(options: SharedPVOptions = {}): SharedPV {
    return new SharedPV({ onPut: (pv, put) => void pv.postChanges(stampIfUnset(pv, put), put.changed), ...options });
  }

  /**
   * A PV that refuses puts (PVXS's SharedPV::buildReadonly): acceptsPut is false, so a pvAccess
   * put gets an error and a Channel Access client sees no write access. Only its owner posts.
   */
  static readonly(options: Omit<SharedPVOptions, 'onPut'> = {}): SharedPV {
    return new SharedPV({ ...options, onPut: undefined }); // an onPut from untyped code is not taken
  }

  get isOpen(): boolean {
    return this.#type !== null;
  }

  get type(): StructureDesc | null {
    return this.#type;
  }

  /** The current value (treat as read-only: post() to change it). */
  get value(): PVStructure | null {
    return this.#value;
  }

  get subscriberCount(): number {
    return this.#subscribers.size + (this.#distributor?.size ?? 0);
  }

  open(type: StructureDesc, initial: PVStructure = {}): this {
    if (this.#type) throw new InvalidArgumentError('SharedPV is already open: close() it first');
    if (type.kind !== 'structure') throw new InvalidArgumentError('a PV type must be a structure');
    this.#type = type;
    this.#value = completeStructure(type, initial);
    this.posts = 0;
    for (const w of this.#waiters.splice(0)) w.resolve();
    return this;
  }

  get acceptsPut(): boolean {
    return this.onPut !== undefined;
  }

  /** Source: hands a client's put to onPut. */
  handlePut(put: PutRequest): void | Promise<void> {
    if (!this.onPut) throw new SluiceError('ERR_NOT_SUPPORTED', 'this SharedPV is read-only');
    return this.onPut(this, put);
  }

  get acceptsRpc(): boolean {
    return this.onRpc !== undefined;
  }

  /** Source: hands a client's RPC to onRpc. */
  handleRpc(args: RpcArgs, peer: PeerInfo): RpcResult | Promise<RpcResult> {
    if (!this.onRpc) throw new SluiceError('ERR_NOT_SUPPORTED', 'this SharedPV does not support RPC');
    return this.onRpc(this, args, peer);
  }

  /** Resolves once the PV is open (operations on a PV not yet open wait for it, as in PVXS). */
  whenOpen(): Promise<void> {
    if (this.#type) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Post an update. Without `marks`, `value` may be partial: the fields present are the ones that
   * changed (nested structures merge). With `marks`, `value` is the complete new value and
   * `marks.changed` says what changed in it; `marks.overrun` (fields squashed upstream, as a
   * relay receives them) goes to the subscribers, whose monitors send it with their own. The
   * marks and arrays are taken by reference: do not modify them afterwards. `force` (an
   * end-of-transfer mark) reaches every subscriber whatever its fill rate and overflow policy
   * (see PVSubscriber.onPost), every distributor client included.
   */
  post(value: PVStructure, marks?: UpdateMarks, options?: { force?: boolean }): boolean {
    const type = this.#requireOpen();
    const force = options?.force === true;
    if (marks) {
      this.#value = value;
      const overrun = marks.overrun;
      return this.#emit(marks.changed, overrun !== undefined && !overrun.isEmpty() ? overrun : undefined, force);
    }
    const changed = new BitSet();
    this.#value = mergeMarked(type, this.#value as PVStructure, value, changed);
    return this.#emit(changed, undefined, force);
  }

  /** Post a complete new value with an explicit set of changed fields (copied). */
  postChanges(value: PVStructure, changed: BitSet): boolean {
    return this.post(value, { changed: changed.copy() });
  }

  /**
   * Returns whether every subscriber that received the update still has room: a producer that
   * must lose nothing stops posting when this is false and waits for drained() (backpressure,
   * like stream.write()). Distributor subscribers not chosen for this update do not count.
   */
  #emit(changed: BitSet, overrun: BitSet | undefined, force: boolean): boolean {
    this.posts++;
    const v = this.#value as PVStructure;
    let room = true;
    for (const s of this.#subscribers) {
      s.onPost(v, changed, overrun, force);
      if (!s.hasRoom()) room = false;
    }
    const d = this.#distributor;
    if (force && d !== null) {
      for (const s of d.clients()) {
        s.onPost(v, changed, overrun, true);
        if (!s.hasRoom()) room = false;
      }
      return room;
    }
    // A post that changed nothing would use up a turn while no monitor sends it: not distributed.
    if (d !== null && d.size > 0 && !changed.isEmpty()) {
      const chosen = d.distribute(v);
      for (let i = 0; i < chosen.length; i++) {
        const s = chosen[i] as PVSubscriber;
        s.onPost(v, changed, overrun);
        if (!s.hasRoom()) room = false;
      }
    }
    return room;
  }

  /** True when no subscriber's queue is full (distributor subscribers included: any may be next). */
  get writable(): boolean {
    for (const s of this.#subscribers) if (!s.hasRoom()) return false;
    if (this.#distributor) for (const s of this.#distributor.clients()) if (!s.hasRoom()) return false;
    return true;
  }

  #drainWaiters: (() => void)[] = [];

  /** Resolves when every subscriber has room again (at once if it already has). */
  drained(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Source: a subscriber's queue shrank, or a subscriber left. */
  notifyRoom(): void {
    if (this.#drainWaiters.length === 0 || !this.writable) return;
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  #requireOpen(): StructureDesc {
    if (!this.#type) throw new SluiceError('ERR_CHANNEL_CLOSED', 'post() on a SharedPV that is not open');
    return this.#type;
  }

  /**
   * Close: the PV is finished. Subscribers get what is queued for them, then their monitors end
   * (pvAccess: the "finish" update); channels stay, and new operations wait for open() again.
   * To withdraw a PV from a server without ending its monitors, removePV it.
   */
  close(): void {
    this.#type = null;
    this.#value = null;
    const subs = [...this.#subscribers, ...(this.#distributor?.clients() ?? [])];
    this.#subscribers.clear();
    this.#distributor = null; // its groups die with the subscriptions; a reopened PV starts afresh
    for (const s of subs) s.onClose('end');
    for (const w of this.#drainWaiters.splice(0)) w();
    for (const l of this.#closeListeners) l();
  }

  #closeListeners = new Set<() => void>();
  /** Source: server channels use this to learn that the PV closed. */
  onClosed(listener: () => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Source: with `distribution`, the subscriber joins the PV's distributor and gets only the
   * updates chosen for it (the caller still sends it the current value when it subscribes).
   */
  subscribe(s: PVSubscriber, distribution?: DistributorSettings | null): () => void {
    let leave: () => void;
    if (distribution) {
      const d = (this.#distributor ??= new Distributor<PVSubscriber>());
      const member = d.join(s, distribution);
      leave = () => {
        d.leave(member);
        this.notifyRoom();
      };
    } else {
      this.#subscribers.add(s);
      leave = () => {
        this.#subscribers.delete(s);
        this.notifyRoom();
      };
    }
    for (const w of [...this.#subscriberWatchers]) w();
    return leave;
  }

  #subscriberWatchers = new Set<() => void>();

  /**
   * Resolves true once `n` subscribers are there (a monitor waiting for the PV to open counts),
   * false if `signal` aborts first: a producer that must not start before its readers came.
   */
  whenSubscribers(n: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.subscriberCount < n && !signal.aborted) return;
        this.#subscriberWatchers.delete(check);
        signal.removeEventListener('abort', check);
        resolve(!signal.aborted);
      };
      this.#subscriberWatchers.add(check);
      signal.addEventListener('abort', check, { once: true });
      check();
    });
  }
}

/**
 * A put that did not set `timeStamp` gets the time of the put (as the PVXS mailbox does), so
 * clients see when the value changed.
 */
function stampIfUnset(pv: SharedPV, put: PutRequest): PVStructure {
  const type = pv.type;
  const ts = type?.fields.find((m) => m.name === 'timeStamp');
  if (!type || !ts || ts.type.kind !== 'structure' || put.value['timeStamp'] === undefined) return put.value;
  const bit = bitOf(type, 'timeStamp');
  if (put.changed.get(0) || put.changed.anyInRange(bit, bit + fieldCount(ts.type))) return put.value;
  const now = Date.now();
  put.changed.set(bit);
  return {
    ...put.value,
    timeStamp: { ...put.value['timeStamp'], secondsPastEpoch: BigInt(Math.floor(now / 1000)), nanoseconds: (now % 1000) * 1e6 },
  };
}
