// Host (Pyacq's pyacq.core.host): an RPC server that creates NodeGroups on request, each in a
// child process of its own, and gives their proxies to the caller (a Manager, usually on
// another process or host). `sluice host` runs one. The Host watches its children: one that
// exits without being asked leaves the registry and is reported on the Host's log.
import { InvalidArgumentError } from '../errors.js';
import { formatLogRecord, type LogRecord } from '../rpc/log-records.js';
import { isObjectProxy, type ObjectProxy } from '../rpc/proxy.js';
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

/** Records a log subscriber may have in flight; past it, records for it are dropped and counted. */
const MAX_LOG_IN_FLIGHT = 1000;

interface LogSink {
  send: (record: LogRecord) => Promise<unknown>;
  inFlight: number;
  dropped: number;
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
  readonly #print: (record: LogRecord) => void;
  readonly #sinks = new Map<unknown, LogSink>();
  readonly #groups = new Map<string, RemoteNodeGroup>();
  /** Names being created or closed: a second request for one of them is refused. */
  readonly #busy = new Set<string>();
  #closing: Promise<void> | null = null;

  private constructor(name: string, server: RPCServer, options: HostOptions) {
    this.name = name;
    this.server = server;
    this.#bind = options.host ?? '127.0.0.1';
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    const logs = options.nodeGroupLogs ?? {};
    const format = logs.logFormat ?? formatLogRecord;
    const print = logs.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.#print = logs.onLog ?? ((r) => print(format(r), r));
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
      const group = await NodeGroup.spawn({ name, host: this.#bind, onLog: (r) => this.#record(r) });
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

  /**
   * Send every log record of this Host's node groups to `sink` (a remote function, usually a
   * Manager's; Pyacq's log server), stamped with this Host's name. A sink that fails is dropped;
   * one that falls behind by more than 1000 records loses records, and is told how many.
   */
  subscribeLogs(sink: (record: LogRecord) => unknown): void {
    if (typeof sink !== 'function') throw new InvalidArgumentError('subscribeLogs: give a function (a proxy of one)');
    this.#sinks.set(sink, { send: async (r) => sink(r), inFlight: 0, dropped: 0 });
  }

  /** Stop sending records to `sink` (the same proxy, or the same function, given to subscribeLogs). */
  unsubscribeLogs(sink: unknown): boolean {
    for (const k of this.#sinks.keys()) {
      if (
        k === sink ||
        (isObjectProxy(k) && isObjectProxy(sink) && k._ref.objectId === sink._ref.objectId && k._ref.address === sink._ref.address)
      ) {
        this.#sinks.delete(k);
        if (isObjectProxy(k)) k._release();
        return true;
      }
    }
    return false;
  }

  #record(r: LogRecord): void {
    this.#print(r);
    const record = { ...r, host: this.name };
    for (const [key, sink] of this.#sinks) {
      if (sink.inFlight >= MAX_LOG_IN_FLIGHT) {
        sink.dropped++;
        continue;
      }
      if (sink.dropped > 0) {
        const message = `${sink.dropped} log record(s) dropped: the subscriber read them slower than they came`;
        sink.dropped = 0;
        this.#deliver(key, sink, { ...record, level: 'warn', message });
      }
      this.#deliver(key, sink, record);
    }
  }

  #deliver(key: unknown, sink: LogSink, record: LogRecord): void {
    sink.inFlight++;
    sink.send(record).then(
      () => void sink.inFlight--,
      () => {
        // A subscriber that went away (or whose function throws) gets no more records.
        this.#sinks.delete(key);
        if (isObjectProxy(key)) key._release();
      },
    );
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
      for (const k of this.#sinks.keys()) if (isObjectProxy(k)) k._release();
      this.#sinks.clear();
      await this.server.close();
    })();
    return this.#closing;
  }
}
