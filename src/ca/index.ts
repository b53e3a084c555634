// Channel Access: our own client and server (CA protocol 4.13), values as pvData normative types.
export { CaClient, type CaClientOptions, type CaGetResult } from './client.js';
export { CaSubscription, type CaUpdate, type CaSubscriptionStats, type CaMonitorOptions } from './subscription.js';
export { CaChannel, type ChannelState } from './channel.js';
export { CaServer, type CaServerOptions, type CaServerLimits, type CaServerStats } from './server.js';
export { caClientConfigFromEnv, caServerConfigFromEnv, type CaClientConfig, type CaServerConfig } from './config.js';
export {
  Cmd as CaCommand,
  DbrBase,
  DbrClass,
  Eca,
  EventMask,
  EPICS_EPOCH_OFFSET,
  CA_SERVER_PORT,
  CA_MINOR_VERSION,
  dbrCode,
  dbrName,
  ecaMessage,
} from './constants.js';
export { decodeDbr, encodeDbr, dbrSize, type DbrData, type DbrMeta, type DbrValues, type DbrLimits } from './dbr.js';
export { encodeMessage, readHeader, splitDatagram, pad8, type CaHeader, type CaMessage } from './header.js';
export { CaFramer } from './framer.js';
