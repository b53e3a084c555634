// One CA client of the server: its channels, subscriptions and requests. Each request command
// has a small handler below. A request the server cannot satisfy is answered with a status or
// an ERROR message and the client stays; bytes that break the protocol close this client only.
import { denial, describeClient, type AccessPolicy, type ChannelRights, type ClientIdentity, type Operation } from '../access/policy.js';
import { ProtocolError } from '../errors.js';
import { authorizeRefusal } from '../pv/authorize.js';
import type { AccessRequest, OperationKind, Source } from '../pv/source.js';
import { AccessRights, Cmd, Eca, LAST_DBR, SearchReply, cmdName } from './constants.js';
import { dbrLayout, decodeDbr } from './dbr.js';
import type { CaHeader, CaMessage } from './header.js';
import * as msg from './messages.js';
import { caViewOf, nativeCount, valueFromWrite, type CaView } from './pv-adapter.js';
import { ServerMonitor, type MonitorSink } from './server-monitor.js';
import type { TcpLink } from './transport.js';

export interface ServedPV {
  pv: Source;
  /** Element count announced for arrays (see CaServer.addPV). */
  maxElements?: number;
}

/** What a session needs from its server. */
export interface SessionHost {
  lookup(name: string): ServedPV | undefined;
  /** Search replies over TCP carry this port. */
  readonly tcpPort: number;
  readonly limits: { maxArrayBytes: number; maxChannels: number; maxSubscriptions: number; sendHighWater: number; sendHardLimit: number };
  readonly stats: { overruns: number; denied: number };
  /** A refusal text when `count` is above the limit (counted and logged), else undefined. */
  limitExceeded(limit: 'maxChannels' | 'maxSubscriptions', count: number, what: string): string | undefined;
  readonly access: AccessPolicy;
  /** The PV's current value as DBR type and count, encoded once per post for every client. */
  encoded(served: ServedPV, view: CaView, dataType: number, count: number): { payload: Uint8Array; count: number } | null;
}

interface Channel {
  sid: number;
  cid: number;
  name: string;
  served: ServedPV;
  pv: Source;
  view: CaView;
  monitors: Map<number, ServerMonitor>;
  offClosed: () => void;
  rights: ChannelRights;
  /** What the Source allows (Source.authorize, asked without options: CA has no pvRequest). */
  allowed: { get: boolean; put: boolean };
}

/** Longest channel (or user, host) name accepted (EPICS servers refuse longer channel names too). */
const MAX_NAME = 500;

export class ServerSession implements MonitorSink {
  readonly link: TcpLink;
  readonly #host: SessionHost;
  readonly #channels = new Map<number, Channel>();
  readonly #pending = new Set<ServerMonitor>();
  #subscriptions = 0;
  #nextSid = 1;
  #eventsOn = true;
  clientMinor = 0;
  user = '';
  hostName = '';

  constructor(host: SessionHost, link: TcpLink) {
    this.#host = host;
    this.link = link;
    link.send(msg.version()); // servers announce their version first
  }

