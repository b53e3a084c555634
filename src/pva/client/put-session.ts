// A put operation kept open: INIT once (the server answers with the put type), then many puts on
// the same ioid, several in flight at once. pvAccess replies carry no request id: a reply settles
// the oldest put waiting, which is right when the server answers in the order of the puts (a
// server whose put handler completes in order, as the channel server's per-writer chain does). A lost connection fails every
// put in flight; the next put opens the operation again (a new INIT) on the new connection.
import { ConnectionError, ProtocolError, TimeoutError } from '../../errors.js';
import { BitSet } from '../../pvdata/bitset.js';
import { mergeMarked } from '../../pvdata/merge.js';
import type { PVRequest } from '../../pvdata/pvrequest.js';
import { decodeType } from '../../pvdata/type-codec.js';
import type { StructureDesc } from '../../pvdata/types.js';
import { encodeBitSet, encodePartial, encodeTyped } from '../../pvdata/value-codec.js';
import { completeStructure, type PVStructure } from '../../pvdata/values.js';
import type { ByteReader } from '../../pvdata/wire.js';
import { Cmd, Sub } from '../constants.js';
import { checkStatus, decodeStatus } from '../status.js';
import type { PvaChannel } from './channel.js';
import type { ClientConnection } from './client-conn.js';

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class PutSession {
  readonly #channel: PvaChannel;
  readonly #nextIoid: () => number;
  readonly #request: PVRequest;
  #conn: ClientConnection | null = null;
  #sid = -1;
  #ioid = -1;
  #type: StructureDesc | null = null;
  /** The put type's default value, and the type it was made for. */
  #blank: PVStructure | null = null;
  #blankType: StructureDesc | null = null;
  #opening: Promise<ClientConnection> | null = null;
  #init: Waiter | null = null;
  /** Puts sent and not answered yet, oldest first. */
  readonly #waiting: Waiter[] = [];
  #closed = false;

  constructor(channel: PvaChannel, nextIoid: () => number, request: PVRequest) {
    this.#channel = channel;
    this.#nextIoid = nextIoid;
    this.#request = request;
  }

  /** The put type (the PV's type, or the part the request selects); null before the first open. */
  get type(): StructureDesc | null {
    return this.#type;
  }

  /** Puts sent and not yet answered. */
  get inFlight(): number {
    return this.#waiting.length;
  }

  get name(): string {
    return this.#channel.name;
  }

  /** Connect and INIT the operation (at once if it is open); resolves with the put type. */
  async open(timeoutMs: number): Promise<StructureDesc> {
    await this.#open(timeoutMs);
    return this.#type as StructureDesc;
  }

  /**
   * Put `value` (a partial structure: the fields given are the ones sent). Resolves when the
   * server applied it, rejects with the server's error. No time-out once sent: a server may hold
   * a put back on purpose (back-pressure); a lost connection fails it.
   */
  put(value: PVStructure, openTimeoutMs = 5000): Promise<void> {
    if (this.#closed) return Promise.reject(new ConnectionError('ERR_CONNECTION_CLOSED', `put session on ${this.name} is closed`));
    const conn = this.#conn;
    if (conn && !conn.closed) return this.#send(conn, value);
    return this.#open(openTimeoutMs).then((c) => this.#send(c, value));
  }

  #send(conn: ClientConnection, value: PVStructure): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#sendWith(conn, value, { resolve, reject }));
  }

  /**
   * Put `value` and tell `done` (null, or the server's error) when answered: put() without a
   * promise per value, for a writer that streams many. Throws at once when the session is closed.
   */
  putWith(value: PVStructure, done: (err: Error | null) => void, openTimeoutMs = 5000): void {
    const waiter = { resolve: () => done(null), reject: done };
    if (this.#closed) throw new ConnectionError('ERR_CONNECTION_CLOSED', `put session on ${this.name} is closed`);
    const conn = this.#conn;
    if (conn && !conn.closed) return this.#sendWith(conn, value, waiter);
    this.#open(openTimeoutMs).then((c) => this.#sendWith(c, value, waiter), done);
  }

  #sendWith(conn: ClientConnection, value: PVStructure, waiter: Waiter): void {
    const type = this.#type as StructureDesc;
    // One walk gives both the fields sent and the whole value they are encoded from; the blank
    // value the missing fields come from is made once per type (mergeMarked never changes it).
    const bits = new BitSet();
    if (this.#blankType !== type) {
      this.#blank = completeStructure(type, {});
      this.#blankType = type;
    }
    const full = mergeMarked(type, this.#blank as PVStructure, value, bits);
    try {
      conn.send(Cmd.PUT, (w) => {
        w.i32(this.#sid);
        w.i32(this.#ioid);
        w.u8(Sub.DEFAULT);
        encodeBitSet(w, bits);
        encodePartial(w, type, full, bits);
      });
    } catch (err) {
      waiter.reject(err as Error);
      return;
    }
    this.#waiting.push(waiter);
  }

  #open(timeoutMs: number): Promise<ClientConnection> {
    if (this.#conn && !this.#conn.closed) return Promise.resolve(this.#conn);
    this.#opening ??= (async () => {
      const conn = await this.#channel.whenConnected(timeoutMs);
      if (this.#closed) throw new ConnectionError('ERR_CONNECTION_CLOSED', `put session on ${this.name} is closed`);
      this.#sid = this.#channel.sid;
      this.#ioid = this.#nextIoid();
      conn.ops.set(this.#ioid, { onReply: (sub, r) => this.#onReply(conn, sub, r), onDisconnect: (err) => this.#fail(err) });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#init = null;
          conn.ops.delete(this.#ioid);
          conn.destroyRequest(this.#sid, this.#ioid);
          reject(new TimeoutError(`put on ${this.name}: no answer to INIT within ${timeoutMs} ms`));
        }, timeoutMs);
        this.#init = {
          resolve: () => (clearTimeout(timer), resolve()),
          reject: (e) => (clearTimeout(timer), reject(e)),
        };
        conn.send(Cmd.PUT, (w) => {
          w.i32(this.#sid);
          w.i32(this.#ioid);
          w.u8(Sub.INIT);
          encodeTyped(w, this.#request.type, this.#request.value);
        });
      });
      this.#conn = conn;
      return conn;
    })().finally(() => (this.#opening = null));
    return this.#opening;
  }

  #onReply(conn: ClientConnection, sub: number, r: ByteReader): void {
    if (sub & Sub.INIT) {
      const w = this.#init;
      this.#init = null;
      if (!w) return;
      try {
        checkStatus(decodeStatus(r), `put ${this.name}`);
        const type = decodeType(r, conn.typeCache);
        if (!type || type.kind !== 'structure') throw new ProtocolError('ERR_PROTOCOL', `put ${this.name}: server sent no structure type`);
        this.#type = type;
        w.resolve();
      } catch (err) {
        conn.ops.delete(this.#ioid);
        w.reject(err as Error);
      }
      return;
    }
    const w = this.#waiting.shift();
    if (!w) return;
    let failure: Error | null = null;
    try {
      checkStatus(decodeStatus(r), `put ${this.name}`);
    } catch (err) {
      failure = err as Error;
    }
    // Outside the try: a waiter may run its caller's code at once (putWith), whose throw is not the server's answer.
    if (failure) w.reject(failure);
    else w.resolve();
  }

  #fail(err: Error): void {
    this.#conn = null;
    const init = this.#init;
    this.#init = null;
    init?.reject(err);
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }

  /** End the operation: puts in flight fail (their answers would have nowhere to go). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const conn = this.#conn;
    if (conn && !conn.closed) conn.destroyRequest(this.#sid, this.#ioid);
    this.#fail(new ConnectionError('ERR_CONNECTION_CLOSED', `put session on ${this.name} closed`));
  }
}
