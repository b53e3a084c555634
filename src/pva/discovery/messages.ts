// Payloads of the UDP discovery messages (SEARCH, SEARCH_RESPONSE, BEACON, ORIGIN_TAG): pure
// encode/decode, no sockets. One datagram may hold several messages back to back, each in the
// byte order of its own header (PVXS sends UDP big-endian, pvAccessCPP little-endian on x86).
import { isIP, isIPv6 } from 'node:net';
import { DecodeError, InvalidArgumentError, ProtocolError, SluiceError } from '../../errors.js';
import { ByteReader, ByteWriter } from '../../pvdata/wire.js';
import { Cmd, Flags, HEADER_SIZE, PVA_MAGIC } from '../constants.js';
import { MessageWriter } from '../message-writer.js';

export const SearchFlags = {
  /** Reply even when no name is found (pvlist's server discovery, diagnostics). */
  MUST_REPLY: 0x01,
  /** The client sent this datagram to a unicast address; the receiver fans it out locally. */
  UNICAST: 0x80,
} as const;

export const GUID_SIZE = 12;
/** PVXS keeps search datagrams below this so that a usual 1500-byte MTU never fragments them. */
export const MAX_SEARCH_DATAGRAM = 1400;

/** Ids (sequence and channel instance ids) are carried as unsigned 32-bit numbers. */
export interface SearchChannel {
  id: number;
  name: string;
}

export interface SearchRequest {
  sequenceId: number;
  /** SearchFlags bits. */
  flags: number;
  /** Where to send the reply; an "any" address (see isAnyAddress) means the datagram's source. */
  replyAddress: string;
  replyPort: number;
  protocols: string[];
  channels: SearchChannel[];
}

export interface SearchResponse {
  guid: Uint8Array;
  sequenceId: number;
  /** Server TCP address; "any" means the datagram's source address. */
  serverAddress: string;
  serverPort: number;
  protocol: string;
  found: boolean;
  ids: number[];
}

export interface Beacon {
  guid: Uint8Array;
  flags: number;
  /** uint8, wraps. */
  sequence: number;
  /** uint16; a change tells clients that the server's channel set changed. */
  changeCount: number;
  serverAddress: string;
  serverPort: number;
  protocol: string;
  /** Raw bytes of a typed server status (type description + value), or null for none (0xFF). */
  status: Uint8Array | null;
}

export interface OriginTag {
  /** The address on which the forwarding server received the original unicast search. */
  address: string;
}

export interface MessageHeader {
  version: number;
  flags: number;
  command: number;
  littleEndian: boolean;
}

export type DiscoveryMessage =
  | { kind: 'search'; header: MessageHeader; body: SearchRequest }
  | { kind: 'searchResponse'; header: MessageHeader; body: SearchResponse }
  | { kind: 'beacon'; header: MessageHeader; body: Beacon }
  | { kind: 'originTag'; header: MessageHeader; body: OriginTag }
  | { kind: 'other'; header: MessageHeader; payload: Uint8Array };

// ---- addresses: 16 bytes on the wire, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d) ----

/** True for the addresses that mean "use the datagram's source": 0.0.0.0, :: and ''. */
export function isAnyAddress(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

/**
 * 16-byte wire form. IPv4 (including 0.0.0.0) becomes IPv4-mapped, as both PVXS and pvAccessCPP
 * write it; '' and '::' give all zeros (what PVXS clients put in SEARCH).
 */
export function encodeAddress(host: string): Uint8Array {
  const out = new Uint8Array(16);
  if (host === '') return out;
  if (isIP(host) === 4) {
    out[10] = out[11] = 0xff;
    host.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  let s = host.replace(/%.*$/, ''); // zone ids have no wire form
  if (!isIPv6(s)) throw new InvalidArgumentError(`'${host}' is not a numeric IP address`);
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number];
    s = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** Inverse of encodeAddress: dotted IPv4 for mapped addresses, '::' for all zeros, else RFC 5952 text. */
export function decodeAddress(b: Uint8Array): string {
  if (b.length !== 16) throw new DecodeError(`an address has 16 bytes, not ${b.length}`);
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] as number) << 8) | (b[i + 1] as number));
  let best = -1;
  let bestLen = 1; // only runs of two or more zero groups are compressed
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function guidToHex(guid: Uint8Array): string {
  return Buffer.from(guid.buffer, guid.byteOffset, guid.byteLength).toString('hex');
}

// ---- payload codecs ----

