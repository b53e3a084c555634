// A client's virtual circuit: one TCP connection to one CA server, shared by every channel on
// that server. It says who we are (VERSION, CLIENT_NAME, HOST_NAME), routes replies to the
// channel, request or subscription they answer (by cid, ioid, subscription id), and keeps the
// connection honest: an echo after EPICS_CA_CONN_TMO of silence, closed if that gets no answer.
import { announcedIdentity, type AnnouncedIdentity } from '../net/identity.js';
import { ConnectionError, DecodeError, ProtocolError, RemoteError, TimeoutError } from '../errors.js';
import { Cmd, cmdName, ecaMessage } from './constants.js';
import type { CaHeader, CaMessage } from './header.js';
import * as msg from './messages.js';
import { TcpLink } from './transport.js';

/** Replies to one request or subscription: status (ECA), header and payload. */
export interface ReplyHandler {
  onReply(status: number, h: CaHeader, payload: Uint8Array): void;
  /** An ERROR message about the request, or the circuit went down. */
  onFail(err: Error): void;
}

/** What a channel hears from its circuit. */
export interface CircuitChannel {
  onAccessRights(rights: number): void;
  onCreated(sid: number, dataType: number, count: number): void;
  onCreateFailed(reason: string): void;
  onServerDisconnect(): void;
  onCircuitClosed(err: Error): void;
}

export interface CircuitOptions {
  maxArrayBytes: number;
  connTmoMs: number;
  /** User and host sent in CLIENT_NAME and HOST_NAME (default: see announcedIdentity). */
  identity?: AnnouncedIdentity;
  /** SEARCH replies over TCP (the circuit is to a name server). */
  onSearchReply?: (answer: msg.SearchAnswer, via: string) => void;
  onClose?: (c: Circuit) => void;
}

/** How long an echo may go unanswered before the circuit is declared dead (at most). */
const ECHO_TIMEOUT_MS = 5000;

export class Circuit {
  readonly host: string;
  readonly port: number;
  readonly link: TcpLink;
  /** The server's minor protocol version (from its VERSION message; 0 until known). */
  serverMinor = 0;
  readonly channels = new Map<number, CircuitChannel>();
  readonly requests = new Map<number, ReplyHandler>();
  readonly subscriptions = new Map<number, ReplyHandler>();
  readonly #o: CircuitOptions;
  #lastRx = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #echoSent = 0;

  constructor(host: string, port: number, o: CircuitOptions) {
    this.host = host;
    this.port = port;
    this.#o = o;
    // Room for the largest array plus the biggest metadata (CTRL) and header.
    this.link = TcpLink.connect(host, port, o.maxArrayBytes + 1024);
    this.link.attach({ onMessage: (m) => this.#dispatch(m), onClose: (r) => this.#closed(r) });
    const me = o.identity ?? announcedIdentity(process.env, {}, 'sluice');
    this.link.send(msg.version(), msg.clientName(me.user), msg.hostName(me.host));
    this.#arm(o.connTmoMs);
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get closed(): boolean {
    return this.link.closed;
  }

  send(...m: Uint8Array[]): void {
    this.link.send(...m);
  }

  close(reason: Error | null = null): void {
    this.link.close(reason);
  }

  // ---- keepalive ----------------------------------------------------------------------------

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), ms);
    this.#timer.unref();
  }

  // Silence for connTmo: send an echo. No answer (nor anything else) within echoTimeout: dead.
  #check(): void {
    if (this.closed) return;
    const now = Date.now();
    const echoTimeout = Math.min(ECHO_TIMEOUT_MS, this.#o.connTmoMs);
    const waiting = this.#echoSent > 0 && this.#lastRx < this.#echoSent;
    if (waiting && now - this.#echoSent >= echoTimeout) {
      return this.close(new TimeoutError(`CA server ${this.address} did not answer an echo within ${echoTimeout} ms`));
    }
    if (waiting) return this.#arm(echoTimeout - (now - this.#echoSent));
    const idle = now - this.#lastRx;
    if (idle >= this.#o.connTmoMs) {
      this.#echoSent = now;
      this.send(msg.echo());
      return this.#arm(echoTimeout);
    }
    this.#arm(this.#o.connTmoMs - idle);
  }

