// A channel server client for tests, on one PvaClient (one connection): ChannelService calls as
// RPC core requests to `<prefix>:rpc`, and the channel and inbox PVs through the same client, so
// the server sees one peer per simulated client (RPCClient keeps one connection per address in a
// process, which would make all test clients one).
import { ChannelServer, type ChannelServerOptions } from '../../src/channels/server.js';
import { rpcPvName, SERVICE_OBJECT, type HelloResult } from '../../src/channels/protocol.js';
import type { PvaClient } from '../../src/pva/client/client.js';
import type { PvaSubscription } from '../../src/pva/client/subscription.js';
import type { PVAny, PVStructure } from '../../src/pvdata/values.js';
import { RemoteCallError } from '../../src/rpc/errors.js';
import { decodeValue, encodeValue, requestType, type RpcReply } from '../../src/rpc/wire.js';
import { clientFor } from './net.js';

export async function startChannelServer(options: ChannelServerOptions = {}): Promise<ChannelServer> {
  const server = new ChannelServer({ host: '127.0.0.1', port: 0, udpPort: false, helloTimeoutMs: 2000, ...options });
  await server.start();
  return server;
}

const noProxies = {
  refOf: () => undefined,
  proxyOf: () => {
    throw new Error('test peers send plain data only');
  },
};

export class ChannelPeer {
  readonly client: PvaClient;
  readonly rpcPv: string;
  inbox: PvaSubscription | null = null;

  /** `server`: a ChannelServer, or where a spawned one listens. */
  constructor(server: { port: number; prefix: string }) {
    this.client = clientFor(server.port);
    this.rpcPv = rpcPvName(server.prefix);
  }

  /** Call a ChannelService method; a remote error is a RemoteCallError (remoteCode set). */
  async call(method: string, ...args: unknown[]): Promise<unknown> {
    const value: PVStructure = {
      action: 'call',
      sync: 'sync',
      returnType: 'auto',
      objectId: 0n,
      path: [SERVICE_OBJECT, method],
      args: args.map((a) => encodeValue(a, noProxies)),
      refId: '',
      sender: '',
    };
    const r = await this.client.rpc(this.rpcPv, { type: requestType, value });
    const reply = r.value as unknown as RpcReply;
    if (!reply.ok) throw new RemoteCallError(method, reply.errorName, reply.errorMessage, reply.errorStack, reply.errorCode ?? '');
    return decodeValue(reply.value as PVAny | null, {
      fromRef: () => {
        throw new Error('unexpected proxy');
      },
    });
  }

  /** hello, then monitor the inbox (waiting until the server has the monitor). */
  async register(name: string, methods: string[] = [], params: string[][] = [], required: number[] = []): Promise<HelloResult> {
    const h = (await this.call('hello', name, methods, params, required)) as HelloResult;
    this.inbox = this.client.monitor(h.inbox, { queueSize: 64 });
    await this.next(); // the inbox's first value: the monitor is in place
    return h;
  }

  /** The next inbox message. */
  async next(): Promise<PVStructure> {
    const r = await (this.inbox as PvaSubscription).next();
    if (r.done) throw new Error('inbox ended');
    return r.value.value;
  }

  close(): void {
    this.inbox?.close();
    this.client.close();
  }
}

/** The code of a rejected call (RemoteCallError.remoteCode, else the error's code). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RemoteCallError) return err.remoteCode;
    return (err as { code?: string }).code ?? String(err);
  }
  throw new Error('the call did not fail');
}
