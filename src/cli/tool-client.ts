// One face for the two providers of `-p`: pvAccess (Client) and Channel Access (CaClient), so
// get, put, monitor and info run the same code over either, as pvget -p ca does. CA carries
// no pvRequest and writes only the value field; its monitors report every field as changed.
import { CaClient } from '../ca/client.js';
import type { CaSubscription } from '../ca/subscription.js';
import { InvalidArgumentError } from '../errors.js';
import type { PvaClient } from '../pva/client/client.js';
import type { MonitorUpdate, PvaSubscription, PvaSubscriptionStats } from '../pva/client/subscription.js';
import { BitSet } from '../pvdata/bitset.js';
import type { PVRequest } from '../pvdata/pvrequest.js';
import { fieldByPath, type FieldDesc, type StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import type { CliContext } from './common.js';
import { makeClient } from './pva-client.js';
import type { Provider } from './tool-options.js';

export interface Reading {
  type: StructureDesc;
  value: PVStructure;
}

/** What `monitor` needs of a subscription, whichever the provider. */
export interface ToolSubscription extends AsyncIterable<MonitorUpdate> {
  on(event: 'connect' | 'disconnect', listener: () => void): unknown;
  close(): void;
  readonly lastError: Error | null;
  readonly stats: Pick<PvaSubscriptionStats, 'bytes' | 'serverOverruns' | 'queueOverruns'>;
  /** Updates received and not yet taken by the iteration. */
  readonly pending: number;
}

export interface ToolClient {
  readonly provider: Provider;
  get(name: string, opts: { request: PVRequest; timeoutMs: number }): Promise<Reading>;
  /** Put what `build` makes of the current value; resolves with the type and the value before. */
  put(
    name: string,
    build: (cur: Reading) => PVStructure,
    opts: { request: PVRequest; timeoutMs: number },
  ): Promise<{ type: StructureDesc; previous: PVStructure | null }>;
  monitor(name: string, opts: { request: PVRequest; queueSize?: number; pipeline?: boolean }): ToolSubscription;
  info(name: string, opts: { subField: string; timeoutMs: number }): Promise<{ type: FieldDesc; server: string }>;
  /** The server a connected channel is on, "" when unknown. */
  server(name: string): string;
  close(): void;
}

export function makeToolClient(ctx: CliContext, provider: Provider, timeoutMs: number): ToolClient {
  return provider === 'ca' ? caTool(new CaClient({ env: ctx.env, timeoutMs })) : pvaTool(makeClient(ctx, timeoutMs));
}

function pvaTool(client: PvaClient): ToolClient {
  return {
    provider: 'pva',
    get: (name, o) => client.get(name, o),
    put: (name, build, o) => client.put(name, build, o),
    monitor(name, o) {
      const sub: PvaSubscription = client.monitor(name, o);
      Object.defineProperty(sub, 'lastError', { get: () => sub.channel.lastError });
      return sub as unknown as ToolSubscription;
    },
    async info(name, o) {
      const type = await client.info(name, o);
      return { type, server: client.channel(name).server };
    },
    server: (name) => client.channel(name).server,
    close: () => client.close(),
  };
}

function caTool(client: CaClient): ToolClient {
  const all = new BitSet().set(0);
  return {
    provider: 'ca',
    get: (name, o) => client.get(name, o),
    async put(name, build, o) {
      const cur = await client.get(name, o);
      const patch = build(cur);
      const extra = Object.keys(patch).filter((k) => k !== 'value');
      if (extra.length || !('value' in patch))
        throw new InvalidArgumentError(`${name}: Channel Access writes only the value field, not ${extra.join(', ') || 'this'}`);
      const v = patch['value'];
      const enumIndex = fieldByPath(cur.type, 'value')?.kind === 'structure' ? (v as PVStructure)['index'] : undefined;
      await client.put(name, enumIndex ?? v, o);
      return { type: cur.type, previous: cur.value };
    },
    monitor(name, o) {
      const sub: CaSubscription = client.monitor(name, o.queueSize === undefined ? {} : { queueSize: o.queueSize });
      return {
        on: (event, listener) => sub.on(event, listener),
        close: () => sub.close(),
        get lastError() {
          return sub.channel.lastError;
        },
        get pending() {
          return sub.pending;
        },
        get stats() {
          return { bytes: 0, serverOverruns: 0, queueOverruns: sub.stats.overruns };
        },
        async *[Symbol.asyncIterator]() {
          for await (const u of sub) yield { type: u.type, value: u.value, changed: all, overrun: new BitSet() };
        },
      };
    },
    async info(name, o) {
      const ch = client.channel(name);
      await ch.whenConnected(o.timeoutMs, 'info');
      const type = ch.type as StructureDesc;
      const sub = o.subField ? fieldByPath(type, o.subField) : type;
      if (!sub) throw new InvalidArgumentError(`${name} has no field '${o.subField}'`);
      return { type: sub, server: ch.circuit?.address ?? '' };
    },
    server: (name) => client.channel(name).circuit?.address ?? '',
    close: () => client.close(),
  };
}
