// Remote objects (Pyacq's RPC system) on pvAccess RPC: see docs/rpc.md.
export { RPCServer, type RPCServerOptions } from './server.js';
export { RPCClient, DEFAULT_TIMEOUT_MS, type RPCClientOptions, type LocalEndpoint } from './client.js';
export { isObjectProxy, type ObjectProxy, type ObjectProxyOps, type CallOptions } from './proxy.js';
export { RemoteCallError } from './errors.js';
export { ProcessSpawner, type ProcessSpawnerOptions } from './spawner.js';
export { measureClockDiff } from './clock.js';
export { registerTransport, type RpcTransport, type RpcConnection } from './transport.js';
export { RpcCore, currentCaller, type CoreStats } from './core.js';
export { requestType, replyType, type ReturnType, type SyncMode, type ProxyRef } from './wire.js';
export type { DeclaredSignatures } from './signature.js';
