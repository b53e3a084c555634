// NodeGroup (Pyacq's): the nodes of one process, created by type name. NodeGroup.spawn() starts
// a child process (the RPC ProcessSpawner) with a NodeGroup in it and returns a RemoteNodeGroup,
// whose createNode() gives RPC proxies to the child's nodes. Streams cross processes by params:
//   await localNode.connectInput('in', remoteNode.outputParams('out'))
//   await localInput.connect(await remoteNode.outputParams('out'))
import { InvalidArgumentError } from '../errors.js';
import { ProcessSpawner, type ProcessSpawnerOptions } from '../rpc/spawner.js';
import type { ObjectProxy } from '../rpc/proxy.js';
import '../rpc/pva-transport.js'; // the spawner's client reaches the child over pvAccess
import type { Node, NodeOptions } from './node.js';
import { createNode, isNodeClass, nodeTypes, registerNodeType } from './node-registry.js';

export class NodeGroup {
  readonly name: string;
  readonly #nodes = new Map<string, Node>();

  constructor(name = 'nodegroup') {
    this.name = name;
  }

  /** A node of a registered type, kept by the group under its name (default `<type><n>`). */
  createNode(typeName: string, options: NodeOptions = {}): Node {
    const name = options.name ?? `${typeName}${this.#nodes.size}`;
    if (this.#nodes.has(name)) throw new InvalidArgumentError(`node group ${this.name}: a node is named '${name}' already`);
    const node = createNode(typeName, { ...options, name });
    this.#nodes.set(name, node);
    return node;
  }

  node(name: string): Node {
    const n = this.#nodes.get(name);
    if (!n) throw new InvalidArgumentError(`node group ${this.name}: no node '${name}' (nodes: ${this.nodeNames().join(', ') || 'none'})`);
    return n;
  }

  nodeNames(): string[] {
    return [...this.#nodes.keys()];
  }

  nodeTypes(): string[] {
    return nodeTypes();
  }

  /** Import a module (a file URL or a package name) and register every Node class it exports; returns their names. */
  async registerNodeModule(specifier: string): Promise<string[]> {
    if (typeof specifier !== 'string' || specifier === '') throw new InvalidArgumentError('registerNodeModule: give a module specifier');
    const mod = (await import(specifier)) as Record<string, unknown>;
    const names: string[] = [];
    for (const v of Object.values(mod)) {
      if (!isNodeClass(v)) continue;
      registerNodeType(v);
      names.push(v.name);
    }
    if (names.length === 0) throw new InvalidArgumentError(`registerNodeModule: ${specifier} exports no Node class`);
    return names;
  }

  /** Start every initialized node that is not running. */
  async startAll(): Promise<void> {
    for (const n of this.#nodes.values()) if (n.initialized && !n.running && !n.closed) await n.start();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#nodes.values()].filter((n) => n.running).map((n) => n.stop()));
  }

  /** Stop and close every node. */
  async close(): Promise<void> {
    await this.stopAll();
    await Promise.all([...this.#nodes.values()].map((n) => n.close()));
    this.#nodes.clear();
  }

  /** A NodeGroup in a new child process. */
  static async spawn(options: ProcessSpawnerOptions = {}): Promise<RemoteNodeGroup> {
    const spawner = await ProcessSpawner.start({ name: 'nodegroup', ...options });
    try {
      const mod = await spawner.import(new URL('./node-group.js', import.meta.url).href);
      const proxy = (await mod.createNodeGroup(spawner.name)) as ObjectProxy;
      return new RemoteNodeGroup(spawner, proxy);
    } catch (err) {
      await spawner.stop();
      throw err;
    }
  }
}

/** Used by NodeGroup.spawn() in the child (a class instance goes back by proxy). */
export function createNodeGroup(name: string): NodeGroup {
  return new NodeGroup(name);
}

/** A NodeGroup in a child process: its nodes are RPC proxies. */
export class RemoteNodeGroup {
  readonly spawner: ProcessSpawner;
  /** The child's NodeGroup. */
  readonly group: ObjectProxy;

  constructor(spawner: ProcessSpawner, group: ObjectProxy) {
    this.spawner = spawner;
    this.group = group;
  }

  get name(): string {
    return this.spawner.name;
  }

  /** A proxy to a new node in the child: `await node.configure({...})`, `await node.outputParams('out')`... */
  async createNode(typeName: string, options: NodeOptions = {}): Promise<ObjectProxy> {
    return (await this.group.createNode(typeName, options)) as ObjectProxy;
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

  /** Stop and close the child's nodes, then stop the child; resolves with its exit code. */
  async close(): Promise<number | null> {
    try {
      await this.group.close();
    } finally {
      this.group._release();
    }
    return this.spawner.stop();
  }
}
