// Every error Sluice throws carries a stable `code` (listed in docs/errors.md, checked by a test).
// Messages name the offending value; `cause` is passed on when one error wraps another.

export type ErrorCode =
  | 'ERR_DECODE' // malformed bytes: truncated, bad type code, size larger than the data
  | 'ERR_ENCODE' // a value that does not fit its type
  | 'ERR_PROTOCOL' // a peer broke the pvAccess protocol (bad magic, unexpected command)
  | 'ERR_MESSAGE_TOO_LARGE' // a header claimed more bytes than the configured limit
  | 'ERR_LIMIT' // nesting depth, cache size or another configured bound exceeded
  | 'ERR_INVALID_ARGUMENT' // a caller passed something unusable
  | 'ERR_PVREQUEST' // a pvRequest text that does not parse
  | 'ERR_CHANNEL_NOT_FOUND' // no server has the channel
  | 'ERR_CHANNEL_CLOSED' // the channel or its PV went away
  | 'ERR_CONNECTION_CLOSED' // the TCP connection ended
  | 'ERR_TIMEOUT' // an operation did not complete in time
  | 'ERR_REMOTE' // the peer answered with an error status
  | 'ERR_NOT_SUPPORTED' // the PV does not support the operation (e.g. put on a read-only PV)
  | 'ERR_PROCESSOR' // a user processor failed to load or run
  | 'ERR_FILE' // a data file that is missing, unreadable, malformed or inconsistent with its header
  | 'ERR_CODEC' // a compressed NTNDArray payload that cannot be decoded (unknown codec, lying sizes, corrupt data)
  | 'ERR_ACCESS_CONFIG' // an access security file (ACF) or PV list that does not parse
  | 'ERR_ACCESS_DENIED' // the server's access rules refuse the request
  | 'ERR_EXISTS' // a name that must be unique is taken (a channel, a registered client)
  | 'ERR_OVERFLOW' // a put into a full reader buffer whose policy is raise
  | 'ERR_USAGE'; // bad command-line usage

export class SluiceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = 'SluiceError';
  }
}

export class DecodeError extends SluiceError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DECODE', message, options);
    this.name = 'DecodeError';
  }
}

export class EncodeError extends SluiceError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_ENCODE', message, options);
    this.name = 'EncodeError';
  }
}

export class ProtocolError extends SluiceError {
  constructor(code: 'ERR_PROTOCOL' | 'ERR_MESSAGE_TOO_LARGE' | 'ERR_LIMIT', message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}

export class InvalidArgumentError extends SluiceError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** A data file (a frame source, a sidecar) that cannot be used; the message names the file. */
export class FileError extends SluiceError {
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super('ERR_FILE', `${path}: ${message}`, options);
    this.name = 'FileError';
    this.path = path;
  }
}

export class TimeoutError extends SluiceError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TIMEOUT', message, options);
    this.name = 'TimeoutError';
  }
}

/** An error status returned by the remote peer (server or client). */
export class RemoteError extends SluiceError {
  readonly severity: number;
  readonly remoteStack: string;
  constructor(message: string, severity = 2, remoteStack = '') {
    super('ERR_REMOTE', message);
    this.name = 'RemoteError';
    this.severity = severity;
    this.remoteStack = remoteStack;
  }
}

export class ConnectionError extends SluiceError {
  constructor(code: 'ERR_CONNECTION_CLOSED' | 'ERR_CHANNEL_CLOSED' | 'ERR_CHANNEL_NOT_FOUND', message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'ConnectionError';
  }
}

/** All codes, so docs and tests can check that every code is documented. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'ERR_DECODE',
  'ERR_ENCODE',
  'ERR_PROTOCOL',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_LIMIT',
  'ERR_INVALID_ARGUMENT',
  'ERR_PVREQUEST',
  'ERR_CHANNEL_NOT_FOUND',
  'ERR_CHANNEL_CLOSED',
  'ERR_CONNECTION_CLOSED',
  'ERR_TIMEOUT',
  'ERR_REMOTE',
  'ERR_NOT_SUPPORTED',
  'ERR_PROCESSOR',
  'ERR_FILE',
  'ERR_CODEC',
  'ERR_ACCESS_CONFIG',
  'ERR_ACCESS_DENIED',
  'ERR_EXISTS',
  'ERR_OVERFLOW',
  'ERR_USAGE',
];
