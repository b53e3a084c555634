// A registered client of the channel server: its name, its connections (the one its hello came
// on, the one its inbox monitor came on), its exported methods and its inbox PV, through which
// the server tells it which of its channels have readers and hands it calls of other clients.
// The inbox is a SharedPV whose monitor is the client's presence: when it ends, the client leaves.
import { randomBytes } from 'node:crypto';
import { SluiceError } from '../errors.js';
import type { MethodSignature } from '../rpc/wire.js';
import { SharedPV } from '../pv/shared-pv.js';
import type { PVSubscriber } from '../pv/source.js';
import type { PVStructure } from '../pvdata/values.js';
import { inboxType } from './protocol.js';

/** Calls to one client not yet answered: more are refused (its inbox would squash them). */
export const MAX_PENDING_CALLS = 256;

/** A SharedPV that tells its owner when monitors come and go. */
class InboxPV extends SharedPV {
  readonly #onReader: (s: PVSubscriber, joined: boolean) => void;
  constructor(onReader: (s: PVSubscriber, joined: boolean) => void) {
    super();
    this.#onReader = onReader;
  }
  override subscribe(s: PVSubscriber): () => void {
    const leave = super.subscribe(s);
    this.#onReader(s, true);
    let left = false;
    return () => {
      leave();
      if (left) return;
      left = true;
      this.#onReader(s, false);
    };
  }
}

export interface ClientRecordOptions {
  name: string;
  peer: string;
  methods: string[];
  params: string[][];
  required: number[];
  /** The inbox monitor ended, or never came. */
  onGone: (client: ClientRecord, why: string) => void;
  /** The client's inbox monitor came on connection `peer` (its puts from there are its own). */
  onPeer: (client: ClientRecord, peer: string) => void;
}

export class ClientRecord {
  readonly name: string;
  /** The connection its hello came on. */
  readonly peer: string;
  /** Every connection of the client (hello's and the inbox monitor's). */
  readonly peers = new Set<string>();
  readonly token = randomBytes(16).toString('hex');
  readonly inbox: InboxPV;
  readonly signatures = new Map<string, MethodSignature>();
  readonly methods: string[];
  readonly params: string[][];
  readonly required: number[];
  bytesIn = 0;
  bytesOut = 0;
  /** Calls to this client waiting for its reply. */
  pendingCalls = 0;
  #readers = 0;
  #seen = false;
  #gone = false;
  readonly #onGone: ClientRecordOptions['onGone'];
  readonly #onPeer: ClientRecordOptions['onPeer'];

  constructor(o: ClientRecordOptions) {
    this.name = o.name;
    this.peer = o.peer;
    this.peers.add(o.peer);
    this.methods = o.methods;
    this.params = o.params;
    this.required = o.required;
    this.#onGone = o.onGone;
    this.#onPeer = o.onPeer;
    o.methods.forEach((m, i) => {
      const params = o.params[i] ?? [];
      const rest = params.some((p) => p.startsWith('...'));
      this.signatures.set(m, { params, required: o.required[i] ?? params.length, rest, types: params.map(() => '') });
    });
    this.inbox = new InboxPV((s, joined) => this.#reader(s, joined));
    this.inbox.open(inboxType, {});
  }

  /** Has the client's inbox monitor come (the client is fully there)? */
  get present(): boolean {
    return this.#readers > 0;
  }

  get seen(): boolean {
    return this.#seen;
  }

  #reader(s: PVSubscriber, joined: boolean): void {
    if (this.#gone) return;
    if (joined) {
      this.#readers++;
      this.#seen = true;
      const peer = s.peer?.peer;
      if (peer && !this.peers.has(peer)) {
        this.peers.add(peer);
        this.#onPeer(this, peer);
      }
      return;
    }
    this.#readers--;
    if (this.#readers === 0) this.#onGone(this, 'its inbox monitor ended');
  }

  /** Tell the client the channels it writes to that have readers (the whole list). */
  postActive(active: string[]): void {
    this.#post({ kind: 'active', active, callId: 0n, caller: '', method: '', args: [] });
  }

  /** Hand the client a call; refused when its inbox cannot take it now (it would be squashed). */
  postCall(callId: bigint, caller: string, method: string, args: PVStructure['args']): void {
    if (!this.inbox.writable || this.pendingCalls >= MAX_PENDING_CALLS)
      throw new SluiceError('ERR_LIMIT', `client ${this.name} has too many calls waiting (its inbox is full): try again later`);
    this.#post({ kind: 'call', active: [], callId, caller, method, args });
  }

  #post(v: PVStructure): void {
    if (this.#gone) return;
    const now = Date.now();
    this.inbox.post({ ...v, timeStamp: { secondsPastEpoch: BigInt(Math.floor(now / 1000)), nanoseconds: (now % 1000) * 1e6, userTag: 0 } });
  }

  /** The client left: its inbox closes (its monitor ends). */
  close(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.inbox.close();
  }
}