  get peer(): string {
    return this.link.remote;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  onMessage({ header: h, payload }: CaMessage): void {
    switch (h.command) {
      case Cmd.VERSION:
        this.clientMinor = h.count;
        return;
      case Cmd.CLIENT_NAME:
        this.user = msg.readString(payload.subarray(0, MAX_NAME));
        return this.reviewAccess(); // a new name may change the rights (as EPICS servers do)
      case Cmd.HOST_NAME:
        this.hostName = msg.readString(payload.subarray(0, MAX_NAME));
        return this.reviewAccess();
      case Cmd.ECHO:
        return this.link.send(msg.echo());
      case Cmd.SEARCH:
        return this.#search(h, payload);
      case Cmd.CREATE_CHAN:
        return this.#createChannel(h, payload);
      case Cmd.CLEAR_CHANNEL:
        return this.#clearChannel(h);
      case Cmd.READ_NOTIFY:
      case Cmd.READ:
        return this.#read(h);
      case Cmd.WRITE:
      case Cmd.WRITE_NOTIFY:
        return this.#write(h, payload);
      case Cmd.EVENT_ADD:
        return this.#eventAdd(h, payload);
      case Cmd.EVENT_CANCEL:
        return this.#eventCancel(h);
      case Cmd.EVENTS_OFF:
        this.#eventsOn = false;
        return;
      case Cmd.EVENTS_ON:
        this.#eventsOn = true;
        return this.onDrain();
      case Cmd.READ_SYNC:
      case Cmd.SNAPSHOT:
      case Cmd.BUILD:
      case Cmd.READ_BUILD:
      case Cmd.SIGNAL:
        return; // obsolete commands: nothing to do
      default:
        throw new ProtocolError('ERR_PROTOCOL', `CA client ${this.peer} sent ${cmdName(h.command)}, which is not a client request`);
    }
  }

  // ---- channels -----------------------------------------------------------------------------

  #search(h: CaHeader, payload: Uint8Array): void {
    const name = msg.readString(payload);
    if (this.#host.lookup(name)) this.link.send(msg.searchReply(this.#host.tcpPort, 0xffffffff, h.p2));
    else if (h.dataType === SearchReply.DO_REPLY) this.link.send(msg.notFound(h.p2));
  }

  #createChannel(h: CaHeader, payload: Uint8Array): void {
    const cid = h.p1;
    if (h.p2) this.clientMinor = h.p2; // CREATE_CHAN carries the client's minor version
    const name = msg.readString(payload);
    const served = name.length > 0 && name.length <= MAX_NAME ? this.#host.lookup(name) : undefined;
    const pv = served?.pv;
    const view = pv?.type ? caViewOf(pv.type) : null;
    if (!served || !pv || !view) return this.link.send(msg.createChanFail(cid));
    // CREATE_CH_FAIL carries no text: the server logs which limit refused it.
    if (this.#host.limitExceeded('maxChannels', this.#channels.size + 1, `channels for CA client ${this.link.remote}`)) {
      return this.link.send(msg.createChanFail(cid));
    }
    let sid = this.#nextSid++;
    while (this.#channels.has(sid)) sid = this.#nextSid++;
    // Created even without read access (as EPICS servers do): ACCESS_RIGHTS tells the client.
    const rights = this.#host.access.rights(name, pv.accessGroup, this.identity);
    if (rights.deniedByPvList) return this.link.send(msg.createChanFail(cid));
    const ch: Channel = {
      sid,
      cid,
      name,
      served,
      pv,
      view,
      monitors: new Map(),
      offClosed: () => {},
      rights,
      allowed: { get: true, put: true },
    };
    ch.allowed = this.#sourceAllows(ch);
    // The PV closing or being removed deletes the channel; the client searches again.
    ch.offClosed = pv.onClosed(() => this.disconnectChannel(ch));
    this.#channels.set(sid, ch);
    this.link.send(
      msg.accessRights(cid, this.#rightsBits(ch)),
      msg.createChanReply(cid, sid, view.base, view.array && served.maxElements ? served.maxElements : nativeCount(view, pv.value)),
    );
  }

  get identity(): ClientIdentity {
    return { user: this.user, host: this.hostName, address: this.link.remoteAddress };
  }

  #rightsBits(ch: Channel): number {
    const read = ch.rights.read && ch.allowed.get;
    const write = ch.rights.put && ch.pv.acceptsPut && ch.allowed.put;
    return (read ? AccessRights.READ : 0) | (write ? AccessRights.WRITE : 0);
  }

  #accessRequest(ch: Channel, operation: OperationKind): AccessRequest {
    return { operation, options: {}, peer: this.peer, account: this.user, channel: ch.name };
  }

