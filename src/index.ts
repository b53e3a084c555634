// Public API of Sluice: what applications and processors use. The wire layer (byte reader and
// writer, type and value codecs, framing) is in `sluice/internal` (src/internal.ts), without a
// stability promise. Built-in processors are those of processing/builtin/registry.ts.
export { PvaServer } from './pva/server/server.js';
export { SharedPV } from './pv/shared-pv.js';
export { PVDirectory } from './pv/directory.js';
export { PvaClient } from './pva/client/client.js';
export { PvaSubscription } from './pva/client/subscription.js';
export { PvaChannel } from './pva/client/channel.js';
export { BitSet } from './pvdata/bitset.js';
export { t, sameType, formatType, typeName, fieldByPath, memberIndex } from './pvdata/types.js';
export { defaultValue, getField, unionSelect, cloneValue, TYPED_ARRAY, scalarTypeOfArray } from './pvdata/values.js';
export { parsePVRequest, formatPVRequest, readPVRequest, selectFields } from './pvdata/pvrequest.js';
export { pvRequest, PVRequestBuilder } from './pvdata/pvrequest-builder.js';
export { bitOf, pathOf, bitsOf, expandBits, fieldCount } from './pvdata/field-numbering.js';
export { clientConfigFromEnv, serverConfigFromEnv, type PvaClientConfig, type PvaServerConfig } from './pva/config.js';
export {
  ntscalar,
  ntscalarArray,
  ntenum,
  nttable,
  nturi,
  ntattribute,
  ntndarray,
  alarmT,
  timeT,
  displayT,
  timeNow,
  ColorMode,
} from './pvdata/nt/index.js';
export { compress as compressNdPayload, decompress as decompressNdPayload, CODECS as ND_CODECS } from './pvdata/nt/codec/index.js';
export * from './errors.js';
export { UserDataProcessor } from './processing/user-data-processor.js';
export { AdImageProcessor } from './processing/ad-image-processor.js';
export {
  CaClient,
  CaServer,
  CaSubscription,
  caClientConfigFromEnv,
  caServerConfigFromEnv,
  type CaClientConfig,
  type CaServerConfig,
} from './ca/index.js';
export { DataEncryptor, AdImageDataEncryptor } from './processing/builtin/encryptor.js';
export { DataDecryptor, AdImageDataDecryptor } from './processing/builtin/decryptor.js';
export { encryptedDataT } from './processing/builtin/encrypted-data.js';
export { AdOutputFileProcessor, ImageFileWriter } from './processing/builtin/image-file-writer.js';
export { Hdf5AdImageWriter, Hdf5ImageWriter } from './processing/builtin/hdf5-writer.js';
export { BUILTIN_PROCESSORS, PVAPY_PROCESSOR_PATHS, builtinProcessor, type ProcessorClass } from './processing/builtin/registry.js';

export { DataConsumer } from './consumer/consumer.js';
export { DataCollector } from './collector/collector.js';
export { SortingCache } from './collector/sorting-cache.js';
export { MetadataChannels, parseMetadataChannels } from './runtime/metadata.js';
export { pvaUpstream, caUpstream } from './runtime/upstream.js';
export { AdSimServer } from './sim/ad-sim-server.js';
export { FrameCache } from './sim/frame-cache.js';
export { FileFrames, openFileFrames } from './sim/file-source.js';
export { FramePublisher } from './sim/publisher.js';
export { MirrorServer } from './mirror/mirror-server.js';
export { parseChannelMap } from './mirror/channel-map.js';
export { AccessPolicy, AccessConfigError, AccessDeniedError, parseAcf, formatAcf, parsePvList } from './access/index.js';
export type { Acf, PvList, ChannelRights, ClientIdentity, AccessPolicyOptions, LoadAccessOptions } from './access/index.js';

