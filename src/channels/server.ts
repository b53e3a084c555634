// The channel server (stream_service's central server, on pvAccess): one pvAccess server with the
// RPC PV of the ChannelService, a PV per channel (ChannelSource), an inbox PV per registered
// client, and an optional statistics channel. See docs/channel-server.md.
import { randomBytes } from 'node:crypto';
import type { AccessPolicy } from '../access/policy.js';
import { SluiceError } from '../errors.js';
import type { Env } from '../pva/config.js';
import { PvaServer } from '../pva/server/server.js';
import { formatType, sameType } from '../pvdata/types.js';
import { RPCServer } from '../rpc/server.js';
import { ChannelSource, type ChannelHooks } from './channel-source.js';
import { ClientCalls } from './calls.js';
import { ClientRecord } from './inbox.js';
import {
  decodeChannelType,
  DEFAULT_PREFIX,
  inboxPvName,
  rpcPvName,
  SERVICE_OBJECT,
  type ChannelDetails,
  type ChannelSummary,
  type ClientSummary,
  type CreateChannelOptions,
  type HelloResult,
} from './protocol.js';
import { checkName, ChannelRpcService } from './service.js';
import { StatsChannel, summaryOf, readerSummaries } from './stats.js';

export const DEFAULT_HELLO_TIMEOUT_MS = 5000;
/** The longest lifetime of a temporary channel (a year), in seconds. */
export const MAX_LIFETIME_S = 365 * 86_400;
/** Owner of the channels the server makes itself (no client can take this name). */
export const SERVER_OWNER = '(server)';

export interface ChannelServerOptions {
  /** Names: `<prefix>:rpc`, `<prefix>:inbox:<token>` (default DEFAULT_PREFIX). */
  prefix?: string;
  /** TCP port (0: a free one; default EPICS_PVAS_SERVER_PORT or 5075). */
  port?: number;
  /** Interface to listen on (default all). */
  host?: string;
  /** UDP search port, or false for none (clients then use the server as a name server). */
  udpPort?: number | false;
  env?: Env;
  /** pvAccess access rules (ACF, PV lists) for every PV of the server. */
  access?: AccessPolicy;
  /** A client must monitor its inbox this soon after hello, or it is dropped. */
  helloTimeoutMs?: number;
  /** Serve a statistics channel of this name. */
  statsChannel?: string;
  /** Period of the statistics channel's values (default 1000 ms). */
  statsIntervalMs?: number;
  /** Lines about clients coming and going, channels expiring (never keys). */
  log?: (line: string) => void;
}