  /** The Source's say on reading and writing, for the ACCESS_RIGHTS the client is sent. */
  #sourceAllows(ch: Channel): { get: boolean; put: boolean } {
    if (!ch.pv.authorize) return { get: true, put: true };
    return {
      get: authorizeRefusal(ch.pv, this.#accessRequest(ch, 'get')) === null,
      put: ch.pv.acceptsPut && authorizeRefusal(ch.pv, this.#accessRequest(ch, 'put')) === null,
    };
  }

  /** The rules or the client's names changed: new rights for every channel, sent when they differ. */
  reviewAccess(): void {
    for (const ch of this.#channels.values()) {
      const before = this.#rightsBits(ch);
      ch.rights = this.#host.access.rights(ch.name, ch.pv.accessGroup, this.identity);
      ch.allowed = this.#sourceAllows(ch);
      // Lost read access or hidden now: the client connects again, and learns its new rights.
      const readable = ch.rights.read && ch.allowed.get;
      if (ch.rights.deniedByPvList || (before & AccessRights.READ && !readable)) this.disconnectChannel(ch);
      else if (this.#rightsBits(ch) !== before) this.link.send(msg.accessRights(ch.cid, this.#rightsBits(ch)));
    }
  }

  /**
   * The refusal text when the channel's rights lack `op`, or when its Source refuses `kind` now
   * (Source.authorize; counted and logged), else null.
   */
  #refusal(op: Operation, ch: Channel, kind: OperationKind): string | null {
    const byRules = !ch.rights[op];
    const text = byRules
      ? denial(op, ch.name, ch.rights, this.identity).message
      : authorizeRefusal(ch.pv, this.#accessRequest(ch, kind))?.message;
    if (text === undefined) return null;
    this.#host.stats.denied++;
    this.#host.access.log(`${byRules ? text : `${ch.name}: ${kind} refused: ${text}`} [CA peer ${this.peer}]`);
    return text;
  }

  /** Drops a channel and tells the client (SERVER_DISCONN). */
  disconnectChannel(ch: Channel): void {
    if (this.#channels.get(ch.sid) !== ch) return;
    this.#dropChannel(ch);
    this.link.send(msg.serverDisconn(ch.cid));
  }

  /** The channels serving `pv`, for removePV. */
  channelsOf(pv: Source): Channel[] {
    return [...this.#channels.values()].filter((c) => c.pv === pv);
  }

  #dropChannel(ch: Channel): void {
    this.#channels.delete(ch.sid);
    ch.offClosed();
    for (const m of ch.monitors.values()) this.#dropMonitor(ch, m);
  }

  #clearChannel(h: CaHeader): void {
    const ch = this.#channel(h, h.p1);
    if (!ch) return;
    this.#dropChannel(ch);
    this.link.send(msg.clearChannelReply(h.p1, h.p2));
  }

  /** The channel a request names, or undefined after an ERROR reply (bad id, PV closed). */
  #channel(h: CaHeader, sid: number): Channel | undefined {
    const ch = this.#channels.get(sid);
    if (!ch) this.link.send(msg.errorMessage(0xffffffff, Eca.BADCHID, h, `no channel with server id ${sid}`));
    return ch;
  }

  // ---- read and write -----------------------------------------------------------------------

  /** Encodes the PV's current value as asked, or answers with an ERROR and returns null. */
  #encode(ch: Channel, h: CaHeader, dataType: number, count: number): { payload: Uint8Array; count: number } | null {
    if (dataType > LAST_DBR) {
      this.link.send(msg.errorMessage(ch.cid, Eca.BADTYPE, h, `DBR type ${dataType} is not supported`));
      return null;
    }
    const e = this.#host.encoded(ch.served, ch.view, dataType, count);
    if (!e) this.link.send(msg.errorMessage(ch.cid, Eca.DISCONN, h, `${ch.name} is closed`));
    return e && this.#fits(ch, h, e) ? e : null;
  }