  // ---- incoming -----------------------------------------------------------------------------

  #dispatch({ header: h, payload }: CaMessage): void {
    this.#lastRx = Date.now();
    switch (h.command) {
      case Cmd.VERSION:
        this.serverMinor = h.count;
        return;
      case Cmd.ECHO:
      case Cmd.CLEAR_CHANNEL: // confirmation of our CLEAR_CHANNEL
      case Cmd.NOT_FOUND:
      case Cmd.EVENTS_OFF:
      case Cmd.EVENTS_ON:
      case Cmd.READ_SYNC:
      case Cmd.RSRV_IS_UP:
        return;
      case Cmd.ACCESS_RIGHTS:
        return this.channels.get(h.p1)?.onAccessRights(h.p2);
      case Cmd.CREATE_CHAN:
        return this.channels.get(h.p1)?.onCreated(h.p2, h.dataType, h.count);
      case Cmd.CREATE_CH_FAIL:
        return this.channels.get(h.p1)?.onCreateFailed('the server refused to create the channel');
      case Cmd.SERVER_DISCONN:
        return this.channels.get(h.p1)?.onServerDisconnect();
      case Cmd.READ_NOTIFY:
      case Cmd.WRITE_NOTIFY: {
        const r = this.requests.get(h.p2);
        if (!r) return;
        this.requests.delete(h.p2);
        return r.onReply(h.p1, h, payload);
      }
      case Cmd.EVENT_ADD:
        // An empty reply confirms a cancel; the subscription is already gone then.
        if (h.payloadSize === 0 && !this.subscriptions.has(h.p2)) return;
        return this.subscriptions.get(h.p2)?.onReply(h.p1, h, payload);
      case Cmd.ERROR:
        return this.#onError(h, payload);
      case Cmd.SEARCH:
        if (!this.#o.onSearchReply) throw new ProtocolError('ERR_PROTOCOL', `CA server ${this.address} sent an unrequested SEARCH reply`);
        return this.#o.onSearchReply(msg.readSearchReply(h, payload), this.host);
      default:
        throw new ProtocolError('ERR_PROTOCOL', `CA server ${this.address} sent ${cmdName(h.command)}, which a server does not send`);
    }
  }

  /** ERROR carries the header of the request that failed: route it to that request. */
  #onError(h: CaHeader, payload: Uint8Array): void {
    let parsed;
    try {
      parsed = msg.readError(payload);
    } catch (err) {
      throw new DecodeError(`CA server ${this.address}: malformed ERROR message`, { cause: err });
    }
    const { request, text } = parsed;
    const err = new RemoteError(`${ecaMessage(h.p2)}${text ? `: ${text}` : ''}`, 2);
    switch (request.command) {
      case Cmd.READ_NOTIFY:
      case Cmd.WRITE_NOTIFY: {
        const r = this.requests.get(request.p2);
        this.requests.delete(request.p2);
        return r?.onFail(err);
      }
      case Cmd.EVENT_ADD:
      case Cmd.EVENT_CANCEL:
        return this.subscriptions.get(request.p2)?.onFail(err);
      case Cmd.CREATE_CHAN:
        return this.channels.get(request.p1)?.onCreateFailed(err.message);
      default:
        process.emitWarning(`CA server ${this.address}: ${err.message} (about ${cmdName(request.command)})`, { code: 'SLUICE_CA' });
    }
  }

  #closed(reason: Error | null): void {
    if (this.#timer) clearTimeout(this.#timer);
    const err = reason ?? new ConnectionError('ERR_CONNECTION_CLOSED', `CA server ${this.address} closed the connection`);
    const reqs = [...this.requests.values()];
    const chans = [...this.channels.values()];
    this.requests.clear();
    this.subscriptions.clear(); // subscriptions hear of it through their channel, and resubscribe
    this.channels.clear();
    for (const r of reqs) r.onFail(err);
    for (const c of chans) c.onCircuitClosed(err);
    this.#o.onClose?.(this);
  }
}