export class ChannelServer {
  readonly prefix: string;
  readonly pva: PvaServer;
  readonly channels = new Map<string, ChannelSource>();
  readonly clients = new Map<string, ClientRecord>();
  readonly #byPeer = new Map<string, ClientRecord>();
  readonly #options: ChannelServerOptions;
  readonly #log: (line: string) => void;
  readonly #calls: ClientCalls;
  readonly #timers = new Set<NodeJS.Timeout>();
  #rpc: RPCServer | null = null;
  #stats: StatsChannel | null = null;
  #closing: Promise<void> | null = null;
  readonly #hooks: ChannelHooks = {
    clientOfPeer: (peer) => this.#byPeer.get(peer)?.name,
    activity: (ch) => this.#tellWriters(ch),
    received: (client, bytes) => {
      const c = this.clients.get(client);
      if (c) c.bytesIn += bytes;
    },
  };

  constructor(options: ChannelServerOptions = {}) {
    this.#options = options;
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#log = options.log ?? (() => {});
    this.pva = new PvaServer({
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.udpPort !== undefined ? { udpPort: options.udpPort } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.access ? { access: options.access } : {}),
      // RPC arguments and results carry a type each: room for them (as RPCServer's own server).
      limits: { maxTypeFields: 65_536 },
    });
    this.#calls = new ClientCalls(this.clients);
    this.pva.onConnectionClosed((conn) => {
      const peer = conn.peerName();
      const c = this.#byPeer.get(peer);
      if (c) this.#leave(c, 'its connection closed');
      // Writers known only by their address (pvput) would pile up, one per connection.
      else for (const ch of this.channels.values()) ch.forgetWriter(peer);
    });
  }

  /** Listen, then serve the RPC PV (and the statistics channel). Resolves with the TCP port. */
  async start(): Promise<number> {
    const port = await this.pva.listen();
    this.#rpc = await RPCServer.start({ server: this.pva, pvName: rpcPvName(this.prefix), log: this.#log });
    this.#rpc.publish(SERVICE_OBJECT, new ChannelRpcService(this));
    if (this.#options.statsChannel) {
      const name = checkName(this.#options.statsChannel, 'the statistics channel name');
      const ch = this.#addChannel({ name, owner: SERVER_OWNER, public: true, key: '', multiWriter: false, persist: true, expiresAt: 0 });
      this.#stats = new StatsChannel(this, ch, this.#options.statsIntervalMs ?? 1000);
    }
    return port;
  }

  /** `pva://HOST:PORT/<prefix>:rpc`: what RPCClient.connect takes. */
  get rpcAddress(): string {
    if (!this.#rpc) throw new SluiceError('ERR_INVALID_ARGUMENT', 'the channel server is not started');
    return this.#rpc.address;
  }

  get port(): number {
    return this.pva.tcpPort;
  }

  // ---- clients ---------------------------------------------------------------------------------

  clientOf(peer: string, what: string): ClientRecord {
    const c = this.#byPeer.get(peer);
    if (!c) throw new SluiceError('ERR_INVALID_ARGUMENT', `${what} needs a registered client: call hello(name, ...) first`);
    return c;
  }

  registerClient(name: string, peer: string, methods: string[], params: string[][], required: number[]): HelloResult {
    const mine = this.#byPeer.get(peer);
    if (mine) throw new SluiceError('ERR_EXISTS', `this connection is registered already, as client ${mine.name}`);
    if (this.clients.has(name)) throw new SluiceError('ERR_EXISTS', `a client named ${name} is registered already: choose another name`);
    const c = new ClientRecord({
      name,
      peer,
      methods,
      params,
      required,
      onGone: (client, why) => this.#leave(client, why),
      onPeer: (client, p) => {
        if (!this.#byPeer.has(p)) this.#byPeer.set(p, client);
      },
    });
    this.clients.set(name, c);
    this.#byPeer.set(peer, c);
    const inbox = inboxPvName(this.prefix, c.token);
    this.pva.addPV(inbox, c.inbox);
    const ms = this.#options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.#after(ms, () => {
      if (!c.seen && this.clients.get(name) === c) this.#leave(c, `it did not monitor its inbox within ${ms} ms`);
    });
    this.#log(`client ${name} registered from ${peer}`);
    return { name, inbox };
  }

  #leave(c: ClientRecord, why: string): void {
    if (this.clients.get(c.name) !== c) return;
    this.clients.delete(c.name);
    for (const p of c.peers) if (this.#byPeer.get(p) === c) this.#byPeer.delete(p);
    c.close();
    this.pva.removePV(inboxPvName(this.prefix, c.token));
    this.#calls.clientLeft(c.name);
    for (const ch of [...this.channels.values()]) {
      if (ch.settings.owner === c.name && !ch.settings.persist) this.#removeChannel(ch, `its owner ${c.name} left`);
      else if (ch.writers.has(c.name)) void ch.endWriter(c.name).catch(() => {});
    }
    this.#log(`client ${c.name} left: ${why}`);
  }

  clientSummary(c: ClientRecord): ClientSummary {
    this.#stats?.refresh();
    return {
      name: c.name,
      peer: c.peer,
      methods: c.methods,
      params: c.params,
      required: c.required,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
    };
  }

  clientList(): ClientSummary[] {
    return [...this.clients.values()].map((c) => this.clientSummary(c));
  }

  clientInfo(name: string): ClientSummary {
    const c = this.clients.get(name);
    if (!c) throw new SluiceError('ERR_INVALID_ARGUMENT', `no client named ${name}`);
    return this.clientSummary(c);
  }

  callClient(peer: string, target: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    const caller = this.#byPeer.get(peer)?.name ?? peer;
    return this.#calls.call(caller, target, method, args, timeoutMs);
  }

  replyToCall(peer: string, callId: bigint, ok: boolean, value: unknown, error: { name: string; message: string; stack: string }): void {
    this.#calls.reply(this.clientOf(peer, 'reply'), callId, ok, value, error);
  }

  // ---- channels --------------------------------------------------------------------------------

  createChannel(peer: string, o: CreateChannelOptions): { name: string; controlKey: string } {
    const owner = this.clientOf(peer, 'createChannel');
    const name = checkName(o.name, 'a channel name');
    if (this.channels.has(name)) throw new SluiceError('ERR_EXISTS', `a channel named ${name} exists already`);
    if (this.pva.lookup(name)) throw new SluiceError('ERR_EXISTS', `${name} is a PV of this server already: choose another channel name`);
    const isPublic = flag(o.public, 'public', true);
    let key = '';
    if (!isPublic) {
      if (typeof o.key !== 'string' || o.key.length < 1 || o.key.length > 200)
        throw new SluiceError('ERR_INVALID_ARGUMENT', `private channel ${name} needs a key of 1-200 characters`);
      key = o.key;
    } else if (o.key !== undefined && o.key !== null && o.key !== '') {
      throw new SluiceError('ERR_INVALID_ARGUMENT', `channel ${name} is public: it takes no key (public: false for a private one)`);
    }
    let expiresAt = 0;
    if (o.lifetime !== undefined && o.lifetime !== null) {
      if (typeof o.lifetime !== 'number' || !(o.lifetime > 0) || o.lifetime > MAX_LIFETIME_S)
        throw new SluiceError('ERR_INVALID_ARGUMENT', `lifetime must be seconds in (0, ${MAX_LIFETIME_S}]`);
      expiresAt = Date.now() + o.lifetime * 1000;
    }
    const type = o.typeBytes !== undefined && o.typeBytes !== null ? decodeChannelType(checkBytes(o.typeBytes)) : null;
    const ch = this.#addChannel({
      name,
      owner: owner.name,
      public: isPublic,
      key,
      multiWriter: flag(o.multiWriter, 'multiWriter', false),
      persist: flag(o.persist, 'persist', false),
      expiresAt,
    });
    if (type) ch.setType(type);
    if (expiresAt)
      this.#after(expiresAt - Date.now(), () => this.channels.get(name) === ch && this.#removeChannel(ch, 'its lifetime ended'));
    this.#log(`channel ${name} created by ${owner.name}${isPublic ? '' : ' (private)'}${expiresAt ? ` for ${o.lifetime} s` : ''}`);
    return { name, controlKey: ch.settings.controlKey };
  }

  #addChannel(s: Omit<ChannelSource['settings'], 'controlKey'>): ChannelSource {
    const ch = new ChannelSource({ ...s, controlKey: randomBytes(16).toString('hex') }, this.#hooks);
    this.channels.set(s.name, ch);
    this.pva.addPV(s.name, ch);
    return ch;
  }

  #removeChannel(ch: ChannelSource, why: string): void {
    if (this.channels.get(ch.name) !== ch) return;
    this.channels.delete(ch.name);
    const writers = [...ch.writers.values()].filter((w) => w.opened).map((w) => w.id);
    // Readers see the channel go; its writers get their new list of active channels.
    this.pva.removePV(ch.name);
    ch.close();
    for (const id of writers) this.#tellClient(id);
    this.#log(`channel ${ch.name} deleted: ${why}`);
  }

  #channel(name: string): ChannelSource {
    const ch = this.channels.get(name);
    if (!ch) throw new SluiceError('ERR_CHANNEL_NOT_FOUND', `no channel named ${name}`);
    return ch;
  }

  listChannels(peer: string): ChannelSummary[] {
    const me = this.#byPeer.get(peer)?.name;
    return [...this.channels.values()].filter((c) => c.settings.public || c.settings.owner === me).map(summaryOf);
  }

  channelInfo(peer: string, name: string, key: string | undefined): ChannelDetails {
    const ch = this.#channel(name);
    if (ch.settings.owner !== this.#byPeer.get(peer)?.name) ch.checkKey(key);
    const readerList = readerSummaries(ch);
    const writerList = [...ch.writers.values()].map((w) => ({ id: w.id, seq: Number(w.seq), ended: w.ended }));
    return { ...summaryOf(ch), type: ch.userType ? formatType(ch.userType) : '', readerList, writerList };
  }

  deleteChannel(name: string, controlKey: string): void {
    const ch = this.#channel(name);
    if (ch.settings.owner === SERVER_OWNER) throw new SluiceError('ERR_ACCESS_DENIED', `channel ${name} belongs to the server`);
    if (controlKey !== ch.settings.controlKey) throw new SluiceError('ERR_ACCESS_DENIED', `wrong control key for channel ${name}`);
    this.#removeChannel(ch, 'deleted by its control key');
  }

  openWriter(
    peer: string,
    name: string,
    key: string | undefined,
    typeBytes: Uint8Array | undefined,
  ): { writerId: string; active: boolean } {
    const c = this.clientOf(peer, 'openWriter');
    const ch = this.#channel(name);
    ch.checkKey(key);
    if (!ch.settings.multiWriter && ch.settings.owner !== c.name)
      throw new SluiceError('ERR_ACCESS_DENIED', `channel ${name} has a single writer, its owner ${ch.settings.owner}`);
    if (typeBytes) {
      const type = decodeChannelType(typeBytes);
      if (!ch.userType) ch.setType(type);
      else if (!sameType(ch.userType, type))
        throw new SluiceError('ERR_INVALID_ARGUMENT', `channel ${name} has another type:\n${formatType(ch.userType)}`);
    }
    ch.openWriter(c.name);
    return { writerId: c.name, active: ch.readers.size > 0 };
  }

  async closeWriter(peer: string, name: string): Promise<void> {
    const c = this.clientOf(peer, 'closeWriter');
    const ch = this.#channel(name);
    if (!ch.writers.has(c.name)) throw new SluiceError('ERR_INVALID_ARGUMENT', `client ${c.name} has no writer on channel ${name}`);
    await ch.endWriter(c.name);
  }

  /** The channels that `client` writes to and that have readers now. */
  activeChannelsOf(client: string): string[] {
    const out: string[] = [];
    for (const ch of this.channels.values()) {
      const w = ch.writers.get(client);
      if (w && w.opened && !w.ended && ch.readers.size > 0) out.push(ch.name);
    }
    return out;
  }

  #tellWriters(ch: ChannelSource): void {
    for (const w of ch.writers.values()) if (w.opened && !w.ended) this.#tellClient(w.id);
  }

  #tellClient(name: string): void {
    this.clients.get(name)?.postActive(this.activeChannelsOf(name));
  }

  #after(ms: number, fn: () => void): void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    timer.unref();
    this.#timers.add(timer);
  }

  /** Stop: clients' pending calls fail, channels close, the pvAccess server stops. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) clearTimeout(t);
      this.#timers.clear();
      this.#stats?.stop();
      this.#calls.close();
      for (const c of [...this.clients.values()]) this.#leave(c, 'the server closes');
      for (const ch of [...this.channels.values()]) this.#removeChannel(ch, 'the server closes');
      await this.#rpc?.close();
      await this.pva.close();
    })();
    return this.#closing;
  }
}

function flag(v: unknown, what: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new SluiceError('ERR_INVALID_ARGUMENT', `${what} must be true or false`);
  return v;
}

function checkBytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new SluiceError('ERR_INVALID_ARGUMENT', 'typeBytes must be bytes (a Uint8Array)');
  return v;
}
