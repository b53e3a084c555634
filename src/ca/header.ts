// The CA message header: 16 bytes, big-endian (command, payload size, data type, element count,
// two 32-bit parameters). Payloads of 0xFFFF bytes or more, or counts of 0xFFFF or more, use the
// extended form: size 0xFFFF and count 0 in the standard fields, then the real size and count as
// two 32-bit words (24 bytes in all). Payloads are padded to a multiple of 8 bytes.
import { DecodeError } from '../errors.js';

export interface CaHeader {
  command: number;
  /** Payload bytes that follow the header (padding included). */
  payloadSize: number;
  dataType: number;
  count: number;
  /** cid, sid or status, depending on the command. */
  p1: number;
  /** ioid, subscription id, access rights or status, depending on the command. */
  p2: number;
}

/** A header and its payload (a view: copy what must outlive the handler). */
export interface CaMessage {
  header: CaHeader;
  payload: Uint8Array;
}

export const HEADER_SIZE = 16;
export const EXTENDED_HEADER_SIZE = 24;
const LARGE = 0xffff;

/** Rounds up to a multiple of 8 (CA payloads are 8-byte aligned). */
export function pad8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

export function isExtended(h: Pick<CaHeader, 'payloadSize' | 'count'>): boolean {
  return h.payloadSize >= LARGE || h.count >= LARGE;
}

/** Writes `h` at `at` in the standard or extended form; returns the bytes written. */
export function writeHeader(dv: DataView, at: number, h: CaHeader): number {
  const ext = isExtended(h);
  dv.setUint16(at, h.command);
  dv.setUint16(at + 2, ext ? LARGE : h.payloadSize);
  dv.setUint16(at + 4, h.dataType);
  dv.setUint16(at + 6, ext ? 0 : h.count);
  dv.setUint32(at + 8, h.p1 >>> 0);
  dv.setUint32(at + 12, h.p2 >>> 0);
  if (!ext) return HEADER_SIZE;
  dv.setUint32(at + 16, h.payloadSize);
  dv.setUint32(at + 20, h.count);
  return EXTENDED_HEADER_SIZE;
}

/**
 * One message: header plus payload padded to 8 bytes (the payload size field is set from the
 * payload given, whatever `h.payloadSize` says).
 */
export function encodeMessage(h: Omit<CaHeader, 'payloadSize'>, payload?: Uint8Array): Uint8Array {
  const body = payload ? pad8(payload.length) : 0;
  const full: CaHeader = { ...h, payloadSize: body };
  const hs = isExtended(full) ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
  const out = new Uint8Array(hs + body);
  writeHeader(new DataView(out.buffer), 0, full);
  if (payload) out.set(payload, hs);
  return out;
}

/** Size of the header starting at `at`: 16, 24, or 0 when fewer than 16 bytes are there. */
export function headerLength(bytes: Uint8Array, at = 0): number {
  if (bytes.length - at < HEADER_SIZE) return 0;
  const size = (bytes[at + 2] as number) * 256 + (bytes[at + 3] as number);
  const count = (bytes[at + 6] as number) * 256 + (bytes[at + 7] as number);
  return size === LARGE && count === 0 ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
}

/** Reads a complete header (call headerLength first to know how many bytes it needs). */
export function readHeader(bytes: Uint8Array, at = 0): CaHeader {
  const len = headerLength(bytes, at);
  if (len === 0 || bytes.length - at < len) throw new DecodeError(`truncated CA header (${bytes.length - at} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, len);
  const h: CaHeader = {
    command: dv.getUint16(0),
    payloadSize: dv.getUint16(2),
    dataType: dv.getUint16(4),
    count: dv.getUint16(6),
    p1: dv.getUint32(8),
    p2: dv.getUint32(12),
  };
  if (len === EXTENDED_HEADER_SIZE) {
    h.payloadSize = dv.getUint32(16);
    h.count = dv.getUint32(20);
  }
  return h;
}

/**
 * Splits a datagram into messages (UDP carries several per datagram). A message whose payload
 * runs past the end of the datagram is an error: the rest of the datagram cannot be trusted.
 */
export function splitDatagram(bytes: Uint8Array): CaMessage[] {
  const out: CaMessage[] = [];
  let at = 0;
  while (at < bytes.length) {
    const len = headerLength(bytes, at);
    if (len === 0 || bytes.length - at < len) throw new DecodeError(`datagram ends inside a CA header at byte ${at}`);
    const header = readHeader(bytes, at);
    const end = at + len + header.payloadSize;
    if (end > bytes.length) {
      throw new DecodeError(
        `CA message at byte ${at} claims ${header.payloadSize} payload bytes; the datagram has ${bytes.length - at - len}`,
      );
    }
    out.push({ header, payload: bytes.subarray(at + len, end) });
    at = end;
  }
  return out;
}
