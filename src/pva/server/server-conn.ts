// One client's TCP connection to our server: the handshake, the table of channels and
// operations, and dispatch of each command to its handler in handlers/.
import type { Duplex } from 'node:stream';
import type { ChannelRights, ClientIdentity, Operation } from '../../access/policy.js';
import { denial } from '../../access/policy.js';
import { ProtocolError } from '../../errors.js';
import { TypeCache } from '../../pvdata/type-codec.js';
import type { ByteReader } from '../../pvdata/wire.js';
import { Cmd, CMD_NAMES, Ctrl } from '../constants.js';
import { PvaConnection, type ConnectionLimits } from '../connection.js';
import type { AppMessage } from '../framer.js';
import { HANDLERS } from './handlers/index.js';
import type { PvaServer } from './server.js';
import type { CloseKind, Source } from '../../pv/source.js';

export interface ServerChannel {
  sid: number;
  cid: number;
  name: string;
  pv: Source;
  ops: Set<number>;
  detach: () => void;
  /** What this client may do on the channel (from the server's access rules). */
  rights: ChannelRights;
  /** Being dropped: its monitors send what they hold, then the client is told (DESTROY_CHANNEL). */
  dropping?: boolean;
}

export interface ServerOp {
  readonly kind: string;
  readonly ioid: number;
  readonly channel: ServerChannel;
  destroy(): void;
  /** Monitors: take no more posts, send what is queued (and the finish update for `end`), then go. */
  close?(how: CloseKind): void;
  /** True while a closed monitor still has something to send. */
  readonly closing?: boolean;
}

/** Something that can send queued messages when the socket has room (monitors). */
export interface Sender {
  sendOne(): boolean;
  /** Sends only within credit the peer gave (a pipelined monitor): may use creditHighWater. */
  readonly credited?: boolean;
}

export class ServerConnection extends PvaConnection {
  readonly server: PvaServer;
  validated = false;
  account = 'anonymous';
  /** Host name the client announced ("ca" authentication); '' when it announced none. */
  clientHost = '';
  readonly typeCache: TypeCache;
  readonly channels = new Map<number, ServerChannel>();
  readonly ops = new Map<number, ServerOp>();
  /** The peer's address without the port (what maxConnectionsPerPeer counts by). */
  readonly peerHost: string;
  /** Open monitors on this connection. */
  monitors = 0;
  #nextSid = 1;
  #ready = new Set<Sender>();
  #pumping = false;

  constructor(server: PvaServer, stream: Duplex, limits: Partial<ConnectionLimits>) {
    super(stream, true, limits);
    this.server = server;
    this.peerHost = (stream as Duplex & { remoteAddress?: string }).remoteAddress ?? 'in-memory peer';
    this.typeCache = new TypeCache();
  }

  protected isServerSide(): boolean {
    return true;
  }

  /** Greet the client: our byte order, then the authentication methods we accept. */
  start(): void {
    this.out.control(Ctrl.SET_BYTE_ORDER, 0);
    const w = this.out.begin(Cmd.CONNECTION_VALIDATION);
    w.i32(this.server.receiveBufferSize);
    w.i16(0x7fff);
    w.size(2);
    w.string('anonymous');
    w.string('ca');
    this.out.end();
    this.flush();
  }

  protected onMessage(m: AppMessage, r: ByteReader): void {
    const h = HANDLERS[m.command];
    if (!h) {
      // Unknown or unsupported commands are ignored, as PVXS does (a debug note, not a warning).
      this.log('debug', `ignoring ${CMD_NAMES[m.command] ?? 'unknown command ' + m.command} from ${this.peerName()}`);
      return;
    }
    if (!this.validated && m.command !== Cmd.CONNECTION_VALIDATION && m.command !== Cmd.SEARCH) {
      this.protocolFailure(new ProtocolError('ERR_PROTOCOL', `${CMD_NAMES[m.command]} before connection validation`));
      return;
    }
    try {
      h(this, r, m);
    } catch (err) {
      this.protocolFailure(err);
    }
  }

  /** Who the client is, for the access rules. */
  get identity(): ClientIdentity {
    const s = this.stream as Duplex & { remoteAddress?: string };
    return { user: this.account, host: this.clientHost, address: s.remoteAddress ?? '' };
  }

  /** The rights of this client on a channel name and its PV. */
  rightsFor(name: string, pv: Source): ChannelRights {
    return this.server.access.rights(name, pv.accessGroup, this.identity);
  }

  /** Refuse `op` if the channel's rights lack it: returns the error to send (and logs it). */
  refusal(op: Operation, ch: { name: string; rights: ChannelRights }): Error | null {
    if (ch.rights[op]) return null;
    const err = denial(op, ch.name, ch.rights, this.identity);
    this.server.stats.denied++;
    this.server.access.log(`${err.message} [pvAccess peer ${this.peerName()}]`);
    return err;
  }

  /** The access rules changed: new rights for every channel; close those no longer readable. */
  reviewAccess(): void {
    for (const ch of [...this.channels.values()]) {
      ch.rights = this.rightsFor(ch.name, ch.pv);
      // A client that may no longer read gets nothing more: its queued updates go too.
      if (this.refusal('read', ch)) this.dropChannel(ch, 'discard');
    }
  }

