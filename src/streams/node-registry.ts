// Node types by class name (Pyacq's register_node_type), so a NodeGroup in another process
// creates nodes from a name sent over RPC. The built-in nodes are registered here.
import { InvalidArgumentError } from '../errors.js';
import { Node, type NodeOptions } from './node.js';
import { ChannelSplitter } from './nodes/channel-splitter.js';
import { ChunkResizer } from './nodes/chunk-resizer.js';
import { StreamConverter } from './nodes/stream-converter.js';

/** A concrete Node class. */
export type NodeClass = (new (options?: NodeOptions) => Node) & { name: string };

const types = new Map<string, NodeClass>();

export function isNodeClass(v: unknown): v is NodeClass {
  return typeof v === 'function' && v.prototype instanceof Node;
}

/** Register `cls` under `name` (default its class name); the same name for another class is refused. */
export function registerNodeType(cls: NodeClass, name: string = cls?.name): void {
  if (!isNodeClass(cls)) throw new InvalidArgumentError(`registerNodeType: ${String(name ?? cls)} is not a subclass of Node`);
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('registerNodeType: a node type needs a name');
  const had = types.get(name);
  if (had && had !== cls) throw new InvalidArgumentError(`registerNodeType: '${name}' is registered already for another class`);
  types.set(name, cls);
}

/** A new node of a registered type. */
export function createNode(typeName: string, options: NodeOptions = {}): Node {
  const cls = types.get(typeName);
  if (!cls) throw new InvalidArgumentError(`createNode: no node type '${String(typeName)}' (registered: ${nodeTypes().join(', ')})`);
  return new cls(options);
}

export function nodeTypes(): string[] {
  return [...types.keys()];
}

registerNodeType(StreamConverter);
registerNodeType(ChannelSplitter);
registerNodeType(ChunkResizer);
