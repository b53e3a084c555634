// `sluice/internal`: the wire layer under the public API, for tools, tests and benchmarks that
// read or write protocol bytes themselves (captures, fuzzers, codec benchmarks). No stability
// promise: these names and signatures follow the implementation and may change in any release.
// Everything an application needs is in `sluice` (src/index.ts).

// pvData wire codec: byte reader and writer, type and value encoding, changed-field BitSets.
export { ByteReader, ByteWriter, HOST_LE, UNBOUNDED_DECODE, type DecodeLimits, type WriterMark } from './pvdata/wire.js';
export { encodeType, decodeType, TypeCache, DEFAULT_TYPE_LIMITS, type TypeLimits } from './pvdata/type-codec.js';
export {
  encodeValue,
  decodeValue,
  encodePartial,
  decodePartial,
  encodeBitSet,
  decodeBitSet,
  encodeTyped,
  decodeTyped,
} from './pvdata/value-codec.js';

// pvAccess framing: headers, segmented messages, status fields.
export { Framer, type Message, type AppMessage, type ControlMessage } from './pva/framer.js';
export { MessageWriter } from './pva/message-writer.js';
export { PVA_MAGIC, PVA_VERSION, HEADER_SIZE, Flags as PvaFlags, Cmd as PvaCommand } from './pva/constants.js';
export { encodeStatus, decodeStatus, type Status } from './pva/status.js';

// Channel Access framing and DBR codec.
export { CaFramer, CaCommand, encodeMessage, readHeader, encodeDbr, decodeDbr, dbrSize } from './ca/index.js';
export type { CaHeader, CaMessage, DbrData } from './ca/index.js';

// The transport-neutral RPC core and its wire structures (the channel server builds on them).
export { RpcCore, registerTransport, requestType, replyType } from './rpc/index.js';
export type { RpcTransport, RpcConnection, CoreStats, ProxyRef } from './rpc/index.js';
export { tcpMode, inprocMode, sharedmemMode } from './streams/index.js';
