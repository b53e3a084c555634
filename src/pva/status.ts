// Status (Protocol-Encoding "Status"): type byte + message + call tree; plain OK is the byte 0xFF.
import { DecodeError, RemoteError } from '../errors.js';
import type { ByteReader, ByteWriter } from '../pvdata/wire.js';

export interface Status {
  /** 0 OK, 1 warning, 2 error, 3 fatal. */
  type: number;
  message: string;
  stack: string;
}

export const STATUS_OK: Status = Object.freeze({ type: 0, message: '', stack: '' });

export function errorStatus(message: string, stack = ''): Status {
  return { type: 2, message, stack };
}

export function encodeStatus(w: ByteWriter, s: Status): void {
  if (s.type === 0 && !s.message && !s.stack) {
    w.u8(0xff);
    return;
  }
  w.u8(s.type);
  w.string(s.message);
  w.string(s.stack);
}

export function decodeStatus(r: ByteReader): Status {
  const type = r.u8();
  if (type === 0xff) return STATUS_OK;
  if (type > 3) throw new DecodeError(`status type ${type} is not 0..3`);
  return { type, message: r.string(), stack: r.string() };
}

export function isSuccess(s: Status): boolean {
  return s.type <= 1;
}

/** Throw a RemoteError for an error or fatal status. */
export function checkStatus(s: Status, context: string): void {
  if (!isSuccess(s)) throw new RemoteError(`${context}: ${s.message || 'error status without text'}`, s.type, s.stack);
}
