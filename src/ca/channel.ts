// A client channel: search, create it on the server's circuit, read its metadata once (units,
// limits, enum labels: DBR_CTRL), then serve gets, puts and subscriptions. After a disconnect
// (server gone, channel deleted on the server, circuit dead) it searches again, and its users
// (subscriptions) are told when it is back so they can subscribe again.
import { EventEmitter } from 'node:events';
import { ConnectionError, DecodeError, TimeoutError } from '../errors.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { Circuit, CircuitChannel } from './circuit.js';
import { AccessRights, Eca, LAST_DBR, dbrName, type DbrBaseType } from './constants.js';
import { decodeDbr, type DbrData, type DbrMeta } from './dbr.js';
import type { CaHeader } from './header.js';
import * as msg from './messages.js';
import { ctrlTypeOf, hasControlInfo, ntTypeOf, type NativeInfo } from './nt-mapping.js';
import type { CaSearcher, Found } from './search.js';

export interface ChannelUser {
  onConnected(ch: CaChannel): void;
  onDisconnected(err: Error): void;
  /** The channel was closed (its client closed): the user ends. */
  onChannelClosed(): void;
}

/** What a channel needs from its client. */
export interface ChannelHost {
  readonly searcher: CaSearcher;
  circuitTo(host: string, port: number): Circuit;
  /** A channel left `circuit` (the client may close it when no channel is left). */
  release(circuit: Circuit): void;
  nextId(): number;
  readonly reconnectDelayMs: number;
}

export type ChannelState = 'searching' | 'connecting' | 'connected' | 'closed';

export class CaChannel extends EventEmitter implements CircuitChannel {
  readonly name: string;
  readonly cid: number;
  state: ChannelState = 'searching';
  circuit: Circuit | null = null;
  sid = 0;
  native: NativeInfo | null = null;
  /** The normative type values are given as (known once connected). */
  type: StructureDesc | null = null;
  rights = 0;
  /** DBR_CTRL metadata read when the channel connected (null for strings or when it failed). */
  ctrl: DbrMeta | null = null;
  lastError: Error | null = null;
  readonly #host: ChannelHost;
  readonly #users = new Set<ChannelUser>();
  #searchMinor = 0;
  /** Searching cannot work (no destination at all): every wait fails at once with this. */
  #fatal: Error | null = null;
  #abort: AbortController | null = null;
  #retry: NodeJS.Timeout | null = null;

  constructor(host: ChannelHost, name: string, cid: number) {
    super();
    this.#host = host;
    this.name = name;
    this.cid = cid;
  }

  /** The server's minor protocol version (0 when not connected). */
  get serverMinor(): number {
    return this.circuit?.serverMinor || this.#searchMinor;
  }

  get canWrite(): boolean {
    return (this.rights & AccessRights.WRITE) !== 0;
  }

  addUser(u: ChannelUser): void {
    this.#users.add(u);
    if (this.state === 'connected') u.onConnected(this);
  }

  removeUser(u: ChannelUser): void {
    this.#users.delete(u);
  }

  connect(): void {
    if (this.state === 'closed') return;
    this.state = 'searching';
    const abort = (this.#abort = new AbortController());
    this.#host.searcher.lookup(this.name, this.cid, abort.signal).then(
      (found) => this.#attach(found),
      (err: unknown) => {
        if (abort.signal.aborted || this.state === 'closed') return;
        this.lastError = this.#fatal = err as Error; // no search destination: nothing will ever answer
        this.emit('error', err);
      },
    );
  }