export function encodeSearch(w: ByteWriter, s: SearchRequest): void {
  w.u32(s.sequenceId);
  w.u8(s.flags);
  w.u8(0);
  w.u16(0); // reserved
  w.bytes(encodeAddress(s.replyAddress));
  w.u16(s.replyPort);
  w.size(s.protocols.length);
  for (const p of s.protocols) w.string(p);
  if (s.channels.length > 0xffff) throw new InvalidArgumentError(`${s.channels.length} names in one SEARCH`);
  w.u16(s.channels.length); // uint16, not Size
  for (const c of s.channels) {
    w.u32(c.id);
    w.string(c.name);
  }
}

export function decodeSearch(r: ByteReader): SearchRequest {
  const sequenceId = r.u32();
  const flags = r.u8();
  r.skip(3);
  const replyAddress = decodeAddress(r.bytes(16));
  const replyPort = r.u16();
  const protocols: string[] = [];
  for (let n = r.count('protocol'); n > 0; n--) protocols.push(r.string());
  const n = r.u16();
  r.need(n * 5, 'search names'); // id + at least the name's Size byte: a lying count fails here
  const channels: SearchChannel[] = [];
  for (let i = 0; i < n; i++) channels.push({ id: r.u32(), name: r.string() });
  return { sequenceId, flags, replyAddress, replyPort, protocols, channels };
}

export function encodeSearchResponse(w: ByteWriter, m: SearchResponse): void {
  w.bytes(checkGuid(m.guid));
  w.u32(m.sequenceId);
  w.bytes(encodeAddress(m.serverAddress));
  w.u16(m.serverPort);
  w.string(m.protocol);
  w.bool(m.found);
  w.u16(m.ids.length);
  for (const id of m.ids) w.u32(id);
}

export function decodeSearchResponse(r: ByteReader): SearchResponse {
  const guid = Uint8Array.from(r.bytes(GUID_SIZE));
  const sequenceId = r.u32();
  const serverAddress = decodeAddress(r.bytes(16));
  const serverPort = r.u16();
  const protocol = r.string();
  const found = r.bool();
  const n = r.u16();
  r.need(n * 4, 'search response ids');
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(r.u32());
  return { guid, sequenceId, serverAddress, serverPort, protocol, found, ids };
}

export function encodeBeacon(w: ByteWriter, b: Beacon): void {
  w.bytes(checkGuid(b.guid));
  w.u8(b.flags);
  w.u8(b.sequence & 0xff);
  w.u16(b.changeCount & 0xffff);
  w.bytes(encodeAddress(b.serverAddress));
  w.u16(b.serverPort);
  w.string(b.protocol);
  if (b.status) w.bytes(b.status);
  else w.u8(0xff);
}

export function decodeBeacon(r: ByteReader): Beacon {
  const guid = Uint8Array.from(r.bytes(GUID_SIZE));
  const flags = r.u8();
  const sequence = r.u8();
  const changeCount = r.u16();
  const serverAddress = decodeAddress(r.bytes(16));
  const serverPort = r.u16();
  const protocol = r.string();
  // The typed status is bounded by the payload size: keep its bytes, never interpret them here.
  let status: Uint8Array | null = null;
  if (r.remaining > 0) {
    const rest = Uint8Array.from(r.bytes(r.remaining));
    if (rest[0] !== 0xff) status = rest;
  }
  return { guid, flags, sequence, changeCount, serverAddress, serverPort, protocol, status };
}

function checkGuid(g: Uint8Array): Uint8Array {
  if (g.length !== GUID_SIZE) throw new InvalidArgumentError(`a GUID has ${GUID_SIZE} bytes, not ${g.length}`);
  return g;
}

// ---- whole datagrams ----

interface BuildOptions {
  /** Byte order of the message (default little-endian). */
  littleEndian?: boolean;
}

function build(parts: { cmd: number; le: boolean; server: boolean; body: (w: ByteWriter) => void }[]): Buffer {
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    const w = new ByteWriter(p.le, 2048);
    const mw = new MessageWriter(w, p.server);
    p.body(mw.begin(p.cmd));
    mw.end();
    chunks.push(...w.take());
  }
  return Buffer.concat(chunks);
}

export function searchMessage(s: SearchRequest, o: BuildOptions = {}): Buffer {
  return build([{ cmd: Cmd.SEARCH, le: o.littleEndian ?? true, server: false, body: (w) => encodeSearch(w, s) }]);
}

export function searchResponseMessage(m: SearchResponse, o: BuildOptions = {}): Buffer {
  const body = (w: ByteWriter) => encodeSearchResponse(w, m);
  return build([{ cmd: Cmd.SEARCH_RESPONSE, le: o.littleEndian ?? true, server: true, body }]);
}

export function beaconMessage(b: Beacon, o: BuildOptions = {}): Buffer {
  return build([{ cmd: Cmd.BEACON, le: o.littleEndian ?? true, server: true, body: (w) => encodeBeacon(w, b) }]);
}