  /** A reply larger than maxArrayBytes is an ERROR instead (clients refuse such messages too). */
  #fits(ch: Channel, h: CaHeader, e: { payload: Uint8Array }): boolean {
    const limit = this.#host.limits.maxArrayBytes;
    if (e.payload.length <= limit) return true;
    this.link.send(
      msg.errorMessage(ch.cid, Eca.TOLARGE, h, `${ch.name}: ${e.payload.length} bytes, more than EPICS_CA_MAX_ARRAY_BYTES (${limit})`),
    );
    return false;
  }

  #read(h: CaHeader): void {
    const ch = this.#channel(h, h.p1);
    if (!ch) return;
    const refused = this.#refusal('read', ch, 'get');
    if (refused) return this.link.send(msg.errorMessage(ch.cid, Eca.NORDACCESS, h, refused));
    const e = this.#encode(ch, h, h.dataType, h.count);
    if (!e) return;
    // READ (obsolete) answers with the sid where READ_NOTIFY has the status.
    const p1 = h.command === Cmd.READ ? ch.sid : Eca.NORMAL;
    this.#send(msg.dataReply(h.command, p1, h.p2, h.dataType, e.count, e.payload));
  }

  #write(h: CaHeader, payload: Uint8Array): void {
    const ch = this.#channel(h, h.p1);
    if (!ch) return;
    const notify = h.command === Cmd.WRITE_NOTIFY;
    const answer = (status: number, text: string): void => {
      if (notify) this.link.send(msg.writeNotifyReply(status, h.p2, h.dataType, h.count));
      else if (status !== Eca.NORMAL) this.link.send(msg.errorMessage(ch.cid, status, h, text));
    };
    if (!ch.pv.acceptsPut) return answer(Eca.NOWTACCESS, `${ch.name} is read-only`);
    const refused = this.#refusal('put', ch, 'put');
    if (refused) return answer(Eca.NOWTACCESS, refused);
    if (h.dataType > LAST_DBR || dbrLayout(h.dataType).cls !== 0)
      return answer(Eca.BADTYPE, `writes take a plain DBR type, not ${h.dataType}`);
    const data = decodeDbr(h.dataType, h.count, payload); // a payload shorter than claimed: bad bytes
    const type = ch.pv.type;
    const current = ch.pv.value;
    if (!type || !current) return answer(Eca.DISCONN, `${ch.name} is closed`);
    const put = valueFromWrite(ch.view, type, current, data);
    if (typeof put === 'string') return answer(Eca.PUTFAIL, `${ch.name}: ${put}`);
    const failed = (err: unknown): void => answer(Eca.PUTFAIL, `${ch.name}: ${(err as Error)?.message ?? String(err)}`);
    // Called at once: a read right behind the write (caput does that) must see the new value.
    let r: void | Promise<void>;
    try {
      r = ch.pv.handlePut({ ...put, options: {}, peer: this.peer, account: this.user, channel: ch.name });
    } catch (err) {
      return failed(err);
    }
    const ok = (): void => {
      if (ch.rights.trapWrite) this.#host.access.log(`put to ${ch.name} by ${describeClient(this.identity)} [CA peer ${this.peer}]`);
      answer(Eca.NORMAL, '');
    };
    if (r instanceof Promise) r.then(ok, failed);
    else ok();
  }

  // ---- subscriptions ------------------------------------------------------------------------

  #eventAdd(h: CaHeader, payload: Uint8Array): void {
    const ch = this.#channel(h, h.p1);
    if (!ch) return;
    const mask = msg.eventMaskOf(payload);
    const type = ch.pv.type;
    if (h.dataType > LAST_DBR) return this.link.send(msg.errorMessage(ch.cid, Eca.BADTYPE, h, `DBR type ${h.dataType} is not supported`));
    if (!type) return this.link.send(msg.errorMessage(ch.cid, Eca.DISCONN, h, `${ch.name} is closed`));
    const refused = this.#refusal('read', ch, 'monitor');
    if (refused) return this.link.send(msg.errorMessage(ch.cid, Eca.NORDACCESS, h, refused));
    if (ch.monitors.has(h.p2)) return this.link.send(msg.errorMessage(ch.cid, Eca.ALLOCMEM, h, `subscription id ${h.p2} is in use`));
    const tooMany = this.#host.limitExceeded(
      'maxSubscriptions',
      this.#subscriptions + 1,
      `subscriptions for CA client ${this.link.remote}`,
    );
    if (tooMany) return this.link.send(msg.errorMessage(ch.cid, Eca.ALLOCMEM, h, tooMany));
    const m = new ServerMonitor(this, type, ch.sid, h.p2, h.dataType, h.count, mask);
    ch.monitors.set(h.p2, m);
    this.#subscriptions++;
    m.unsubscribe = ch.pv.subscribe(m);
    this.deliver(m); // the current value first, as EPICS servers do
  }

  #eventCancel(h: CaHeader): void {
    const ch = this.#channel(h, h.p1);
    if (!ch) return;
    const m = ch.monitors.get(h.p2);
    if (!m) return this.link.send(msg.errorMessage(ch.cid, Eca.BADMONID, h, `no subscription ${h.p2}`));
    this.#dropMonitor(ch, m);
    // Confirmation: an EVENT_ADD reply without data.
    this.link.send(msg.dataReply(Cmd.EVENT_ADD, ch.sid, m.subid, m.dataType, m.count));
  }

  #dropMonitor(ch: Channel, m: ServerMonitor): void {
    if (!ch.monitors.delete(m.subid)) return;
    this.#subscriptions--;
    this.#pending.delete(m);
    m.pending = false;
    m.unsubscribe();
  }

  /** MonitorSink: send the PV's current value now, or leave it pending while the link is backed up. */
  deliver(m: ServerMonitor): void {
    if (m.pending) {
      m.overruns++;
      this.#host.stats.overruns++;
      return;
    }
    if (!this.#eventsOn || this.#pending.size > 0 || this.link.bufferedBytes >= this.#host.limits.sendHighWater) {
      m.pending = true;
      this.#pending.add(m);
      return;
    }
    this.#sendUpdate(m);
  }

  #sendUpdate(m: ServerMonitor): void {
    const ch = this.#channelOfMonitor(m);
    if (!ch) return;
    const e = this.#host.encoded(ch.served, ch.view, m.dataType, m.count);
    const request = { command: Cmd.EVENT_ADD, payloadSize: 16, dataType: m.dataType, count: m.count, p1: ch.sid, p2: m.subid };
    if (!e || !this.#fits(ch, request, e)) return;
    this.#send(msg.dataReply(Cmd.EVENT_ADD, Eca.NORMAL, m.subid, m.dataType, e.count, e.payload));
  }

  #channelOfMonitor(m: ServerMonitor): Channel | undefined {
    const ch = this.#channels.get(m.sid);
    return ch?.monitors.get(m.subid) === m ? ch : undefined;
  }

  /** The connection drained (or events were turned back on): send what was held back. */
  onDrain(): void {
    if (!this.#eventsOn) return;
    const pvs = new Set<Source>();
    for (const m of this.#pending) {
      if (this.link.bufferedBytes >= this.#host.limits.sendHighWater) break;
      this.#pending.delete(m);
      m.pending = false;
      const ch = this.#channelOfMonitor(m);
      if (ch) pvs.add(ch.pv);
      this.#sendUpdate(m);
    }
    for (const pv of pvs) pv.notifyRoom();
  }

  /** Sends a data message; a client that lets too much pile up is not reading: it is dropped. */
  #send(bytes: Uint8Array): void {
    this.link.send(bytes);
    const limit = this.#host.limits.sendHardLimit;
    if (this.link.bufferedBytes > limit) {
      this.link.close(new ProtocolError('ERR_LIMIT', `CA client ${this.peer} does not read: more than ${limit} bytes wait for it`));
    }
  }

  /** The link closed: release every subscription. */
  onClose(): void {
    for (const ch of [...this.#channels.values()]) this.#dropChannel(ch);
  }
}
