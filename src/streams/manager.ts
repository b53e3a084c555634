// Manager (Pyacq's pyacq.core.manager): connects to Hosts by address, creates node groups on
// them and keeps a registry of hosts, node groups and the nodes created through it. The node
// groups' proxies come from the Host, but their calls go straight to each node group's
// process (a forwarded proxy), so the Host is not in the data or control path of its nodes.
import { InvalidArgumentError } from '../errors.js';
import { RPCClient } from '../rpc/client.js';
import type { LogRecord } from '../rpc/log-records.js';
import type { ObjectProxy } from '../rpc/proxy.js';
import { RPCServer } from '../rpc/server.js';
import '../rpc/pva-transport.js'; // hosts are reached over pvAccess
import { HOST_OBJECT, hostPvName } from './host.js';
import type { NodeOptions } from './node.js';

export interface ManagerOptions {
  /** Milliseconds to wait for a host to answer when it is added (default 10,000). */
  connectTimeout?: number;
  /**
   * Takes the log records of every node group of every host added (Pyacq's log server), each
   * with its `host`. The Manager then runs an RPC server of its own, which the hosts call.
   */
  onLog?: (record: LogRecord) => void;
  /** Interface of the Manager's RPC server (with onLog; default 127.0.0.1: give an address that remote hosts reach). */
  host?: string;
}

/** `pva://HOST:PORT/PV` as given, or `HOST:PORT` for a host of the default name (`host:rpc`). */
export function hostAddress(address: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) return address;
  if (!/^(\[[^\]]+\]|[^/:\s]+):\d+$/.test(address))
    throw new InvalidArgumentError(`host address '${address}': give HOST:PORT or the address 'sluice host' printed (pva://HOST:PORT/PV)`);
  return `pva://${address}/${hostPvName()}`;
}

/** A node group on a Host, as the Manager knows it: its proxy and the nodes made through it. */
export class ManagedNodeGroup {
  readonly name: string;
  /** The address of the Host that runs it. */
  readonly host: string;
  /** The proxy of the NodeGroup in its process. */
  readonly group: ObjectProxy;
  readonly #nodes = new Map<string, ObjectProxy>();
  readonly #manager: Manager;

  constructor(manager: Manager, name: string, host: string, group: ObjectProxy) {
    this.#manager = manager;
    this.name = name;
    this.host = host;
    this.group = group;
  }

  /** A proxy to a new node of a registered type in the group's process (Pyacq's create_node). */
  async createNode(typeName: string, options: NodeOptions = {}): Promise<ObjectProxy> {
    const node = (await this.group.createNode(typeName, options)) as ObjectProxy;
    this.#nodes.set((await node.name) as string, node);
    return node;
  }

