// The client context: configuration (EPICS_PVA_* and options), name resolution, a pool of
// server connections, cached channels, and the operations get/put/monitor/rpc/info.
import { InvalidArgumentError } from '../../errors.js';
import { optionBool, optionInt, parsePVRequest, readPVRequest, type PVRequest } from '../../pvdata/pvrequest.js';
import { pvRequest } from '../../pvdata/pvrequest-builder.js';
import { inferType } from '../../pvdata/infer.js';
import type { FieldDesc, StructureDesc } from '../../pvdata/types.js';
import type { PVStructure, PVValue } from '../../pvdata/values.js';
import { clientConfigFromEnv, type PvaClientConfig } from '../config.js';
import type { ConnectionLimits } from '../connection.js';
import { PvaChannel, type ChannelHost } from './channel.js';
import { ClientConnection } from './client-conn.js';
import { announcedIdentity, type AnnouncedIdentity } from '../../net/identity.js';
import { getOp, infoOp, putOp, rpcOp, type GetResult, type OpContext } from './operations.js';
import { PutSession } from './put-session.js';
import { RpcSession } from './rpc-session.js';
import { createResolver, type Resolver } from './resolver.js';
import { PvaSubscription } from './subscription.js';

/** Default limits.maxTypeFields of a client (servers get DEFAULT_LIMITS', 1024). */
export const CLIENT_MAX_TYPE_FIELDS = 65_536;

export interface PvaClientOptions {
  /** Environment to read EPICS_PVA_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Overrides of the configuration read from the environment. */
  config?: Partial<PvaClientConfig>;
  /** Default operation timeout in ms (pvget's -w). Default 5000. */
  timeoutMs?: number;
  /** Delay before searching again after a failure or disconnect. Default 1000 ms. */
  reconnectDelayMs?: number;
  limits?: Partial<ConnectionLimits>;
  /** Notes (MESSAGE) servers send about requests; default: a process warning. */
  onMessage?: (text: string, severity: number, server: string) => void;
  /**
   * UDP port on which to hear server beacons, which re-trigger pending searches at once
   * (default EPICS_PVA_BROADCAST_PORT, shared with local servers); false for none.
   */
  beaconPort?: number | false;
  /** User and host announced to servers (default SLUICE_CLIENT_USER / SLUICE_CLIENT_HOST, else the login and host name). */
  identity?: Partial<AnnouncedIdentity>;
}

export interface RequestOptions {
  /** pvRequest, as text (`field(value)`) or already built. */
  request?: string | PVRequest;
  timeoutMs?: number;
}

export interface MonitorOptions {
  request?: string | PVRequest;
  /** Client and server queue size; default 4, or record[queueSize=N] in the request. */
  queueSize?: number;
  /** Pipeline flow control (record[pipeline=true]); default false. */
  pipeline?: boolean;
  /**
   * With pipeline: how many updates the server may send ahead of what has been consumed (the
   * client-side buffer, default queueSize). Larger than the server queue, it absorbs bursts.
   */
  window?: number;
  /**
   * With pipeline: grow the credit after the first update to this many bytes' worth of updates
   * (at most 65,536), when that is more than `window`. Sized in bytes so that small frames get
   * a deep buffer and big ones do not exhaust memory.
   */
  windowBytes?: number;
}

export class PvaClient implements ChannelHost {
  readonly config: PvaClientConfig;
  readonly timeoutMs: number;
  readonly reconnectDelayMs: number;
  readonly #limits: Partial<ConnectionLimits>;
  readonly #channels = new Map<string, PvaChannel>();
  readonly #conns = new Map<string, ClientConnection>();
  #resolver: Resolver | null = null;
  #nextCid = 0x10203040;
  #nextIoid = 1;
  #closed = false;
  readonly #ctx: OpContext;
  readonly #onMessage: (text: string, severity: number, server: string) => void;
  readonly #beaconPort: number | false;
  readonly identity: AnnouncedIdentity;

