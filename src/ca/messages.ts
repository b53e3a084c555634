// Builders for the CA messages both sides send, and readers for the small payloads (names,
// search replies, EVENT_ADD masks). Which header field means what depends on the command; the
// builders name them so callers need not remember.
import { DecodeError } from '../errors.js';
import { ADDRESS_OF_SENDER, CA_MINOR_VERSION, Cmd, SEQUENCE_NO_VALID, SearchReply } from './constants.js';
import { EXTENDED_HEADER_SIZE, HEADER_SIZE, encodeMessage, isExtended, writeHeader, type CaHeader } from './header.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8');

/** A string payload: UTF-8 and a NUL (encodeMessage pads it to 8 bytes). */
export function stringPayload(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** The string of a payload, up to its first NUL. */
export function readString(payload: Uint8Array): string {
  const nul = payload.indexOf(0);
  return dec.decode(nul < 0 ? payload : payload.subarray(0, nul));
}

const m = (command: number, dataType: number, count: number, p1: number, p2: number, payload?: Uint8Array): Uint8Array =>
  encodeMessage({ command, dataType, count, p1, p2 }, payload);

// ---- both directions ----------------------------------------------------------------------

/** VERSION on TCP: priority and our minor version. */
export const version = (priority = 0): Uint8Array => m(Cmd.VERSION, priority, CA_MINOR_VERSION, 0, 0);
/** VERSION at the head of a search datagram (client) or its reply (server), with a sequence number. */
export const udpVersion = (sequence: number): Uint8Array => m(Cmd.VERSION, SEQUENCE_NO_VALID, CA_MINOR_VERSION, sequence, 0);
export const echo = (): Uint8Array => m(Cmd.ECHO, 0, 0, 0, 0);

// ---- client to server ---------------------------------------------------------------------

/** SEARCH for a name; the search id is echoed in the reply (we use the channel's cid). */
export const search = (name: string, id: number, reply: number = SearchReply.DONT_REPLY): Uint8Array =>
  m(Cmd.SEARCH, reply, CA_MINOR_VERSION, id, id, stringPayload(name));
export const clientName = (user: string): Uint8Array => m(Cmd.CLIENT_NAME, 0, 0, 0, 0, stringPayload(user));
export const hostName = (host: string): Uint8Array => m(Cmd.HOST_NAME, 0, 0, 0, 0, stringPayload(host));
/** CREATE_CHAN: the available field carries the client's minor version. */
export const createChan = (cid: number, name: string): Uint8Array => m(Cmd.CREATE_CHAN, 0, 0, cid, CA_MINOR_VERSION, stringPayload(name));
export const readNotify = (sid: number, ioid: number, dataType: number, count: number): Uint8Array =>
  m(Cmd.READ_NOTIFY, dataType, count, sid, ioid);
export const writeNotify = (sid: number, ioid: number, dataType: number, count: number, payload: Uint8Array): Uint8Array =>
  m(Cmd.WRITE_NOTIFY, dataType, count, sid, ioid, payload);
export const clearChannel = (sid: number, cid: number): Uint8Array => m(Cmd.CLEAR_CHANNEL, 0, 0, sid, cid);
export const eventCancel = (sid: number, subid: number, dataType: number, count: number): Uint8Array =>
  m(Cmd.EVENT_CANCEL, dataType, count, sid, subid);

/** EVENT_ADD: dead bands and period (unused, zero), then the event mask. */
export function eventAdd(sid: number, subid: number, dataType: number, count: number, mask: number): Uint8Array {
  const p = new Uint8Array(16);
  new DataView(p.buffer).setUint16(12, mask);
  return m(Cmd.EVENT_ADD, dataType, count, sid, subid, p);
}

/** The event mask of an EVENT_ADD payload. */
export function eventMaskOf(payload: Uint8Array): number {
  if (payload.length < 14) throw new DecodeError(`EVENT_ADD payload of ${payload.length} bytes; at least 14 expected`);
  return (payload[12] as number) * 256 + (payload[13] as number);
}

// ---- server to client ---------------------------------------------------------------------

/** SEARCH reply: the data type field carries the TCP port, p1 the server address. */
export function searchReply(tcpPort: number, ipv4: number, searchId: number): Uint8Array {
  const p = new Uint8Array(2);
  new DataView(p.buffer).setUint16(0, CA_MINOR_VERSION);
  return m(Cmd.SEARCH, tcpPort, 0, ipv4, searchId, p);
}

export interface SearchAnswer {
  port: number;
  /** Server IPv4 address, or null when the reply means "the address this came from". */
  host: string | null;
  searchId: number;
  minorVersion: number;
}

export function readSearchReply(h: CaHeader, payload: Uint8Array): SearchAnswer {
  const minorVersion = payload.length >= 2 ? (payload[0] as number) * 256 + (payload[1] as number) : 0;
  const ip = h.p1 >>> 0;
  const host = ip === ADDRESS_OF_SENDER || ip === 0 ? null : [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
  return { port: h.dataType, host, searchId: h.p2, minorVersion };
}

/** An IPv4 address as the 32-bit number search replies carry (ADDRESS_OF_SENDER when not IPv4). */
export function ipv4Number(host: string): number {
  const parts = host.split('.').map(Number);
  if (parts.length !== 4 || parts.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return ADDRESS_OF_SENDER;
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

export const notFound = (searchId: number): Uint8Array => m(Cmd.NOT_FOUND, SearchReply.DO_REPLY, CA_MINOR_VERSION, searchId, searchId);
export const accessRights = (cid: number, rights: number): Uint8Array => m(Cmd.ACCESS_RIGHTS, 0, 0, cid, rights);
export const createChanReply = (cid: number, sid: number, dataType: number, count: number): Uint8Array =>
  m(Cmd.CREATE_CHAN, dataType, count, cid, sid);
export const createChanFail = (cid: number): Uint8Array => m(Cmd.CREATE_CH_FAIL, 0, 0, cid, 0);
export const serverDisconn = (cid: number): Uint8Array => m(Cmd.SERVER_DISCONN, 0, 0, cid, 0);
/** Replies to READ_NOTIFY and EVENT_ADD: p1 is the status, p2 the request's ioid/subscription id. */
export const dataReply = (command: number, status: number, id: number, dataType: number, count: number, payload?: Uint8Array): Uint8Array =>
  m(command, dataType, count, status, id, payload);
export const writeNotifyReply = (status: number, ioid: number, dataType: number, count: number): Uint8Array =>
  m(Cmd.WRITE_NOTIFY, dataType, count, status, ioid);
export const clearChannelReply = (sid: number, cid: number): Uint8Array => m(Cmd.CLEAR_CHANNEL, 0, 0, sid, cid);

/** ERROR: the failed request's header (16 or 24 bytes), then a message; p1 the client's cid, p2 the status. */
export function errorMessage(cid: number, status: number, request: CaHeader, text: string): Uint8Array {
  const t = stringPayload(text);
  const hs = isExtended(request) ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
  const p = new Uint8Array(hs + t.length);
  writeHeader(new DataView(p.buffer), 0, request);
  p.set(t, hs);
  return m(Cmd.ERROR, 0, 0, cid, status, p);
}

/** The failed request's header and the text of an ERROR message. */
export function readError(payload: Uint8Array): { request: Omit<CaHeader, 'payloadSize'>; text: string } {
  if (payload.length < 16) throw new DecodeError(`ERROR payload of ${payload.length} bytes; at least 16 expected`);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
  let at = 16;
  const request = {
    command: dv.getUint16(0),
    dataType: dv.getUint16(4),
    count: dv.getUint16(6),
    p1: dv.getUint32(8),
    p2: dv.getUint32(12),
  };
  if (dv.getUint16(2) === 0xffff && request.count === 0 && payload.length >= 24) {
    request.count = dv.getUint32(20);
    at = 24;
  }
  return { request, text: readString(payload.subarray(at)) };
}
