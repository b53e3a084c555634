// Calls of the channel server's ChannelService (protocol.ts) as RPC core requests (src/rpc/wire.ts)
// on the client's own pvAccess client: the server knows a caller by its pvAccess connection, so the
// service calls, the writers' puts and the readers' monitors of one ChannelClient must share it.
// RPC operations stay open (RpcSession, one per call in flight), so a call is one round trip.
import { ConnectionError, InvalidArgumentError, TimeoutError } from '../errors.js';
import type { PvaClient } from '../pva/client/client.js';
import type { RpcSession } from '../pva/client/rpc-session.js';
import type { PVAny, PVStructure } from '../pvdata/values.js';
import { RemoteCallError } from '../rpc/errors.js';
import { decodeValue, encodeValue, requestType, type DecodeContext, type EncodeContext, type RpcReply } from '../rpc/wire.js';
import { SERVICE_OBJECT } from './protocol.js';

/** RPC operations kept open; calls in flight beyond it wait for one. */
const MAX_SESSIONS = 16;

/** Values cross clients by value only: a class instance or a function cannot be sent. */
export const byValueOnly: EncodeContext = {
  refOf: () => undefined,
  proxyOf: (v) => {
    const name = typeof v === 'function' ? 'a function' : `a ${(v as object).constructor?.name ?? 'object'}`;
    throw new InvalidArgumentError(`${name} cannot be sent through the channel server (only plain data goes by value)`);
  },
};
export const noProxies: DecodeContext = {
  fromRef: (ref) => {
    throw new InvalidArgumentError(`a proxy reference (${ref.typeName}) arrived where only values are sent`);
  },
};

/** The error code a server error names (`ERR_…` in its message, name or stack), or ''. */
export function serverCodeOf(...texts: string[]): string {
  for (const s of texts) {
    const m = /\b(ERR_[A-Z0-9_]+)\b/.exec(s);
    if (m) return m[1] as string;
  }
  return '';
}

/** An error the channel server answered a service call with; `serverCode` is its code when it names one. */
export class ChannelServiceError extends RemoteCallError {
  readonly serverCode: string;
  constructor(what: string, reply: RpcReply) {
    const code = reply.errorCode || serverCodeOf(reply.errorMessage, reply.errorName);
    super(what, reply.errorName, reply.errorMessage, reply.errorStack, code);
    this.name = 'ChannelServiceError';
    this.serverCode = code;
  }
}

export class ServiceClient {
  readonly #pva: PvaClient;
  readonly pvName: string;
  readonly #idle: RpcSession[] = [];
  readonly #queue: ((s: RpcSession) => void)[] = [];
  #sessions = 0;
  #closed = false;

  constructor(pva: PvaClient, pvName: string) {
    this.#pva = pva;
    this.pvName = pvName;
  }

  /** Call `method` of the service with `args` (plain data); resolves with its result. */
  async call(method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    const what = `${method}()`;
    if (this.#closed) throw new ConnectionError('ERR_CONNECTION_CLOSED', `${what}: the channel client is closed`);
    const request: PVStructure = {
      action: 'call',
      sync: 'sync',
      returnType: 'value',
      objectId: 0n,
      path: [SERVICE_OBJECT, method],
      args: args.map((a) => encodeValue(a, byValueOnly)),
      refId: '',
      sender: '',
    };
    const session = await this.#session();
    let reply: RpcReply;
    try {
      const r = await session.request({ type: requestType, value: request }, timeoutMs);
      reply = r.value as unknown as RpcReply;
    } catch (err) {
      if (err instanceof TimeoutError) throw new TimeoutError(`${what} on ${this.pvName}: no reply within ${timeoutMs} ms`, { cause: err });
      throw err;
    } finally {
      this.#release(session);
    }
    if (!reply.ok) throw new ChannelServiceError(`${what} on ${this.pvName}`, reply);
    return decodeValue(reply.value as PVAny | null, noProxies);
  }

  #session(): Promise<RpcSession> {
    const s = this.#idle.pop();
    if (s) return Promise.resolve(s);
    if (this.#sessions < MAX_SESSIONS) {
      this.#sessions++;
      return Promise.resolve(this.#pva.rpcSession(this.pvName));
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  #release(s: RpcSession): void {
    if (this.#closed) return s.close();
    const next = this.#queue.shift();
    if (next) next(s);
    else this.#idle.push(s);
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) s.close();
  }
}
