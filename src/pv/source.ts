// What a server asks of a PV, whatever protocol it speaks: the pvAccess server and the Channel
// Access server both serve a `Source`, and know nothing of how it makes its values. SharedPV is
// one implementation; a Source may as well compute its value on demand or relay another PV.
// As PVXS keeps source.h (the server's side of the contract) apart from sharedpv.h.
import type { BitSet } from '../pvdata/bitset.js';
import type { FieldDesc, StructureDesc } from '../pvdata/types.js';
import type { PVStructure, PVValue } from '../pvdata/values.js';
import type { DistributorSettings } from './distributor.js';

/** Who asked: passed to put and RPC handlers. */
export interface PeerInfo {
  peer: string;
  account: string;
  channel: string;
}

export interface PutRequest extends PeerInfo {
  /** The current value with the put fields applied. */
  value: PVStructure;
  /** Which fields the client sent (BitSet numbering of the PV's type). */
  changed: BitSet;
  /** Options from the pvRequest's record._options (process, block, ...); empty from CA. */
  options: Record<string, string>;
}

/** An RPC's argument: a typed value (usually an NTURI-like structure); type null when empty. */
export interface RpcArgs {
  type: FieldDesc | null;
  value: PVValue;
}

/** An RPC's answer: a typed value, or a structure whose type is inferred. */
export type RpcResult = { type: FieldDesc; value: PVValue } | PVStructure;

/**
 * How a reader's server-side queue overflows, from its pvRequest (`record[policy=ring]`), as
 * stream_service's buffers: `ring` drops the oldest entry, `clear` empties the queue, `skip` drops
 * the new post, `wait` holds the writer back (hasRoom() is false while the queue is full), `raise`
 * makes the writer's put fail (a source that cannot fail its writer treats it as `skip`). Without a
 * policy a monitor squashes into its newest entry and marks the overrun, as pvAccess servers do.
 * Every drop is counted (ReaderStats).
 */
export type ReaderPolicy = 'ring' | 'clear' | 'skip' | 'wait' | 'raise';
export const READER_POLICIES: readonly ReaderPolicy[] = ['ring', 'clear', 'skip', 'wait', 'raise'];

/** One reader's counters, as a load statistics channel shows them. */
export interface ReaderStats {
  /** Posts offered to the reader (before the fill rate). */
  posted: number;
  /** Posts not kept because of the fill rate (every n-th is kept). */
  fillSkipped: number;
  /** Entries lost to the overflow policy (ring, clear, skip, raise). */
  dropped: number;
  /** Posts squashed into another entry (no policy, or a forced post into a full queue). */
  overruns: number;
  /** Updates sent to the client. */
  sent: number;
  /** Entries now waiting in the queue, and the queue's size. */
  queued: number;
  queueSize: number;
}

/**
 * How a subscription goes when its PV goes. `end`: the PV is finished (closed by its owner, a
 * stream that is over): the subscriber gets what is queued for it, then its monitor ends (pvAccess
 * sends the "finish" update). `disconnect`: the PV is gone for now (removed from a server): the
 * subscriber gets what is queued for it, then its client sees the channel go and searches again.
 */
export type CloseKind = 'end' | 'disconnect';

/** What a subscription (a server-side monitor of either protocol) receives from its PV. */
export interface PVSubscriber {
  /**
   * `value` is the whole current value; `changed` marks the fields that changed; `overrun`, when
   * present, the fields squashed before the post reached the PV (a relayed upstream overrun).
   * Both are shared by all subscribers: do not modify them. `force`: deliver despite the fill
   * rate and the overflow policy (an end-of-transfer marker); into a full queue it is squashed
   * into the newest entry.
   */
  onPost(value: PVStructure, changed: BitSet, overrun?: BitSet, force?: boolean): void;
  /** The PV closed: no more posts. `how` defaults to `end` (see CloseKind). */
  onClose(how?: CloseKind): void;
  /** False while one more post would be squashed into the subscriber's full queue. */
  hasRoom(): boolean;
  /**
   * A pipelined pvAccess monitor: its client returns credit as it consumes, so a full queue means
   * a reader that wants everything is behind (a stream's lossless reader), not a slow display.
   */
  readonly pipeline?: boolean;
  /** Who reads, when the subscriber is a client's monitor. */
  readonly peer?: PeerInfo;
  /** The reader's pvRequest options (record._options: queueSize, policy, fillRate, ...). */
  readonly options?: Readonly<Record<string, string>>;
  /** The overflow policy the reader asked for; undefined: squash (pvAccess's behaviour). */
  readonly policy?: ReaderPolicy;
  /** Keep every n-th post (record._options.fillRate; 1: all). */
  readonly fillRate?: number;
  /** The reader's counters (pvAccess monitors have them; CA monitors may not). */
  readerStats?(): ReaderStats;
}

/** Operations a Source may refuse at their start (Source.authorize). */
export type OperationKind = 'get' | 'put' | 'monitor' | 'rpc';

/** An operation about to start: who asks, and the options of its pvRequest (`record[key=…]`). */
export interface AccessRequest extends PeerInfo {
  operation: OperationKind;
  /** record._options of the pvRequest; empty from Channel Access, which has none. */
  options: Readonly<Record<string, string>>;
}

/** One PV as a server sees it. */
export interface Source {
  /** The PV's type; null while it is not open (operations then wait in whenOpen()). */
  readonly type: StructureDesc | null;
  /** The current value (what a get returns and a subscription starts with); null while not open. */
  readonly value: PVStructure | null;
  /**
   * Changes with every post, even one that reuses the value object: servers key what they
   * cache about the current value (CA encodings) on it.
   */
  readonly posts: number;
  /** Resolves once the PV is open (at once if it is). */
  whenOpen(): Promise<void>;
  /**
   * Send every post to `subscriber` until the returned function is called. The caller sends the
   * current value itself first. `distribution` (pvAccess monitors that ask for the distributor
   * plugin) asks for a share of the posts; a source that does not distribute treats such a
   * subscriber as an ordinary one.
   */
  subscribe(subscriber: PVSubscriber, distribution?: DistributorSettings | null): () => void;
  /** A subscriber whose hasRoom() was false has room again (a producer waiting for it may go on). */
  notifyRoom(): void;
  /**
   * Calls `listener` when the PV closes (pvAccess channels end their monitors, Channel Access
   * channels disconnect); returns the remover.
   */
  onClosed(listener: () => void): () => void;
  /**
   * Optional: refuse an operation as it starts, by throwing (a per-channel key, say). Called after
   * the server's access rules allowed it. The error's message reaches the client: it must not
   * contain secrets.
   */
  authorize?(request: AccessRequest): void;
  /** Access security group (ASG) whose rules apply; undefined: DEFAULT. */
  readonly accessGroup: string | undefined;
  /** False: puts are refused (CA clients see no write right). */
  readonly acceptsPut: boolean;
  /** Apply a put; throwing (or rejecting) sends the client an error. */
  handlePut(put: PutRequest): void | Promise<void>;
  /** False: RPCs are refused. */
  readonly acceptsRpc: boolean;
  handleRpc(args: RpcArgs, peer: PeerInfo): RpcResult | Promise<RpcResult>;
  /**
   * Close the PV: its subscribers' monitors end (PVSubscriber.onClose). A server's removePV drops
   * its own channels of the name first (their clients search again), then calls it when the PV is open.
   */
  close?(): void;
}

/** Finds or creates a PV by name, for names that no statically added PV has (undefined: none). */
export type PVSource = (name: string) => Source | undefined;