  /** Names of the nodes created through this Manager. */
  listNodes(): string[] {
    return [...this.#nodes.keys()];
  }

  node(name: string): ObjectProxy {
    const n = this.#nodes.get(name);
    if (!n) throw new InvalidArgumentError(`node group ${this.name}: no node '${name}' (nodes: ${this.listNodes().join(', ') || 'none'})`);
    return n;
  }

  registerNodeModule(specifier: string): Promise<string[]> {
    return this.group.registerNodeModule(specifier) as Promise<string[]>;
  }

  nodeTypes(): Promise<string[]> {
    return this.group.nodeTypes() as Promise<string[]>;
  }

  startAll(): Promise<void> {
    return this.group.startAll() as Promise<void>;
  }

  stopAll(): Promise<void> {
    return this.group.stopAll() as Promise<void>;
  }

  /** Ask its Host to close it (its nodes stop and close, its process exits); resolves with the exit code. */
  close(): Promise<number | null> {
    return this.#manager.closeNodeGroup(this.name);
  }

  /** @internal the Manager drops its proxies. */
  release(): void {
    for (const n of this.#nodes.values()) n._release();
    this.#nodes.clear();
    this.group._release();
  }
}

export class Manager {
  readonly #hosts = new Map<string, ObjectProxy>();
  readonly #groups = new Map<string, ManagedNodeGroup>();
  readonly #timeout: number;
  readonly #onLog: ((record: LogRecord) => void) | undefined;
  /** What the hosts call with records (one function, so a host knows it again on unsubscribe). */
  readonly #sink = (record: LogRecord): void => this.#onLog?.(record);
  #server: Promise<RPCServer> | null = null;
  readonly #bind: string;

  constructor(options: ManagerOptions = {}) {
    this.#timeout = options.connectTimeout ?? 10_000;
    this.#onLog = options.onLog;
    this.#bind = options.host ?? '127.0.0.1';
  }

  /** Connect to a Host (Pyacq's add_host); resolves with its address as the Manager names it. */
  async addHost(address: string): Promise<string> {
    const full = hostAddress(address);
    if (this.#hosts.has(full)) return full;
    const server = this.#onLog ? await (this.#server ??= RPCServer.start({ name: 'manager', host: this.#bind })) : undefined;
    const client = await RPCClient.connect(full, { timeout: this.#timeout, ...(server ? { localServer: server } : {}) });
    const host = await client.get(HOST_OBJECT);
    if (server) await host.subscribeLogs(this.#sink);
    this.#hosts.set(full, host);
    return full;
  }

  listHosts(): string[] {
    return [...this.#hosts.keys()];
  }

  /** The proxy of a Host (its `listNodeGroups()` tells what runs there, whoever created it). */
  host(address: string): ObjectProxy {
    const h = this.#hosts.get(hostAddress(address));
    if (!h) throw new InvalidArgumentError(`no host ${address} (hosts: ${this.listHosts().join(', ') || 'none'}): addHost() it first`);
    return h;
  }

  /**
   * A node group named `name` on `host` (an address; added when new), or on the only host when
   * the Manager has one.
   */
  async createNodeGroup(name: string, host?: string): Promise<ManagedNodeGroup> {
    if (this.#groups.has(name))
      throw new InvalidArgumentError(`a node group is named '${name}' already (on ${this.#groups.get(name)?.host})`);
    let address: string;
    if (host !== undefined) address = await this.addHost(host);
    else if (this.#hosts.size === 1) address = [...this.#hosts.keys()][0] as string;
    else throw new InvalidArgumentError(`createNodeGroup('${name}'): name the host (hosts: ${this.listHosts().join(', ') || 'none'})`);
    const proxy = (await this.host(address).createNodeGroup(name)) as ObjectProxy;
    const group = new ManagedNodeGroup(this, name, address, proxy);
    this.#groups.set(name, group);
    return group;
  }

  listNodeGroups(): string[] {
    return [...this.#groups.keys()];
  }

  nodeGroup(name: string): ManagedNodeGroup {
    const g = this.#groups.get(name);
    if (!g) throw new InvalidArgumentError(`no node group '${name}' (node groups: ${this.listNodeGroups().join(', ') || 'none'})`);
    return g;
  }

  /** Start every initialized node of every node group. */
  async startAll(): Promise<void> {
    for (const g of this.#groups.values()) await g.startAll();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#groups.values()].map((g) => g.stopAll()));
  }

  /** Ask the node group's Host to close it; resolves with its process's exit code. */
  async closeNodeGroup(name: string): Promise<number | null> {
    const g = this.nodeGroup(name);
    this.#groups.delete(name);
    g.release();
    return (await this.host(g.host).closeNodeGroup(name)) as number | null;
  }

  /** Close the node groups this Manager created and let go of its hosts (the hosts keep running). */
  async close(): Promise<void> {
    const names = this.listNodeGroups();
    const results = await Promise.allSettled(names.map((n) => this.closeNodeGroup(n)));
    if (this.#server) await Promise.allSettled([...this.#hosts.values()].map((h) => h.unsubscribeLogs(this.#sink)));
    for (const h of this.#hosts.values()) h._release();
    this.#hosts.clear();
    const server = this.#server;
    this.#server = null;
    if (server) await (await server).close();
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) throw failed[0]?.reason;
  }
}
