// A client of the channel server (stream_service's Stream_Client): registers under a name with
// the methods it exports, keeps a monitor on its inbox (the server's messages: which of its
// channels have readers, calls from other clients), and creates, writes and reads channels. All
// of it on one pvAccess client, so the server sees one connection: it knows the caller of a
// service call, a writer's put and a reader's monitor by it.
import { InvalidArgumentError, SluiceError, TimeoutError } from '../errors.js';
import { PvaClient } from '../pva/client/client.js';
import type { PvaSubscription } from '../pva/client/subscription.js';
import { pvRequest } from '../pvdata/pvrequest-builder.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVAny, PVStructure } from '../pvdata/values.js';
import { signaturesOf } from '../rpc/signature.js';
import { decodeValue } from '../rpc/wire.js';
import {
  DEFAULT_PREFIX,
  encodeChannelType,
  rpcPvName,
  type ChannelDetails,
  type ChannelSummary,
  type ClientSummary,
  type CreateChannelOptions,
  type HelloResult,
} from './protocol.js';
import { ChannelReader, readerRequest, type SubscribeOptions } from './reader.js';
import { createRemote, encodeSignature, type RemoteCallOptions, type RemoteClient } from './remote.js';
import { ChannelServiceError, noProxies, ServiceClient } from './service-client.js';
import { ChannelWriter, type ChannelWriterOptions } from './writer.js';

export interface ChannelClientOptions {
  /** The server as `host:port` (default: found by the pvAccess search of `env`). */
  address?: string;
  /** Environment with EPICS_PVA_* (default process.env); used when no address is given. */
  env?: NodeJS.ProcessEnv;
  /** The server's PV name prefix (default 'sluice:server'). */
  prefix?: string;
  /** This client's name (unique on the server). */
  name: string;
  /** Methods other clients may call: of `object`, the listed ones, or those whose name starts with `prefix` (called without it). */
  exports?: { object: object; methods?: string[]; prefix?: string };
  /** Time-out of service calls in ms (default 10,000). */
  timeoutMs?: number;
}

export interface CreateOptions extends Omit<CreateChannelOptions, 'name' | 'typeBytes'> {
  /** The channel's value type (the writers' fields); else the first writer's type. */
  type?: StructureDesc;
}

export interface OpenWriterOptions extends ChannelWriterOptions {
  /** The writer's value type (needed when the channel has none yet). */
  type?: StructureDesc;
}

interface Exported {
  names: string[];
  /** Exported name -> the object's method name. */
  target: Map<string, string>;
  object: object | null;
}

export class ChannelClient {
  /** The name the server registered. */
  readonly name: string;
  readonly prefix: string;
  readonly timeoutMs: number;
  /** The pvAccess client every operation of this client uses. */
  readonly pva: PvaClient;
  readonly #service: ServiceClient;
  readonly #exported: Exported;
  readonly #writers = new Map<string, ChannelWriter>();
  readonly #readers = new Set<ChannelReader>();
  #inbox: PvaSubscription | null = null;
  /** The channels with a reader, as the latest inbox 'active' message listed them, and how many such messages came. */
  #active = new Set<string>();
  #activeUpdates = 0;
  #closed = false;
  /** Calls from other clients answered (ok or error). */
  callsServed = 0;

  private constructor(pva: PvaClient, name: string, prefix: string, timeoutMs: number, exported: Exported) {
    this.pva = pva;
    this.name = name;
    this.prefix = prefix;
    this.timeoutMs = timeoutMs;
    this.#exported = exported;
    this.#service = new ServiceClient(pva, rpcPvName(prefix));
  }