  /**
   * Tell the client a channel is gone (DESTROY_CHANNEL from the server, as PVXS does), then forget
   * it. Its monitors first send what is queued (`disconnect`), and the finish update too (`end`);
   * `discard` drops them at once. Other requests on the channel go with it.
   */
  dropChannel(ch: ServerChannel, monitors: CloseKind | 'discard' = 'disconnect'): void {
    if (ch.dropping || this.channels.get(ch.sid) !== ch) return;
    ch.dropping = true;
    if (monitors !== 'discard') for (const ioid of [...ch.ops]) this.ops.get(ioid)?.close?.(monitors);
    this.#settleDrop(ch);
  }

  /**
   * The channel's PV closed: its monitors end (what is queued, then the finish update), as a
   * Source's close() tells its subscribers. The channel stays, and new operations wait for the PV
   * to open again, as on a PV not open yet: PVXS's finish() and pvAccessCPP's unlisten leave the
   * channel too, and a DESTROY_CHANNEL right after the finish makes pvAccessCPP clients drop the
   * updates and the finish they have not handled yet.
   */
  pvClosed(ch: ServerChannel): void {
    for (const ioid of [...ch.ops]) this.ops.get(ioid)?.close?.('end');
  }

  /** A dropped channel whose monitors have sent everything: DESTROY_CHANNEL, and forget it. */
  #settleDrop(ch: ServerChannel): void {
    if (!ch.dropping || this.channels.get(ch.sid) !== ch) return;
    for (const ioid of ch.ops) if (this.ops.get(ioid)?.closing) return;
    const d = this.out.begin(Cmd.DESTROY_CHANNEL);
    d.i32(ch.sid);
    d.i32(ch.cid);
    this.out.end();
    this.scheduleFlush();
    this.destroyChannel(ch.sid);
    this.#checkDropsSent();
  }

  #dropWaiters: (() => void)[] = [];

  /** Resolves once no dropped channel still waits for its monitors to send (or the connection closed). */
  whenDropsSent(): Promise<void> {
    if (this.#dropsSent()) return Promise.resolve();
    return new Promise((resolve) => this.#dropWaiters.push(resolve));
  }

  #dropsSent(): boolean {
    if (this.closed) return true;
    for (const ch of this.channels.values()) if (ch.dropping) return false;
    return true;
  }

  #checkDropsSent(): void {
    if (this.#dropWaiters.length > 0 && this.#dropsSent()) for (const w of this.#dropWaiters.splice(0)) w();
  }

  /** Close at once, before the greeting, with a logged reason (a limit was reached). */
  refuse(reason: Error): void {
    this.protocolFailure(reason);
  }

  /** MESSAGE (Protocol-Messages "Message"): a note about a request, shown to the user by clients. */
  sendMessage(ioid: number, severity: number, text: string): void {
    const w = this.out.begin(Cmd.MESSAGE);
    w.i32(ioid);
    w.u8(severity);
    w.string(text);
    this.out.end();
    this.scheduleFlush();
  }

  newSid(): number {
    while (this.channels.has(this.#nextSid)) this.#nextSid = (this.#nextSid + 1) >>> 0 || 1;
    return this.#nextSid++;
  }

  /**
   * A channel by server id; undefined for an id we never gave, or for a channel being dropped
   * (handlers answer with an error status).
   */
  channel(sid: number): ServerChannel | undefined {
    const ch = this.channels.get(sid);
    return ch?.dropping ? undefined : ch;
  }

  addOp(op: ServerOp): void {
    this.ops.set(op.ioid, op);
    op.channel.ops.add(op.ioid);
  }

  removeOp(ioid: number): void {
    const op = this.ops.get(ioid);
    if (!op) return;
    this.ops.delete(ioid);
    op.channel.ops.delete(ioid);
    this.#ready.delete(op as unknown as Sender);
    op.destroy();
    this.#settleDrop(op.channel);
  }

  destroyChannel(sid: number): void {
    const ch = this.channels.get(sid);
    if (!ch) return;
    this.channels.delete(sid); // first: removing its ops must not settle it again
    for (const ioid of [...ch.ops]) this.removeOp(ioid);
    ch.detach();
    this.server.stats.channels--;
  }

  /** A sender has something to send: send now if the socket has room, else after 'drain'. */
  markReady(s: Sender): void {
    this.#ready.add(s);
    if (!this.#pumping) this.pump();
  }

  pump(): void {
    if (this.#pumping || this.closed) return;
    this.#pumping = true;
    try {
      // Round robin over the senders that have room, until none has or none has anything.
      for (let progress = true; progress && this.#ready.size > 0;) {
        progress = false;
        for (const s of this.#ready) {
          if (!this.hasRoom(s.credited === true)) continue;
          progress = true;
          if (!s.sendOne()) this.#ready.delete(s);
        }
      }
    } finally {
      this.#pumping = false;
    }
    this.scheduleFlush();
  }

  override flush(): void {
    super.flush();
    // Our own buffer was the limit (not the socket): go on once it is handed to the socket.
    if (this.#ready.size > 0 && !this.stream.writableNeedDrain) setImmediate(() => this.pump());
  }

  protected override onDrain(): void {
    if (this.#ready.size > 0) this.pump();
    // Pipelined monitors ask their producers to wait while the socket is backed up: tell them.
    if (this.postable) for (const op of this.ops.values()) if (op.kind === 'monitor') op.channel.pv.notifyRoom();
  }

  protected override onClose(reason: Error | null): void {
    for (const sid of [...this.channels.keys()]) this.destroyChannel(sid);
    this.#checkDropsSent();
    this.server.connectionClosed(this, reason);
  }
}