export type { PvaServerOptions, PvaServerStats } from './pva/server/server.js';
export type { Source, PVSource, PVSubscriber, RpcArgs } from './pv/source.js';
export type { PvaServerLimits } from './pva/server/server-limits.js';
export type { MonitorStats } from './pva/server/monitor-op.js';
export type { PutHandler, RpcHandler, SharedPVOptions } from './pv/shared-pv.js';
export type { PutRequest, RpcResult, PeerInfo } from './pv/source.js';
export type { DistributorSettings, DistributionMode } from './pv/distributor.js';
export type { PvaClientOptions, RequestOptions, MonitorOptions } from './pva/client/client.js';
export type { MonitorUpdate, PvaSubscriptionStats } from './pva/client/subscription.js';
export type { PVUpdate, UpdateMarks } from './pvdata/update.js';
export type { GetResult } from './pva/client/operations.js';
export type { FieldDesc, ScalarType, StructureDesc, UnionDesc, ScalarArrayDesc, Member } from './pvdata/types.js';
export type { PVValue, PVStructure, PVUnion, PVAny, PVTypedArray } from './pvdata/values.js';
export type { PVRequest, RequestInfo, FieldSelection } from './pvdata/pvrequest.js';
export type { RequestOptionValue, RequestOptionValues } from './pvdata/pvrequest-builder.js';
export type { ProcessorConfig, ProcessorLogger, MetadataQueue } from './processing/user-data-processor.js';
export type { ProcessorContext } from './processing/processor-context.js';
export type { Frame, FrameStrides, ImageGeometry, ToNtNdArrayOptions } from './processing/nd-image.js';
export type {
  CaClientOptions,
  CaGetResult,
  CaUpdate,
  CaSubscriptionStats,
  CaMonitorOptions,
  CaServerOptions,
  CaServerLimits,
  CaServerStats,
} from './ca/index.js';
export type { ConsumerOptions, ConsumerStats } from './consumer/consumer.js';
export type { CollectorOptions } from './collector/collector.js';
export type { CollectorStats, CollectorCounters, ProducerStats } from './collector/status.js';
export type { MetadataChannelSpec, MetadataStats } from './runtime/metadata.js';
export type { AdSimServerOptions, SimClientStats, SimEvent, SimSummary } from './sim/ad-sim-server.js';
export type { FrameCacheOptions, SimFrames } from './sim/frame-cache.js';
export type { FileInputOptions, FileFramesOptions } from './sim/file-source.js';
export type { PublisherOptions, PublishSummary } from './sim/publisher.js';
export type { FrameSpec, SimDatatype } from './sim/frames.js';
export type { MirrorOptions, MirrorCounters, MirrorServerOptions } from './mirror/mirror-server.js';
export type { ChannelMapEntry, MirrorProvider } from './mirror/channel-map.js';
export type {
  Upstream,
  UpstreamMonitor,
  UpstreamMonitorOptions,
  UpstreamProtocol,
  PvaUpstreamOptions,
  CaUpstreamOptions,
} from './runtime/upstream.js';

// Typed array streams (docs/streams.md) and remote objects (docs/rpc.md).
export { OutputStream, InputStream, DEFAULT_SPEC, filters, Chunker, registerTransferMode, transferModes } from './streams/index.js';
export { RingBuffer, RingIndexError } from './streams/index.js';
export { Node, NodeGroup, RemoteNodeGroup, StreamConverter, ChannelSplitter, ChunkResizer } from './streams/index.js';
export { Host, Manager, ManagedNodeGroup } from './streams/index.js';
export { registerNodeType, createNode, nodeTypes } from './streams/index.js';
export { NT_STREAM_CHUNK_ID, streamChunkT, buildStreamChunk, readStreamChunk } from './streams/index.js';
export type {
  OutputStats,
  InputStreamOptions,
  InputStats,
  SetBufferOptions,
  StreamTarget,
  StreamFilter,
  ConnectParams,
  NdChunk,
  ReaderPolicy,
  StreamDType,
  StreamSpec,
  StreamType,
  TransferMode,
  StreamSender,
  StreamReceiver,
  ReceiverOptions,
  RingBufferOptions,
  ReadOptions as RingReadOptions,
  SharedmemScope,
  NodeOptions,
  NodeStreamSpecs,
  NodeClass,
  HostOptions,
  NodeGroupInfo,
  ManagerOptions,
} from './streams/index.js';
export { RPCServer, RPCClient, isObjectProxy, RemoteCallError, ProcessSpawner, measureClockDiff, formatLogRecord } from './rpc/index.js';
export type {
  RPCServerOptions,
  RPCClientOptions,
  ObjectProxy,
  CallOptions,
  ProcessSpawnerOptions,
  LogRecord,
  LogLevel,
  ReturnType as RpcReturnType,
  SyncMode as RpcSyncMode,
  DeclaredSignatures,
} from './rpc/index.js';

// The channel server's client (docs/channel-server.md).
export { ChannelClient, ChannelWriter, ChannelReader, ChannelWriteError, ChannelServiceError } from './channels/index.js';
export type {
  ChannelClientOptions,
  ChannelMessage,
  ChannelWriterOptions,
  OpenWriterOptions,
  SubscribeOptions,
  RemoteClient,
  RemoteCallOptions,
} from './channels/index.js';
