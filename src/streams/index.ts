// Public names of the streams floor (src/index.ts re-exports them).
export { OutputStream, modeOf, type OutputStats } from './output-stream.js';
export { InputStream, type InputStreamOptions, type InputStats, type SetBufferOptions, type StreamTarget } from './input-stream.js';
export { DEFAULT_SPEC, EVENT_SHAPE, STREAM_TYPES, normalizeSpec, isStreamDType, shapeMatches } from './spec.js';
export { filters, scale, offset, cast, reshape, type StreamFilter } from './filters.js';
export { Chunker } from './chunker.js';
export { NT_STREAM_CHUNK_ID, streamChunkT, buildStreamChunk, readStreamChunk } from './chunk-type.js';
export { toChunk } from './chunk.js';
export { dtypeOf } from './ndarray.js';
export { tcpMode } from './tcp-mode.js';
export { inprocMode } from './inproc-mode.js';
export {
  STREAM_DTYPES,
  registerTransferMode,
  transferMode,
  transferModes,
  type ConnectParams,
  type NdChunk,
  type ReaderPolicy,
  type ReceiverOptions,
  type StreamDType,
  type StreamReceiver,
  type StreamSender,
  type StreamSpec,
  type StreamType,
  type TransferMode,
} from './transfer.js';
export { sharedmemMode, sharedmemScope, type SharedmemScope } from './sharedmem.js';
export { RingBuffer, RingIndexError, type RingBufferOptions, type ReadOptions } from './ring-buffer.js';
export { Node, type NodeOptions, type NodeStreamSpecs } from './node.js';
export { registerNodeType, createNode, nodeTypes, isNodeClass, type NodeClass } from './node-registry.js';
export { NodeGroup, RemoteNodeGroup } from './node-group.js';
export { Host, HOST_OBJECT, type HostOptions, type NodeGroupInfo } from './host.js';
export { Manager, ManagedNodeGroup, hostAddress, type ManagerOptions } from './manager.js';
export { StreamConverter } from './nodes/stream-converter.js';
export { ChannelSplitter } from './nodes/channel-splitter.js';
export { ChunkResizer } from './nodes/chunk-resizer.js';