  /** Register with the server and start reading the inbox. */
  static async connect(options: ChannelClientOptions): Promise<ChannelClient> {
    if (!options.name) throw new InvalidArgumentError('a channel client needs a name');
    const exported = exportsOf(options.exports);
    const pva = new PvaClient(pvaOptions(options));
    const c = new ChannelClient(pva, options.name, options.prefix ?? DEFAULT_PREFIX, options.timeoutMs ?? 10_000, exported);
    try {
      const sigs = exported.object ? signaturesOf(exported.object) : new Map();
      const encoded = exported.names.map((n) => {
        const sig = sigs.get(exported.target.get(n) as string);
        return sig ? encodeSignature(sig) : { params: [], required: 0 };
      });
      const hello = (await c.#call('hello', [
        options.name,
        exported.names,
        encoded.map((e) => e.params),
        encoded.map((e) => e.required),
      ])) as HelloResult;
      await c.#readInbox(hello.inbox);
      return c;
    } catch (err) {
      c.close();
      throw err;
    }
  }

  #call(method: string, args: unknown[], timeoutMs = this.timeoutMs): Promise<unknown> {
    return this.#service.call(method, args, timeoutMs);
  }

  /** Monitor the inbox; resolves with its first value (the server then knows the client reads it). */
  #readInbox(pv: string): Promise<void> {
    const sub = this.pva.monitor(pv, { queueSize: 64, pipeline: true });
    this.#inbox = sub;
    sub.on('error', () => {});
    return new Promise((resolve, reject) => {
      let first = true;
      const timer = setTimeout(() => reject(new TimeoutError(`inbox ${pv}: no first value within ${this.timeoutMs} ms`)), this.timeoutMs);
      void (async () => {
        try {
          for await (const u of sub) {
            if (first) {
              first = false;
              clearTimeout(timer);
              resolve();
            }
            this.#onInbox(u.value);
          }
        } catch (err) {
          // The server went, or refused the inbox: this client is gone from it.
          clearTimeout(timer);
          reject(err as Error);
        }
      })();
    });
  }

  #onInbox(m: PVStructure): void {
    const kind = m['kind'];
    if (kind === 'active') {
      const active = new Set(m['active'] as string[]);
      this.#active = active;
      this.#activeUpdates++;
      for (const [name, w] of this.#writers) w.setActive(active.has(name));
    } else if (kind === 'call') {
      void this.#serve(m['callId'] as bigint, String(m['method']), (m['args'] ?? []) as (PVAny | null)[]);
    }
  }

  async #serve(callId: bigint, method: string, wireArgs: (PVAny | null)[]): Promise<void> {
    let reply: [boolean, unknown, string, string, string];
    try {
      const target = this.#exported.target.get(method);
      const obj = this.#exported.object as Record<string, unknown> | null;
      const fn = target !== undefined && obj ? obj[target] : undefined;
      if (typeof fn !== 'function') throw new InvalidArgumentError(`client ${this.name} exports no method ${method}`);
      const args = wireArgs.map((a) => decodeValue(a, noProxies));
      const value = await (fn as (...a: unknown[]) => unknown).apply(obj, args);
      reply = [true, value, '', '', ''];
    } catch (err) {
      reply = err instanceof Error ? [false, null, err.name, err.message, err.stack ?? ''] : [false, null, typeof err, String(err), ''];
    }
    this.callsServed++;
    try {
      await this.#call('reply', [callId, ...reply]);
    } catch (err) {
      // A result that cannot go by value: answer with that error instead.
      if (reply[0]) {
        const e = err as Error;
        await this.#call('reply', [callId, false, null, e.name, e.message, e.stack ?? '']).catch(() => {});
      }
    }
  }

  // ---- administration ---------------------------------------------------------------------

  /** Create a channel owned by this client; resolves with its control key (needed to delete it). */
  async createChannel(name: string, options: CreateOptions = {}): Promise<{ name: string; controlKey: string }> {
    const { type, ...rest } = options;
    const o: CreateChannelOptions = { name, ...rest, ...(type ? { typeBytes: encodeChannelType(type) } : {}) };
    if (o.public === false && !o.key) throw new InvalidArgumentError(`private channel ${name} needs a key`);
    return (await this.#call('createChannel', [stripUndefined(o)])) as { name: string; controlKey: string };
  }

  async listChannels(): Promise<ChannelSummary[]> {
    return (await this.#call('listChannels', [])) as ChannelSummary[];
  }

  async channelInfo(name: string, key?: string): Promise<ChannelDetails> {
    return (await this.#call('channelInfo', key === undefined ? [name] : [name, key])) as ChannelDetails;
  }

  async deleteChannel(name: string, controlKey: string): Promise<void> {
    await this.#call('deleteChannel', [name, controlKey]);
  }

  async clients(): Promise<ClientSummary[]> {
    return (await this.#call('clients', [])) as ClientSummary[];
  }

  async clientInfo(name: string): Promise<ClientSummary> {
    return (await this.#call('clientInfo', [name])) as ClientSummary;
  }

  // ---- writing and reading ----------------------------------------------------------------

  /** Register as a writer of `channel` and open its put operation. */
  async openWriter(channel: string, options: OpenWriterOptions = {}): Promise<ChannelWriter> {
    if (this.#closed) throw new SluiceError('ERR_CONNECTION_CLOSED', 'the channel client is closed');
    if (this.#writers.has(channel)) throw new InvalidArgumentError(`this client already writes to ${channel}`);
    const args: unknown[] = [channel, options.key];
    if (options.type) args.push(encodeChannelType(options.type));
    const before = this.#activeUpdates;
    const r = (await this.#call('openWriter', args)) as { writerId: string; active: boolean };
    const atReply = this.#activeUpdates;
    const request = pvRequest()
      .record(options.key !== undefined ? { key: options.key } : {})
      .build();
    const session = this.pva.putSession(channel, { request });
    try {
      await session.open(this.timeoutMs);
    } catch (err) {
      session.close();
      await this.#call('closeWriter', [channel]).catch(() => {});
      throw err;
    }
    // Inbox messages that came meanwhile are newer than the reply's answer, or may be.
    const has = this.#active.has(channel);
    const active = this.#activeUpdates > atReply ? has : r.active || (atReply > before && has);
    const w = new ChannelWriter({ closeWriter: (wr) => this.#closeWriter(wr) }, channel, r.writerId, session, active, options);
    this.#writers.set(channel, w);
    return w;
  }

  async #closeWriter(w: ChannelWriter): Promise<void> {
    try {
      await this.#call('closeWriter', [w.channel]);
    } finally {
      if (this.#writers.get(w.channel) === w) this.#writers.delete(w.channel);
    }
  }

  /** Read `channel` with a buffer on the server (queueSize, policy, fillRate; key of a private channel). */
  subscribe(channel: string, options: SubscribeOptions = {}): ChannelReader {
    if (this.#closed) throw new SluiceError('ERR_CONNECTION_CLOSED', 'the channel client is closed');
    const request = readerRequest(options);
    const sub = this.pva.monitor(channel, { request, window: Math.min(options.queueSize ?? 4, 4) });
    const reader = new ChannelReader(channel, sub, options);
    this.#readers.add(reader);
    sub.once('end', () => this.#readers.delete(reader));
    return reader;
  }

  /** Another client's exported methods, checked against its signatures before each call. */
  async remote(clientName: string, options: RemoteCallOptions = {}): Promise<RemoteClient> {
    const summary = await this.clientInfo(clientName);
    return createRemote(summary, (target, method, args, timeoutMs) => this.callClient(target, method, args, timeoutMs), options);
  }

  /** Call `method` of client `target` without a signature check; fails with ERR_TIMEOUT after timeoutMs. */
  callClient(target: string, method: string, args: unknown[], timeoutMs = 10_000): Promise<unknown> {
    // The server's own time-out answers first; the service call waits a little longer for it.
    return this.#call('callClient', [target, method, args, timeoutMs], timeoutMs + 2000).catch((err: unknown) => {
      if (err instanceof ChannelServiceError && err.serverCode === 'ERR_TIMEOUT') {
        throw new TimeoutError(`call of ${target}.${method}() got no reply within ${timeoutMs} ms`, { cause: err });
      }
      throw err;
    });
  }

  /** End the writers (their end marks), stop the readers and the inbox, and leave the server. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const ends = [...this.#writers.values()].map((w) =>
      w.backlog === 0 && !w.error && !w.ended ? Promise.race([w.end(), delay(this.timeoutMs)]).catch(() => {}) : w.abort(),
    );
    await Promise.all(ends);
    for (const w of this.#writers.values()) w.abort();
    for (const r of this.#readers) r.close();
    this.#inbox?.close();
    this.#service.close();
    this.pva.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function exportsOf(e: ChannelClientOptions['exports']): Exported {
  if (!e) return { names: [], target: new Map(), object: null };
  const sigs = signaturesOf(e.object);
  const target = new Map<string, string>();
  if (e.methods) {
    for (const m of e.methods) {
      if (!sigs.has(m)) throw new InvalidArgumentError(`exported method ${m} is not a method of the object`);
      target.set(m, m);
    }
  } else if (e.prefix) {
    for (const m of sigs.keys()) if (m.startsWith(e.prefix) && m.length > e.prefix.length) target.set(m.slice(e.prefix.length), m);
  } else {
    throw new InvalidArgumentError('exports needs methods (a list) or prefix');
  }
  return { names: [...target.keys()], target, object: e.object };
}

function pvaOptions(o: ChannelClientOptions): ConstructorParameters<typeof PvaClient>[0] {
  if (!o.address) return { env: o.env ?? process.env, reconnectDelayMs: 200 };
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(o.address);
  if (!m) throw new InvalidArgumentError(`server address '${o.address}' is not HOST:PORT`);
  return {
    env: {},
    config: {
      nameServers: [{ host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) }],
      addressList: [],
      autoAddressList: false,
    },
    beaconPort: false,
    reconnectDelayMs: 200,
  };
}
