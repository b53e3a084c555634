// The Channel Access client: configuration (EPICS_CA_* and options), search, one circuit per
// server, channels shared by name, and the operations get (READ_NOTIFY), put (WRITE_NOTIFY)
// and monitor (EVENT_ADD). Values are pvData normative types (see nt-mapping.ts).
import { ConnectionError, InvalidArgumentError, RemoteError, TimeoutError } from '../errors.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import { CaChannel, decodeReply, type ChannelHost } from './channel.js';
import { Circuit } from './circuit.js';
import { caClientConfigFromEnv, parseAddrList, searchDestinations, type CaClientConfig } from './config.js';
import { CA_MINOR_VERSION, Eca, ecaMessage } from './constants.js';
import { encodeDbr } from './dbr.js';
import type { CaHeader } from './header.js';
import * as msg from './messages.js';
import { ntValueOf, putValuesOf, timeTypeOf, type NativeInfo } from './nt-mapping.js';
import { CaSearcher } from './search.js';
import { CaSubscription, type CaMonitorOptions } from './subscription.js';
import { announcedIdentity, type AnnouncedIdentity } from '../net/identity.js';

export interface CaClientOptions {
  /** Search destinations, "host[:port]" (default EPICS_CA_ADDR_LIST). */
  addrList?: string[];
  /** Add the interfaces' broadcast addresses (default EPICS_CA_AUTO_ADDR_LIST, YES). */
  autoAddrList?: boolean;
  /** Default port of search destinations and name servers (default EPICS_CA_SERVER_PORT, 5064). */
  serverPort?: number;
  /** Servers searched over TCP, "host[:port]" (default EPICS_CA_NAME_SERVERS). */
  nameServers?: string[];
  /** Time-out of get and put, connection included (default 5000 ms). */
  timeoutMs?: number;
  /** Pause before trying a server again after a refused connection (default 1000 ms). */
  reconnectDelayMs?: number;
  /** Environment read for the defaults (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** User and host sent to servers (default SLUICE_CLIENT_USER / SLUICE_CLIENT_HOST, else the login and host name). */
  identity?: Partial<AnnouncedIdentity>;
}

export interface CaGetResult {
  type: StructureDesc;
  value: PVStructure;
}

export class CaClient implements ChannelHost {
  readonly config: CaClientConfig;
  readonly timeoutMs: number;
  readonly reconnectDelayMs: number;
  readonly searcher: CaSearcher;
  readonly #circuits = new Map<string, Circuit>();
  readonly #nameServers: Set<string>;
  readonly #channels = new Map<string, CaChannel>();
  #nextId = 1;
  #closed = false;
  readonly identity: AnnouncedIdentity;

  constructor(options: CaClientOptions = {}) {
    const env = caClientConfigFromEnv(options.env ?? process.env, options.serverPort);
    const serverPort = env.serverPort;
    const warnings = env.warnings;
    const addrList = options.addrList ? parseAddrList(options.addrList, serverPort, warnings) : env.addrList;
    const nameServers = options.nameServers ? parseAddrList(options.nameServers, serverPort, warnings) : env.nameServers;
    this.config = { ...env, serverPort, addrList, nameServers, autoAddrList: options.autoAddrList ?? env.autoAddrList };
    for (const w of warnings) process.emitWarning(w, { code: 'SLUICE_CA_CONFIG' });
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 1000;
    this.identity = announcedIdentity(options.env ?? process.env, options.identity, 'sluice');
    this.#nameServers = new Set(nameServers.map((n) => `${n.host}:${n.port}`));
    this.searcher = new CaSearcher({
      destinations: searchDestinations(addrList, this.config.autoAddrList, serverPort),
      nameServers,
      sendTcp: (ns, bytes) => this.circuitTo(ns.host, ns.port).send(bytes),
    });
  }

