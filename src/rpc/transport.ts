// What the RPC core needs of a transport, so the same objects, proxies and reference counting
// run over pvAccess RPC (pva-transport.ts) or any other request/reply channel: a client side
// that sends one request structure and resolves with the reply structure, and a server side
// that hands each request to the core. Transports register under the scheme of their addresses
// (`pva://host:port/pv`), so a proxy reference arriving from anywhere finds its way home.
import { InvalidArgumentError } from '../errors.js';
import type { PVStructure } from '../pvdata/values.js';

export interface RpcConnection {
  /** Send a request (a value of wire.ts's requestType); resolves with the reply value. */
  request(request: PVStructure, timeoutMs: number): Promise<PVStructure>;
  /** Listener for the server closing (told by the server, or the link lost); returns the remover. */
  onClosed(listener: (reason: string) => void): () => void;
  close(): void;
}

export interface RpcTransport {
  readonly scheme: string;
  connect(address: string): RpcConnection;
}

const transports = new Map<string, RpcTransport>();

export function registerTransport(t: RpcTransport): void {
  transports.set(t.scheme, t);
}

export function schemeOf(address: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address);
  if (!m) throw new InvalidArgumentError(`RPC address '${address}' has no scheme (expected e.g. pva://127.0.0.1:5075/name:rpc)`);
  return (m[1] as string).toLowerCase();
}

export function transportFor(address: string): RpcTransport {
  const s = schemeOf(address);
  const t = transports.get(s);
  if (!t) throw new InvalidArgumentError(`no RPC transport for '${s}://' addresses (known: ${[...transports.keys()].join(', ')})`);
  return t;
}
