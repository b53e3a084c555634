// Host (Pyacq's pyacq.core.host): an RPC server that creates NodeGroups on request, each in a
// child process of its own, and gives their proxies to the caller (a Manager, usually on
// another process or host). `sluice host` runs one. The Host watches its children: one that
// exits without being asked leaves the registry and is reported on the Host's log.
import { InvalidArgumentError } from '../errors.js';
import type { ObjectProxy } from '../rpc/proxy.js';
import { RPCServer } from '../rpc/server.js';
import type { ProcessSpawnerOptions } from '../rpc/spawner.js';
import { NodeGroup, type RemoteNodeGroup } from './node-group.js';

/** The name a Host publishes itself under on its RPC server. */
export const HOST_OBJECT = 'host';
/** The RPC PV name of a host named `name`: what `HOST:PORT` addresses mean to a Manager. */
export const hostPvName = (name = 'host'): string => `${name}:rpc`;

export interface HostOptions {
  /** Its RPC PV is `<name>:rpc` (default 'host'). */
  name?: string;
  /** Interface to listen on, for the Host and its node groups (default 127.0.0.1). */
  host?: string;
  /** TCP port of the Host's RPC server (default 0: a free one). */
  port?: number;
  /** Where the Host's own events go (node groups started and exited); default stderr. */
  log?: (line: string) => void;
  /** How the node groups' log records are handled (ProcessSpawner's options; default: printed on stderr). */
  nodeGroupLogs?: Pick<ProcessSpawnerOptions, 'onLog' | 'logFormat' | 'log'>;
}

/** What `listNodeGroups()` tells of each node group. */
export interface NodeGroupInfo {
  name: string;
  /** The RPC address of the node group's process. */
  address: string;
  pid: number;
}

export class Host {
  readonly name: string;
  readonly server: RPCServer;
  readonly #bind: string;
  readonly #log: (line: string) => void;
  readonly #logs: HostOptions['nodeGroupLogs'];
  readonly #groups = new Map<string, RemoteNodeGroup>();
  /** Names being created or closed: a second request for one of them is refused. */
  readonly #busy = new Set<string>();
  #closing: Promise<void> | null = null;

  private constructor(name: string, server: RPCServer, options: HostOptions) {
    this.name = name;
    this.server = server;
    this.#bind = options.host ?? '127.0.0.1';
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#logs = options.nodeGroupLogs;
  }

  static async start(options: HostOptions = {}): Promise<Host> {
    const name = options.name ?? 'host';
    const server = await RPCServer.start({
      name,
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    const host = new Host(name, server, options);
    server.publish(HOST_OBJECT, host);
    return host;
  }

  /** `pva://HOST:PORT/<name>:rpc`: what Manager.addHost takes. */
  get address(): string {
    return this.server.address;
  }

  /** A NodeGroup in a new child process; resolves with its proxy (Pyacq's create_nodegroup). */
  async createNodeGroup(name: string): Promise<ObjectProxy> {
    if (typeof name !== 'string' || !/^[\w.-]+$/.test(name))
      throw new InvalidArgumentError(`createNodeGroup: a node group name is letters, digits, '_', '.' or '-', not '${String(name)}'`);
    if (this.#closing) throw new InvalidArgumentError(`host ${this.name} is closing`);
    if (this.#groups.has(name) || this.#busy.has(name))
      throw new InvalidArgumentError(`host ${this.name}: a node group is named '${name}' already`);
    this.#busy.add(name);
    try {
      const group = await NodeGroup.spawn({ name, host: this.#bind, ...this.#logs });
      this.#groups.set(name, group);
      const pid = group.spawner.child.pid;
      this.#log(`node group ${name} started (pid ${pid}) at ${group.spawner.client.address}`);
      void group.spawner.wait().then((code) => {
        // Still registered: nobody asked it to close.
        if (this.#groups.get(name) !== group) return;
        this.#groups.delete(name);
        group.group._release();
        this.#log(`node group ${name} exited unexpectedly (code ${code})`);
      });
      return group.group;
    } finally {
      this.#busy.delete(name);
    }
  }

  listNodeGroups(): NodeGroupInfo[] {
    return [...this.#groups].map(([name, g]) => ({ name, address: g.spawner.client.address, pid: g.spawner.child.pid ?? 0 }));
  }

  /** Stop and close the node group's nodes, then its process; resolves with its exit code. */
  async closeNodeGroup(name: string): Promise<number | null> {
    const group = this.#groups.get(name);
    if (!group)
      throw new InvalidArgumentError(
        `host ${this.name}: no node group '${name}' (node groups: ${[...this.#groups.keys()].join(', ') || 'none'})`,
      );
    this.#groups.delete(name);
    this.#busy.add(name);
    try {
      const code = await group.close().catch(() => group.spawner.stop());
      this.#log(`node group ${name} exited with code ${code}`);
      return code;
    } finally {
      this.#busy.delete(name);
    }
  }

  /** Close every node group (Pyacq's close_all_nodegroups). */
  async closeAllNodegroups(): Promise<void> {
    await Promise.all([...this.#groups.keys()].map((name) => this.closeNodeGroup(name)));
  }

  /** Close every node group, then the RPC server. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.closeAllNodegroups();
      await this.server.close();
    })();
    return this.#closing;
  }
}
