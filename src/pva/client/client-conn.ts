// Client side of one TCP connection to a server: the handshake (SET_BYTE_ORDER, validation),
// routing of replies to channels (by client id) and operations (by request id), echoes.
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConnectionError, ProtocolError } from '../../errors.js';
import { TypeCache } from '../../pvdata/type-codec.js';
import type { ByteReader } from '../../pvdata/wire.js';
import { Cmd, Ctrl, Sub } from '../constants.js';
import { PvaConnection, type ConnectionLimits } from '../connection.js';
import type { AppMessage } from '../framer.js';
import { decodeStatus, type Status } from '../status.js';
import { t } from '../../pvdata/types.js';
import { encodeTyped } from '../../pvdata/value-codec.js';
import { announcedIdentity, type AnnouncedIdentity } from '../../net/identity.js';

/** Receives the replies of one operation. */
export interface OpHandler {
  onReply(sub: number, r: ByteReader): void;
  onDisconnect(err: Error): void;
}

/** Receives the events of one channel on this connection. */
export interface ChannelHandler {
  onCreated(sid: number, status: Status): void;
  onDestroyed(): void;
  onDisconnect(err: Error): void;
}

export interface MessageSink {
  (ioid: number, severity: number, text: string): void;
}

const CREDENTIALS_TYPE = t.struct({ user: t.string, host: t.string });

export class ClientConnection extends PvaConnection {
  readonly address: string;
  readonly typeCache = new TypeCache();
  readonly ops = new Map<number, OpHandler>();
  readonly channels = new Map<number, ChannelHandler>();
  readonly ready: Promise<void>;
  onMessageText: MessageSink | null = null;
  /** SEARCH_RESPONSE arriving over TCP (name servers). */
  onSearchResponse: ((r: ByteReader) => void) | null = null;
  #resolveReady!: () => void;
  #rejectReady!: (e: Error) => void;
  #validated = false;
  readonly #identity: AnnouncedIdentity;

  constructor(
    stream: Duplex,
    address: string,
    limits: Partial<ConnectionLimits>,
    identity: AnnouncedIdentity = announcedIdentity(process.env),
  ) {
    super(stream, false, limits);
    this.address = address;
    this.#identity = identity;
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed through channels; never an unhandled rejection
  }

  static connect(
    host: string,
    port: number,
    limits: Partial<ConnectionLimits>,
    identity: AnnouncedIdentity = announcedIdentity(process.env),
  ): ClientConnection {
    // onread lets large payloads be read straight into their final buffer (no copy in JS).
    let conn: ClientConnection | null = null;
    const sock: Socket = tcpConnect({
      host,
      port,
      noDelay: true,
      onread: {
        // Called once before the connection object exists (socket set-up), then per read.
        buffer: () => conn?.readBuffer() ?? Buffer.allocUnsafeSlow(64 * 1024),
        callback: (n: number, buf: Uint8Array) => {
          (conn as ClientConnection).onRead(n, buf);
          return true;
        },
      },
    });
    conn = new ClientConnection(sock, `${host}:${port}`, limits, identity);
    return conn;
  }

  get validated(): boolean {
    return this.#validated;
  }

  protected isServerSide(): boolean {
    return false;
  }

  protected override onControl(command: number, value: number, flags: number): void {
    if (command === Ctrl.SET_BYTE_ORDER) {
      // pvAccessCPP servers ignore the byte-order bit of what we send: use theirs.
      this.out.setByteOrder((flags & 0x80) === 0);
      return;
    }
    super.onControl(command, value, flags);
  }

  protected onMessage(m: AppMessage, r: ByteReader): void {
    try {
      this.#handle(m, r);
    } catch (err) {
      this.protocolFailure(err);
    }
  }

  #handle(m: AppMessage, r: ByteReader): void {
    switch (m.command) {
      case Cmd.CONNECTION_VALIDATION:
        return this.#onValidationRequest(r);
      case Cmd.CONNECTION_VALIDATED: {
        const s = decodeStatus(r);
        if (s.type > 1) {
          this.close(new ProtocolError('ERR_PROTOCOL', `server refused the connection: ${s.message}`));
          return;
        }
        this.#validated = true;
        this.#resolveReady();
        return;
      }
      case Cmd.CREATE_CHANNEL: {
        const cid = r.i32();
        const sid = r.i32();
        const status = decodeStatus(r);
        this.channels.get(cid)?.onCreated(sid, status);
        return;
      }
      case Cmd.DESTROY_CHANNEL: {
        r.i32(); // sid
        const cid = r.i32();
        const ch = this.channels.get(cid);
        this.channels.delete(cid);
        ch?.onDestroyed();
        return;
      }
      case Cmd.MESSAGE: {
        const ioid = r.i32();
        const severity = r.u8();
        const text = r.string();
        this.onMessageText?.(ioid, severity, text);
        return;
      }
      case Cmd.SEARCH_RESPONSE:
        this.onSearchResponse?.(r);
        return;
      case Cmd.GET:
      case Cmd.PUT:
      case Cmd.MONITOR:
      case Cmd.RPC:
      case Cmd.GET_FIELD:
      case Cmd.PUT_GET:
      case Cmd.PROCESS:
      case Cmd.ARRAY: {
        const ioid = r.i32();
        const sub = m.command === Cmd.GET_FIELD ? 0 : r.u8();
        this.ops.get(ioid)?.onReply(sub, r);
        return;
      }
      default:
        return; // beacons and other commands have nothing for us here
    }
  }

  #onValidationRequest(r: ByteReader): void {
    r.i32(); // server receive buffer size
    r.i16(); // registry size
    const n = r.count('authentication method');
    const methods: string[] = [];
    for (let i = 0; i < n; i++) methods.push(r.string());
    const w = this.out.begin(Cmd.CONNECTION_VALIDATION);
    w.i32(0x10000);
    w.i16(0x7fff);
    w.i16(0);
    if (methods.includes('ca')) {
      w.string('ca');
      encodeTyped(w, CREDENTIALS_TYPE, { user: this.#identity.user, host: this.#identity.host });
    } else {
      w.string('anonymous');
      w.u8(0xff);
    }
    this.out.end();
    this.flush();
  }

  /** Send a message built by `build` (the writer is positioned after the header). */
  send(cmd: number, build: (w: ReturnType<ClientConnection['out']['begin']>) => void): void {
    if (this.closed) throw new ConnectionError('ERR_CONNECTION_CLOSED', `connection to ${this.address} is closed`);
    // message(): a build that throws leaves nothing half-written in the stream.
    this.out.message(cmd, build);
    this.scheduleFlush();
  }

  /** Ack pipeline credit, destroy a request: small helpers used by operations. */
  destroyRequest(sid: number, ioid: number): void {
    this.ops.delete(ioid);
    if (this.closed) return;
    this.send(Cmd.DESTROY_REQUEST, (w) => {
      w.i32(sid);
      w.i32(ioid);
    });
  }

  monitorAck(sid: number, ioid: number, nfree: number): void {
    if (this.closed) return;
    this.send(Cmd.MONITOR, (w) => {
      w.i32(sid);
      w.i32(ioid);
      w.u8(Sub.ACK);
      w.i32(nfree);
    });
  }

  protected override onClose(reason: Error | null): void {
    const err = reason ?? new ConnectionError('ERR_CONNECTION_CLOSED', `connection to ${this.address} closed`);
    this.#rejectReady(err);
    const ops = [...this.ops.values()];
    this.ops.clear();
    for (const op of ops) op.onDisconnect(err);
    const chans = [...this.channels.values()];
    this.channels.clear();
    for (const ch of chans) ch.onDisconnect(err);
  }
}