  /** @internal ChannelHost: the circuit to a server, opened when needed. */
  circuitTo(host: string, port: number): Circuit {
    const key = `${host}:${port}`;
    let c = this.#circuits.get(key);
    if (!c || c.closed) {
      c = new Circuit(host, port, {
        maxArrayBytes: this.config.maxArrayBytes,
        connTmoMs: this.config.connTmoMs,
        identity: this.identity,
        onSearchReply: (a, via) => this.searcher.answer(a, via),
        onClose: (closed) => {
          if (this.#circuits.get(key) === closed) this.#circuits.delete(key);
        },
      });
      this.#circuits.set(key, c);
    }
    return c;
  }

  /** @internal ChannelHost: a circuit no channel uses any more is closed (name servers stay). */
  release(c: Circuit): void {
    if (c.channels.size === 0 && !this.#nameServers.has(c.address)) c.close();
  }

  /** @internal ChannelHost */
  nextId(): number {
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    return id;
  }

  /** The (shared) channel for a name; it connects in the background. */
  channel(name: string): CaChannel {
    if (this.#closed) throw new InvalidArgumentError('CA client is closed');
    if (!name) throw new InvalidArgumentError('empty CA channel name');
    let ch = this.#channels.get(name);
    if (!ch || ch.state === 'closed') {
      ch = new CaChannel(this, name, this.nextId());
      ch.on('error', () => {}); // reported through operations and lastError
      this.#channels.set(name, ch);
      ch.connect();
    }
    return ch;
  }

  /** Subscribe to value and alarm changes; an async iterator of { type, value }. */
  monitor(name: string, opts: CaMonitorOptions = {}): CaSubscription {
    return new CaSubscription(this.channel(name), opts, () => this.nextId());
  }

  /** Read the value (DBR_TIME of the native type, with the metadata read at connect). */
  async get(name: string, opts: { timeoutMs?: number } = {}): Promise<CaGetResult> {
    const ms = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + ms;
    const ch = this.channel(name);
    await ch.whenConnected(ms, 'get');
    const native = ch.native as NativeInfo;
    const type = ch.type as StructureDesc;
    const ctrl = ch.ctrl;
    const asked = timeTypeOf(native);
    const count = ch.serverMinor >= CA_MINOR_VERSION ? 0 : native.count;
    const data = await this.#request(
      ch,
      'get',
      deadline - Date.now(),
      (ioid) => msg.readNotify(ch.sid, ioid, asked, count),
      (h, payload) => decodeReply(name, asked, h, payload),
    );
    return { type, value: ntValueOf(native, data, ctrl) };
  }

  /**
   * Write a value: a number, bigint, boolean or string, an array or TypedArray of them, or
   * `{ value }`. Text is sent as DBR_STRING (the server converts it; enum labels work), other
   * values as the native type. Resolves when the server has processed the write.
   */
  async put(name: string, value: unknown, opts: { timeoutMs?: number } = {}): Promise<void> {
    const ms = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + ms;
    const ch = this.channel(name);
    await ch.whenConnected(ms, 'put');
    if (!ch.canWrite) throw new RemoteError(`CA put ${name}: ${ecaMessage(Eca.NOWTACCESS)}`, 2);
    const { dataType, values } = putValuesOf(ch.native as NativeInfo, value);
    const payload = encodeDbr(dataType, values);
    await this.#request(
      ch,
      'put',
      deadline - Date.now(),
      (ioid) => msg.writeNotify(ch.sid, ioid, dataType, values.length, payload),
      () => undefined,
    );
  }

  /** One READ_NOTIFY or WRITE_NOTIFY: its reply, its ERROR, the circuit's end, or a time-out. */
  #request<T>(
    ch: CaChannel,
    what: string,
    ms: number,
    build: (ioid: number) => Uint8Array,
    read: (h: CaHeader, p: Uint8Array) => T,
  ): Promise<T> {
    const c = ch.circuit;
    if (!c) return Promise.reject(new ConnectionError('ERR_CONNECTION_CLOSED', `CA ${what} ${ch.name}: the channel disconnected`));
    const ioid = this.nextId();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          c.requests.delete(ioid);
          reject(new TimeoutError(`CA ${what} ${ch.name}: no reply within ${ms} ms`));
        },
        Math.max(0, ms),
      );
      c.requests.set(ioid, {
        onReply: (status, h, payload) => {
          clearTimeout(timer);
          if (status !== Eca.NORMAL) return reject(new RemoteError(`CA ${what} ${ch.name}: ${ecaMessage(status)}`, 2));
          try {
            resolve(read(h, payload));
          } catch (err) {
            reject(err as Error);
            throw err; // bad bytes: the circuit is closed too
          }
        },
        onFail: (err) => {
          clearTimeout(timer);
          reject(err instanceof RemoteError ? new RemoteError(`CA ${what} ${ch.name}: ${err.message}`, err.severity) : err);
        },
      });
      c.send(build(ioid));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ch of this.#channels.values()) ch.close();
    this.#channels.clear();
    this.searcher.close();
    for (const c of this.#circuits.values()) c.close();
    this.#circuits.clear();
  }
}
