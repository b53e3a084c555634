// The channel server's client side (stream_service's Stream_Client): see docs/channel-server.md.
export { ChannelClient, type ChannelClientOptions, type CreateOptions, type OpenWriterOptions } from './client.js';
export { ChannelWriter, ChannelWriteError, type ChannelWriterOptions, type ChannelWriterStats, type WhenInactive } from './writer.js';
export { ChannelReader, type ChannelMessage, type ChannelReaderStats, type SubscribeOptions, type WriterMark } from './reader.js';
export { type RemoteClient, type RemoteCallOptions, DEFAULT_REMOTE_TIMEOUT_MS } from './remote.js';
export { ChannelServiceError } from './service-client.js';
export * from './protocol.js';