  #attach(found: Found): void {
    if (this.state === 'closed') return;
    this.#searchMinor = found.minorVersion;
    const c = this.#host.circuitTo(found.host, found.port);
    this.circuit = c;
    this.state = 'connecting';
    c.channels.set(this.cid, this);
    c.send(msg.createChan(this.cid, this.name));
  }

  /** Resolves when connected; rejects with ERR_TIMEOUT (naming the channel) after `ms`. */
  whenConnected(ms: number, what = 'connect'): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new ConnectionError('ERR_CHANNEL_CLOSED', `CA channel ${this.name} is closed`));
    if (this.#fatal) return Promise.reject(this.#fatal);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('connect', onConnect);
        this.off('closed', onClosed);
        this.off('error', onError);
      };
      const onConnect = (): void => (done(), resolve());
      const onClosed = (): void => (done(), reject(new ConnectionError('ERR_CHANNEL_CLOSED', `CA channel ${this.name} was closed`)));
      const onError = (e: Error): void => (done(), reject(e));
      const timer = setTimeout(() => {
        done();
        const why = this.lastError
          ? ` (last error: ${this.lastError.message})`
          : this.state === 'searching'
            ? ' (no server answered the search)'
            : '';
        reject(new TimeoutError(`CA ${what} ${this.name}: channel not connected within ${ms} ms${why}`));
      }, ms);
      this.on('connect', onConnect);
      this.once('closed', onClosed);
      this.once('error', onError);
    });
  }

  // ---- from the circuit ---------------------------------------------------------------------

  onAccessRights(rights: number): void {
    this.rights = rights;
    if (this.state === 'connected') this.emit('rights', rights);
  }

  onCreated(sid: number, dataType: number, count: number): void {
    if (this.state !== 'connecting') return;
    if (dataType > 6)
      throw new DecodeError(
        `CA server ${this.circuit?.address} gave channel ${this.name} the native type ${dataType}, which is not a DBR base type`,
      );
    this.sid = sid;
    this.native = { base: dataType as DbrBaseType, count };
    if (!hasControlInfo(this.native)) return this.#ready();
    // Metadata first, so the first value handed out already has its units and labels.
    const c = this.circuit as Circuit;
    const ioid = this.#host.nextId();
    const type = ctrlTypeOf(this.native);
    c.requests.set(ioid, {
      onReply: (status, h, payload) => {
        this.ctrl = status === Eca.NORMAL ? decodeReply(this.name, type, h, payload).meta : null;
        this.#ready();
      },
      onFail: () => {
        this.ctrl = null;
        if (this.state === 'connecting' && !c.closed) this.#ready();
      },
    });
    c.send(msg.readNotify(sid, ioid, type, 1));
  }

  #ready(): void {
    if (this.state !== 'connecting') return;
    this.state = 'connected';
    this.lastError = null;
    this.type = ntTypeOf(this.native as NativeInfo);
    for (const u of [...this.#users]) u.onConnected(this);
    this.emit('connect', this.type);
  }

  onCreateFailed(reason: string): void {
    this.lastError = new ConnectionError('ERR_CHANNEL_NOT_FOUND', `CA channel ${this.name}: ${reason}`);
    this.#lost(this.lastError, this.#host.reconnectDelayMs);
  }

  onServerDisconnect(): void {
    this.#lost(new ConnectionError('ERR_CHANNEL_CLOSED', `CA channel ${this.name} was deleted on the server`), 0);
  }

  onCircuitClosed(err: Error): void {
    const wasConnected = this.state === 'connected';
    this.circuit = null; // the circuit has forgotten us already
    this.lastError = err;
    // A server we reached before may have restarted elsewhere: search again at once. One we
    // never reached (a stale answer, a refused connection) is retried after a pause.
    this.#lost(err, wasConnected ? 0 : this.#host.reconnectDelayMs);
  }

  #lost(err: Error, delay: number): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.#detach();
    this.state = 'searching';
    if (wasConnected) {
      for (const u of [...this.#users]) u.onDisconnected(err);
      this.emit('disconnect', err);
    }
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.connect();
    }, delay); // not unref'd: a channel being looked for keeps the process alive, as camonitor does
  }

  #detach(): void {
    const c = this.circuit;
    this.circuit = null;
    this.native = null;
    this.ctrl = null;
    this.rights = 0;
    if (c && !c.closed) {
      c.channels.delete(this.cid);
      this.#host.release(c);
    }
  }

  close(): void {
    if (this.state === 'closed') return;
    const c = this.circuit;
    if (c && this.state === 'connected' && !c.closed) c.send(msg.clearChannel(this.sid, this.cid));
    this.#detach();
    this.state = 'closed';
    this.#abort?.abort(new ConnectionError('ERR_CHANNEL_CLOSED', `CA channel ${this.name} was closed`));
    this.#host.searcher.cancel(this.cid);
    if (this.#retry) clearTimeout(this.#retry);
    const users = [...this.#users];
    this.#users.clear();
    for (const u of users) u.onChannelClosed(); // CLEAR_CHANNEL ended their subscriptions on the server
    this.emit('closed');
  }
}

/** Decodes a data reply, checking it is of the type asked for (a server must not change it). */
export function decodeReply(name: string, asked: number, h: CaHeader, payload: Uint8Array): DbrData {
  if (h.dataType !== asked) {
    throw new DecodeError(
      `CA channel ${name}: asked for ${dbrName(asked)}, the server sent ${h.dataType > LAST_DBR ? `type ${h.dataType}` : dbrName(h.dataType)}`,
    );
  }
  return decodeDbr(h.dataType, h.count, payload);
}