export function originTagMessage(address: string, o: BuildOptions = {}): Buffer {
  const body = (w: ByteWriter) => w.bytes(encodeAddress(address));
  return build([{ cmd: Cmd.ORIGIN_TAG, le: o.littleEndian ?? true, server: false, body }]);
}

/**
 * The datagram a server multicasts to fan a unicast SEARCH out to the other servers on its
 * host: ORIGIN_TAG (big-endian, as PVXS writes it) + the SEARCH in its original byte order,
 * with the unicast flag cleared and the reply address made explicit (the receivers cannot see
 * the client's address any more).
 */
export function forwardedSearchMessage(
  originAddress: string,
  s: SearchRequest,
  replyTo: { host: string; port: number },
  searchLittleEndian: boolean,
): Buffer {
  const fwd: SearchRequest = { ...s, flags: s.flags & ~SearchFlags.UNICAST, replyAddress: replyTo.host, replyPort: replyTo.port };
  return build([
    { cmd: Cmd.ORIGIN_TAG, le: false, server: false, body: (w) => w.bytes(encodeAddress(originAddress)) },
    { cmd: Cmd.SEARCH, le: searchLittleEndian, server: false, body: (w) => encodeSearch(w, fwd) },
  ]);
}

/** Bytes a SEARCH adds per name, to batch names under MAX_SEARCH_DATAGRAM. */
export function searchEntrySize(name: string): number {
  const n = Buffer.byteLength(name, 'utf8');
  return 4 + (n < 254 ? 1 : 5) + n;
}

/** Size of a SEARCH datagram carrying no names (header + fixed fields + ["tcp"] + count). */
export const SEARCH_OVERHEAD = HEADER_SIZE + 4 + 4 + 16 + 2 + 1 + 4 + 2;

/**
 * Every message of one datagram. Throws DecodeError (truncated, lying counts or sizes) or
 * ProtocolError (bad magic, version 0, segmented): the caller drops the whole datagram.
 */
export function parseDatagram(data: Uint8Array): DiscoveryMessage[] {
  const out: DiscoveryMessage[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < HEADER_SIZE) throw new DecodeError(`${data.length - at} stray bytes after the last message`);
    const magic = data[at] as number;
    const version = data[at + 1] as number;
    const flags = data[at + 2] as number;
    const command = data[at + 3] as number;
    if (magic !== PVA_MAGIC) throw new ProtocolError('ERR_PROTOCOL', `bad magic 0x${magic.toString(16)}`);
    if (version === 0) throw new ProtocolError('ERR_PROTOCOL', 'pvAccess version 0 is incompatible');
    if (flags & Flags.SEGMENT_MASK) throw new ProtocolError('ERR_PROTOCOL', 'segmented message in a datagram');
    const littleEndian = (flags & Flags.BIG_ENDIAN) === 0;
    const size = new DataView(data.buffer, data.byteOffset + at + 4, 4).getUint32(0, littleEndian);
    at += HEADER_SIZE;
    if (flags & Flags.CONTROL) continue; // the size field is the value; no payload follows
    if (size > data.length - at) throw new DecodeError(`message claims ${size} bytes, ${data.length - at} left`);
    const payload = data.subarray(at, at + size);
    at += size;
    const header: MessageHeader = { version, flags, command, littleEndian };
    const r = new ByteReader(payload, littleEndian);
    // Bytes beyond what we decode are ignored: later protocol versions may append fields.
    switch (command) {
      case Cmd.SEARCH:
        out.push({ kind: 'search', header, body: decodeSearch(r) });
        break;
      case Cmd.SEARCH_RESPONSE:
        out.push({ kind: 'searchResponse', header, body: decodeSearchResponse(r) });
        break;
      case Cmd.BEACON:
        out.push({ kind: 'beacon', header, body: decodeBeacon(r) });
        break;
      case Cmd.ORIGIN_TAG:
        out.push({ kind: 'originTag', header, body: { address: decodeAddress(r.bytes(16)) } });
        break;
      default:
        out.push({ kind: 'other', header, payload });
    }
  }
  return out;
}

export type ParseResult = { ok: true; messages: DiscoveryMessage[] } | { ok: false; error: SluiceError };

/** parseDatagram that never throws: whatever arrives from the network becomes a result. */
export function safeParseDatagram(data: Uint8Array): ParseResult {
  try {
    return { ok: true, messages: parseDatagram(data) };
  } catch (e) {
    const error = e instanceof SluiceError ? e : new DecodeError(`undecodable datagram: ${String(e)}`, { cause: e });
    return { ok: false, error };
  }
}
