// An RPC operation kept open: INIT once, then one request at a time on the same ioid, so each
// call costs one round trip instead of the two (INIT, then the request) of a one-shot rpc.
// Callers that want calls in flight at once use several sessions. A timeout or a lost
// connection discards the operation; the next request starts a new one.
import { TimeoutError } from '../../errors.js';
import type { PVRequest } from '../../pvdata/pvrequest.js';
import type { FieldDesc } from '../../pvdata/types.js';
import { decodeTyped, encodeTyped } from '../../pvdata/value-codec.js';
import type { PVValue } from '../../pvdata/values.js';
import type { ByteReader } from '../../pvdata/wire.js';
import { Cmd, Sub } from '../constants.js';
import { checkStatus, decodeStatus } from '../status.js';
import type { PvaChannel } from './channel.js';
import type { ClientConnection } from './client-conn.js';

type Typed = { type: FieldDesc | null; value: PVValue };

interface Waiter {
  resolve(v: Typed | null): void;
  reject(err: Error): void;
}

export class RpcSession {
  readonly #channel: PvaChannel;
  readonly #nextIoid: () => number;
  readonly #request: PVRequest;
  #conn: ClientConnection | null = null;
  #sid = -1;
  #ioid = -1;
  /** The connection the operation is registered on (set before its INIT is answered). */
  #opConn: ClientConnection | null = null;
  #opening: Promise<ClientConnection> | null = null;
  #waiter: Waiter | null = null;

  constructor(channel: PvaChannel, nextIoid: () => number, request: PVRequest) {
    this.#channel = channel;
    this.#nextIoid = nextIoid;
    this.#request = request;
  }

  /** Send one request (not before the previous one answered); resolves with the reply. */
  async request(args: Typed, timeoutMs: number): Promise<Typed> {
    const deadline = Date.now() + timeoutMs;
    const conn = await this.#open(timeoutMs);
    const reply = await this.#exchange(conn, deadline, () =>
      conn.send(Cmd.RPC, (w) => {
        w.i32(this.#sid);
        w.i32(this.#ioid);
        w.u8(Sub.DEFAULT);
        encodeTyped(w, args.type, args.value);
      }),
    );
    return reply as Typed;
  }

  #open(timeoutMs: number): Promise<ClientConnection> {
    if (this.#conn && !this.#conn.closed) return Promise.resolve(this.#conn);
    this.#opening ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const conn = await this.#channel.whenConnected(timeoutMs);
      this.#sid = this.#channel.sid;
      this.#ioid = this.#nextIoid();
      this.#opConn = conn;
      conn.ops.set(this.#ioid, { onReply: (sub, r) => this.#onReply(sub, r), onDisconnect: (err) => this.#fail(err) });
      await this.#exchange(conn, deadline, () =>
        conn.send(Cmd.RPC, (w) => {
          w.i32(this.#sid);
          w.i32(this.#ioid);
          w.u8(Sub.INIT);
          encodeTyped(w, this.#request.type, this.#request.value);
        }),
      );
      this.#conn = conn;
      return conn;
    })().finally(() => (this.#opening = null));
    return this.#opening;
  }

  #exchange(conn: ClientConnection, deadline: number, send: () => void): Promise<Typed | null> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#waiter = null;
          this.#discard(conn);
          reject(new TimeoutError(`rpc on ${this.#channel.name} timed out`));
        },
        Math.max(1, deadline - Date.now()),
      );
      this.#waiter = {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      send();
    });
  }

  #onReply(sub: number, r: ByteReader): void {
    const w = this.#waiter;
    this.#waiter = null;
    if (!w) return;
    try {
      checkStatus(decodeStatus(r), `rpc ${this.#channel.name}`);
      w.resolve(sub & Sub.INIT ? null : decodeTyped(r, (this.#opConn as ClientConnection).typeCache));
    } catch (err) {
      w.reject(err as Error);
    }
  }

  #fail(err: Error): void {
    this.#conn = null;
    const w = this.#waiter;
    this.#waiter = null;
    w?.reject(err);
  }

  /** A late reply must not answer the next request: the operation goes, the next request opens another. */
  #discard(conn: ClientConnection): void {
    conn.ops.delete(this.#ioid);
    conn.destroyRequest(this.#sid, this.#ioid);
    this.#conn = null;
  }

  close(): void {
    if (this.#conn) this.#discard(this.#conn);
    this.#fail(new TimeoutError('session closed'));
  }
}