  constructor(options: PvaClientOptions = {}) {
    this.config = { ...clientConfigFromEnv(options.env ?? process.env), ...options.config };
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 1000;
    this.#limits = {
      idleTimeoutMs: this.config.connectionTimeoutMs * (4 / 3),
      echoIntervalMs: this.config.connectionTimeoutMs / 2,
      // The client chose its servers and reads their PV types, which may be large.
      maxTypeFields: CLIENT_MAX_TYPE_FIELDS,
      ...options.limits,
    };
    this.#ctx = { nextIoid: () => this.#nextIoid++, timeoutMs: this.timeoutMs };
    this.#onMessage =
      options.onMessage ??
      ((text, severity, server) => process.emitWarning(`${server}: ${text}`, { code: severity > 1 ? 'SLUICE_PVA_ERROR' : 'SLUICE_PVA' }));
    this.#beaconPort = options.beaconPort ?? this.config.broadcastPort;
    this.identity = announcedIdentity(options.env ?? process.env, options.identity);
  }

  /** @internal ChannelHost */
  resolve(name: string, signal: AbortSignal, maxRetryMs?: number): Promise<{ host: string; port: number }> {
    this.#resolver ??= createResolver(this.config, (host, port) => this.connectionTo(host, port), this.#beaconPort);
    return this.#resolver.resolve(name, signal, maxRetryMs);
  }

  /** @internal ChannelHost: one connection per server address, reopened after it closes. */
  connectionTo(host: string, port: number): ClientConnection {
    const key = `${host}:${port}`;
    let c = this.#conns.get(key);
    if (!c || c.closed) {
      c = ClientConnection.connect(host, port, this.#limits, this.identity);
      const conn = c;
      c.onMessageText = (_ioid, severity, text) => this.#onMessage(text, severity, conn.address);
      this.#conns.set(key, c);
    }
    return c;
  }

  /** The (shared) channel for a name; it connects in the background. */
  channel(name: string): PvaChannel {
    if (this.#closed) throw new InvalidArgumentError('client is closed');
    if (!name) throw new InvalidArgumentError('empty channel name');
    let ch = this.#channels.get(name);
    if (!ch || ch.state === 'closed') {
      ch = new PvaChannel(this, name, this.#nextCid++);
      ch.on('error', () => {}); // reported through operations and lastError
      this.#channels.set(name, ch);
      ch.connect();
    }
    return ch;
  }

  #ctxFor(timeoutMs: number | undefined): OpContext {
    return timeoutMs === undefined ? this.#ctx : { nextIoid: this.#ctx.nextIoid, timeoutMs };
  }

  get(name: string, opts: RequestOptions = {}): Promise<GetResult> {
    return getOp(this.#ctxFor(opts.timeoutMs), this.channel(name), toRequest(opts.request));
  }

  /**
   * Put a partial structure (`{ value: 5 }`), or a function of the current value. Resolves
   * with the put type and, when a function was given, the value before the put.
   */
  put(
    name: string,
    value: PVStructure | ((current: GetResult) => PVStructure),
    opts: RequestOptions = {},
  ): Promise<{ type: StructureDesc; previous: PVStructure | null }> {
    return putOp(this.#ctxFor(opts.timeoutMs), this.channel(name), toRequest(opts.request), value);
  }

  monitor(name: string, opts: MonitorOptions = {}): PvaSubscription {
    const req = monitorPVRequest(opts);
    const o = readPVRequest(req.type, req.value).options;
    const queueSize = optionInt(o['queueSize']) ?? 4;
    const pipeline = optionBool(o['pipeline']) ?? false;
    const window = Math.max(queueSize, opts.window ?? queueSize);
    const sopts = { queueSize, pipeline, window, ...(opts.windowBytes !== undefined ? { windowBytes: opts.windowBytes } : {}) };
    return new PvaSubscription(this.channel(name), req, sopts, this.#ctx.nextIoid);
  }

  /** Call an RPC PV. `args` is a structure (typed by inference) or an explicit {type, value}. */
  rpc(
    name: string,
    args: PVStructure | { type: FieldDesc; value: PVValue } = {},
    opts: RequestOptions = {},
  ): Promise<{ type: FieldDesc | null; value: PVValue }> {
    const typed = isTyped(args) ? args : { type: inferType(args), value: args };
    return rpcOp(this.#ctxFor(opts.timeoutMs), this.channel(name), toRequest(opts.request), typed);
  }

  /** An RPC operation on `name` kept open for many requests, one at a time (one round trip each). */
  rpcSession(name: string, opts: Pick<RequestOptions, 'request'> = {}): RpcSession {
    return new RpcSession(this.channel(name), this.#ctx.nextIoid, toRequest(opts.request));
  }

  /**
   * A put operation on `name` kept open for many puts (INIT once), several in flight at once:
   * for a writer that streams values into a PV without a round trip per value.
   */
  putSession(name: string, opts: Pick<RequestOptions, 'request'> = {}): PutSession {
    return new PutSession(this.channel(name), this.#ctx.nextIoid, toRequest(opts.request));
  }

  /** The type of a PV (or of one of its fields), as pvinfo shows it. */
  info(name: string, opts: { subField?: string; timeoutMs?: number } = {}): Promise<FieldDesc> {
    return infoOp(this.#ctxFor(opts.timeoutMs), this.channel(name), opts.subField ?? '');
  }

  close(): void {
    this.#closed = true;
    for (const ch of this.#channels.values()) ch.close();
    this.#channels.clear();
    this.#resolver?.close();
    for (const c of this.#conns.values()) {
      c.flush();
      c.close(null);
    }
    this.#conns.clear();
  }
}

/**
 * The pvRequest of a monitor: queueSize and pipeline given as options travel in it as record
 * options, where servers look for them; record options of the request itself win (merged in
 * after them), as they always have.
 */
export function monitorPVRequest(opts: Pick<MonitorOptions, 'request' | 'queueSize' | 'pipeline'>): PVRequest {
  const given = { queueSize: opts.queueSize, pipeline: opts.pipeline };
  if (typeof opts.request === 'object' && given.queueSize === undefined && given.pipeline === undefined) {
    return opts.request; // sent as given, option types included
  }
  return pvRequest()
    .record(given)
    .merge(opts.request ?? '')
    .build();
}

function toRequest(r: string | PVRequest | undefined): PVRequest {
  if (r === undefined) return parsePVRequest('');
  return typeof r === 'string' ? parsePVRequest(r) : r;
}

function isTyped(a: unknown): a is { type: FieldDesc; value: PVValue } {
  const x = a as { type?: { kind?: unknown } };
  return typeof x === 'object' && x !== null && typeof x.type?.kind === 'string' && 'value' in x;
}
