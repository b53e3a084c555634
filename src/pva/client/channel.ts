// A client channel: search for the name, connect to the server that has it, create the channel,
// and start over when the connection drops or the server destroys the channel (only close()
// ends it). Operations that must survive this (monitors) register as users and are
// re-initialised on each connect. A channel that lost its server searches again at once and
// then at least every RECONNECT_SEARCH_MS, so that it is back soon after the server is.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { ConnectionError, TimeoutError } from '../../errors.js';
import { Cmd } from '../constants.js';
import type { Status } from '../status.js';
import type { ChannelHandler, ClientConnection } from './client-conn.js';

export type ChannelState = 'idle' | 'searching' | 'connecting' | 'connected' | 'closed';

/** What a Channel needs from its Client. */
export interface ChannelHost {
  resolve(name: string, signal: AbortSignal, maxRetryMs?: number): Promise<{ host: string; port: number }>;
  connectionTo(host: string, port: number): ClientConnection;
  readonly reconnectDelayMs: number;
}

/** An operation that lives across reconnects (a monitor). */
export interface ChannelUser {
  onConnect(conn: ClientConnection, sid: number): void;
  onDisconnect(err: Error): void;
}

/** Longest interval between searches for a channel that was connected and lost its server. */
export const RECONNECT_SEARCH_MS = 500;

export class PvaChannel extends EventEmitter implements ChannelHandler {
  readonly name: string;
  readonly cid: number;
  state: ChannelState = 'idle';
  sid = -1;
  conn: ClientConnection | null = null;
  /** Address of the server last connected to. */
  server = '';
  readonly #host: ChannelHost;
  readonly #users = new Set<ChannelUser>();
  #abort: AbortController | null = null;
  #retry: NodeJS.Timeout | null = null;
  /** Connected once and lost the server since: search often. */
  #lost = false;
  /** When the server was last lost (ms), to search again at once at most once per reconnect delay. */
  #lostAt = -Infinity;
  lastError: Error | null = null;

  constructor(host: ChannelHost, name: string, cid: number) {
    super();
    this.name = name;
    this.cid = cid;
    this.#host = host;
  }

  /** Start searching (idempotent). */
  connect(): void {
    if (this.state !== 'idle') return;
    void this.#search();
  }

  async #search(): Promise<void> {
    this.state = 'searching';
    this.#abort = new AbortController();
    try {
      const cap = this.#lost ? RECONNECT_SEARCH_MS : undefined;
      const { host, port } = await this.#host.resolve(this.name, this.#abort.signal, cap);
      if (this.state !== 'searching') return;
      this.state = 'connecting';
      const conn = this.#host.connectionTo(host, port);
      this.server = conn.address;
      await conn.ready;
      if ((this.state as ChannelState) !== 'connecting') return;
      this.conn = conn;
      conn.channels.set(this.cid, this);
      conn.send(Cmd.CREATE_CHANNEL, (w) => {
        w.u16(1);
        w.i32(this.cid);
        w.string(this.name);
      });
    } catch (err) {
      if ((this.state as ChannelState) === 'closed') return;
      this.lastError = err as Error;
      this.#scheduleRetry();
    }
  }

  #scheduleRetry(delayMs = this.#host.reconnectDelayMs): void {
    if (this.state === 'closed') return;
    this.state = 'idle';
    this.conn = null;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.connect();
    }, delayMs);
  }

  onCreated(sid: number, status: Status): void {
    if (status.type > 1) {
      this.conn?.channels.delete(this.cid);
      this.lastError = new ConnectionError('ERR_CHANNEL_NOT_FOUND', `${this.name}: ${status.message}`);
      this.emit('error', this.lastError);
      this.#scheduleRetry();
      return;
    }
    this.sid = sid;
    this.state = 'connected';
    this.#lost = false;
    this.emit('connect');
    const conn = this.conn as ClientConnection;
    for (const u of this.#users) u.onConnect(conn, sid);
  }

  /** The server destroyed the channel (its PV went away): search again. */
  onDestroyed(): void {
    this.onDisconnect(new ConnectionError('ERR_CHANNEL_CLOSED', `${this.name}: the server closed the channel`));
  }

  onDisconnect(err: Error): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.conn?.channels.delete(this.cid);
    this.sid = -1;
    this.lastError = err;
    let delay = this.#host.reconnectDelayMs;
    if (wasConnected) {
      this.#lost = true;
      const now = performance.now();
      // Search again at once, unless the server keeps dropping us (then wait the delay).
      if (now - this.#lostAt >= delay) delay = 0;
      this.#lostAt = now;
      this.emit('disconnect', err);
      for (const u of this.#users) u.onDisconnect(err);
    }
    this.#scheduleRetry(delay);
  }

  addUser(u: ChannelUser): void {
    this.#users.add(u);
    this.connect();
    if (this.state === 'connected' && this.conn) u.onConnect(this.conn, this.sid);
  }

  removeUser(u: ChannelUser): void {
    this.#users.delete(u);
  }

  /** Resolves with the connection once connected; rejects after `timeoutMs`. */
  whenConnected(timeoutMs: number, signal?: AbortSignal): Promise<ClientConnection> {
    this.connect();
    if (this.state === 'connected' && this.conn) return Promise.resolve(this.conn);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('connect', onConnect);
        signal?.removeEventListener('abort', onAbort);
      };
      const onConnect = (): void => {
        done();
        resolve(this.conn as ClientConnection);
      };
      const onAbort = (): void => {
        done();
        // plain Error: the caller's own abort reason is passed on; an aborted signal always has one
        reject(signal?.reason ?? new Error('aborted'));
      };
      const timer = setTimeout(() => {
        done();
        const why = this.lastError ? ` (last error: ${this.lastError.message})` : '';
        reject(new TimeoutError(`channel ${this.name} not connected after ${timeoutMs} ms${why}`));
      }, timeoutMs);
      this.on('connect', onConnect);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    if (this.state === 'closed') return;
    const conn = this.conn;
    if (this.state === 'connected' && conn && !conn.closed) {
      conn.send(Cmd.DESTROY_CHANNEL, (w) => {
        w.i32(this.sid);
        w.i32(this.cid);
      });
    }
    conn?.channels.delete(this.cid);
    this.state = 'closed';
    this.#abort?.abort(new ConnectionError('ERR_CHANNEL_CLOSED', `channel ${this.name} closed`));
    if (this.#retry) clearTimeout(this.#retry);
    this.#users.clear();
    this.conn = null;
  }
}
