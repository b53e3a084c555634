// A small reader for classic libpcap files (not pcapng): walks the link layer (Ethernet, Linux
// cooked v1/v2, BSD loopback, raw IP), IPv4/IPv6, and returns UDP datagrams plus TCP connections
// with each direction's payload reassembled in sequence order. Retransmitted or overlapping
// segments are deduplicated; a hole in the sequence space is an error (captures here are
// loopback and lossless, so a hole means the reader or the file is wrong).
import { readFileSync } from 'node:fs';

export interface Endpoint {
  host: string;
  port: number;
}

export interface UdpDatagram {
  /** Index of the packet in the file (0-based), giving the order of all traffic. */
  index: number;
  /** Seconds since the epoch, with fractions. */
  time: number;
  src: Endpoint;
  dst: Endpoint;
  payload: Uint8Array;
}

/** One TCP segment with payload, as captured (before reassembly). */
export interface TcpSegment {
  index: number;
  time: number;
  /** True when sent by the connection's initiator (the client). */
  fromClient: boolean;
  seq: number;
  payload: Uint8Array;
}

/** Bytes of one direction as they became deliverable, in capture order (duplicates removed). */
export interface FlowChunk {
  index: number;
  time: number;
  fromClient: boolean;
  data: Uint8Array;
}

export interface TcpConnection {
  /** The side that sent the first SYN, else the sender of the first packet seen. */
  client: Endpoint;
  server: Endpoint;
  /** Client → server bytes, reassembled. */
  clientData: Uint8Array;
  /** Server → client bytes, reassembled. */
  serverData: Uint8Array;
  /** Segments with payload in capture order (retransmissions included). */
  segments: TcpSegment[];
  /**
   * Both directions interleaved as captured: what each side had received at each point. Feeding
   * these in order reproduces the conversation's timing (e.g. how many updates preceded an ack).
   */
  flow: FlowChunk[];
  /** Segments dropped or trimmed as duplicates during reassembly. */
  duplicates: number;
  /** Index of the first packet of this connection. */
  firstIndex: number;
}

export interface Capture {
  linkType: number;
  snapLength: number;
  packetCount: number;
  udp: UdpDatagram[];
  tcp: TcpConnection[];
}

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

interface RawPacket {
  index: number;
  time: number;
  data: Uint8Array;
}

/** Packets of a classic pcap file (either byte order, micro- or nanosecond timestamps). */
export function readPcapPackets(buf: Uint8Array): { linkType: number; snapLength: number; packets: RawPacket[] } {
  if (buf.length < 24) throw new Error(`pcap file too short (${buf.length} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magicLE = dv.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  switch (magicLE) {
    case 0xa1b2c3d4:
      [le, nano] = [true, false];
      break;
    case 0xa1b23c4d:
      [le, nano] = [true, true];
      break;
    case 0xd4c3b2a1:
      [le, nano] = [false, false];
      break;
    case 0x4d3cb2a1:
      [le, nano] = [false, true];
      break;
    case 0x0a0d0d0a:
      throw new Error('pcapng files are not supported; convert with `editcap -F pcap`');
    default:
      throw new Error(`not a pcap file (magic 0x${magicLE.toString(16)})`);
  }
  const snapLength = dv.getUint32(16, le);
  const linkType = dv.getUint32(20, le) & 0x0fffffff; // upper bits: FCS flags
  const packets: RawPacket[] = [];
  let pos = 24;
  while (pos < buf.length) {
    if (pos + 16 > buf.length) throw new Error(`truncated packet header at offset ${pos}`);
    const sec = dv.getUint32(pos, le);
    const frac = dv.getUint32(pos + 4, le);
    const incl = dv.getUint32(pos + 8, le);
    const orig = dv.getUint32(pos + 12, le);
    pos += 16;
    if (pos + incl > buf.length) throw new Error(`packet ${packets.length} runs past the end of the file`);
    if (incl < orig) throw new Error(`packet ${packets.length} was cut by the snap length (${incl} of ${orig} bytes)`);
    packets.push({ index: packets.length, time: sec + frac / (nano ? 1e9 : 1e6), data: buf.subarray(pos, pos + incl) });
    pos += incl;
  }
  return { linkType, snapLength, packets };
}

/** The network-layer packet and its version (4 or 6), or null for other protocols (ARP…). */
function networkLayer(linkType: number, d: Uint8Array): { ip: Uint8Array; version: number } | null {
  const fromEtherType = (type: number, at: number): { ip: Uint8Array; version: number } | null => {
    if (type === 0x0800) return { ip: d.subarray(at), version: 4 };
    if (type === 0x86dd) return { ip: d.subarray(at), version: 6 };
    return null;
  };
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      let at = 12;
      let type = (d[at]! << 8) | d[at + 1]!;
      while (type === 0x8100 || type === 0x88a8) {
        at += 4; // VLAN tag
        type = (d[at]! << 8) | d[at + 1]!;
      }
      return fromEtherType(type, at + 2);
    }
    case LINKTYPE.LINUX_SLL:
      return fromEtherType((d[14]! << 8) | d[15]!, 16);
    case LINKTYPE.LINUX_SLL2:
      return fromEtherType((d[0]! << 8) | d[1]!, 20);
    case LINKTYPE.NULL: {
      // Address family in the capturing host's byte order.
      const famLE = d[0]! | (d[1]! << 8);
      const famBE = (d[2]! << 8) | d[3]!;
      const fam = famLE !== 0 ? famLE : famBE;
      if (fam === 2) return { ip: d.subarray(4), version: 4 };
      if (fam === 24 || fam === 28 || fam === 30 || fam === 10) return { ip: d.subarray(4), version: 6 };
      return null;
    }
    case LINKTYPE.RAW:
    case 12: // LINKTYPE_RAW on OpenBSD
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6: {
      const v = d[0]! >> 4;
      return v === 4 || v === 6 ? { ip: d, version: v } : null;
    }
    default:
      throw new Error(`unsupported pcap link type ${linkType}`);
  }
}

interface Transport {
  proto: number;
  src: string;
  dst: string;
  body: Uint8Array;
}

function ipv4Text(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function ipv6Text(b: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function transportLayer(ip: Uint8Array, version: number): Transport | null {
  if (version === 4) {
    const ihl = (ip[0]! & 0x0f) * 4;
    const total = (ip[2]! << 8) | ip[3]!; // trims link-layer padding
    const fragment = ((ip[6]! << 8) | ip[7]!) & 0x3fff;
    if (fragment !== 0) throw new Error('fragmented IPv4 packets are not supported');
    return { proto: ip[9]!, src: ipv4Text(ip.subarray(12, 16)), dst: ipv4Text(ip.subarray(16, 20)), body: ip.subarray(ihl, total) };
  }
  const payloadLen = (ip[4]! << 8) | ip[5]!;
  let next = ip[6]!;
  let at = 40;
  const end = 40 + payloadLen;
  // Hop-by-hop, routing, destination options: skip; anything else ends the chain.
  while (next === 0 || next === 43 || next === 60) {
    const n = ip[at]!;
    at += (ip[at + 1]! + 1) * 8;
    next = n;
  }
  if (next === 44) throw new Error('fragmented IPv6 packets are not supported');
  return { proto: next, src: ipv6Text(ip.subarray(8, 24)), dst: ipv6Text(ip.subarray(24, 40)), body: ip.subarray(at, end) };
}

interface Half {
  isn: number | null; // sequence number of the SYN, when seen
  segs: { seq: number; payload: Uint8Array }[];
}

interface Building {
  key: string;
  client: Endpoint;
  server: Endpoint;
  halves: [Half, Half]; // [client→server, server→client]
  segments: TcpSegment[];
  firstIndex: number;
  finished: boolean;
}

const endpointKey = (e: Endpoint): string => `${e.host}|${e.port}`;

/** Reassemble one direction: order by sequence, drop bytes already covered, refuse holes. */
function streamBase(h: Half): number {
  if (h.isn !== null) return (h.isn + 1) >>> 0;
  if (h.segs.length === 0) return 0;
  // No SYN captured: the lowest sequence number seen (comparison modulo 2^32).
  return h.segs.reduce((m, s) => (((s.seq - m) | 0) < 0 ? s.seq : m), h.segs[0]!.seq);
}

function reassemble(h: Half, what: string): { data: Uint8Array; duplicates: number } {
  if (h.segs.length === 0) return { data: new Uint8Array(0), duplicates: 0 };
  // Offsets relative to the first data byte (SYN + 1), modulo 2^32, so wrap-around is fine.
  const base = streamBase(h);
  const segs = h.segs.map((s) => ({ off: (s.seq - base) >>> 0, payload: s.payload })).sort((a, b) => a.off - b.off);
  const parts: Uint8Array[] = [];
  let next = 0;
  let duplicates = 0;
  for (const s of segs) {
    const end = s.off + s.payload.length;
    if (end <= next) {
      duplicates++;
      continue;
    }
    if (s.off > next) throw new Error(`${what}: ${s.off - next} bytes missing at stream offset ${next}`);
    if (s.off < next) duplicates++;
    parts.push(s.payload.subarray(next - s.off));
    next = end;
  }
  return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts), duplicates };
}

/** Parse a classic pcap file's bytes into UDP datagrams and reassembled TCP connections. */
export function parsePcap(buf: Uint8Array): Capture {
  const { linkType, snapLength, packets } = readPcapPackets(buf);
  const udp: UdpDatagram[] = [];
  const open = new Map<string, Building>();
  const all: Building[] = [];
  for (const p of packets) {
    const net = networkLayer(linkType, p.data);
    if (!net) continue;
    const tr = transportLayer(net.ip, net.version);
    if (!tr) continue;
    const b = tr.body;
    if (tr.proto === 17) {
      const len = (b[4]! << 8) | b[5]!;
      udp.push({
        index: p.index,
        time: p.time,
        src: { host: tr.src, port: (b[0]! << 8) | b[1]! },
        dst: { host: tr.dst, port: (b[2]! << 8) | b[3]! },
        payload: b.subarray(8, len),
      });
      continue;
    }
    if (tr.proto !== 6) continue;
    const src: Endpoint = { host: tr.src, port: (b[0]! << 8) | b[1]! };
    const dst: Endpoint = { host: tr.dst, port: (b[2]! << 8) | b[3]! };
    const seq = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
    const dataOff = (b[12]! >> 4) * 4;
    const flags = b[13]!;
    const syn = (flags & 0x02) !== 0;
    const ack = (flags & 0x10) !== 0;
    const [ka, kb] = [endpointKey(src), endpointKey(dst)];
    const key = ka < kb ? `${ka}<>${kb}` : `${kb}<>${ka}`;
    let c = open.get(key);
    // A new SYN on a finished 4-tuple is a new connection (port reuse).
    if (c && syn && !ack && c.finished) c = undefined;
    if (!c) {
      const client = syn && ack ? dst : src; // a SYN-ACK is sent by the server
      c = {
        key,
        client,
        server: client === src ? dst : src,
        halves: [
          { isn: null, segs: [] },
          { isn: null, segs: [] },
        ],
        segments: [],
        firstIndex: p.index,
        finished: false,
      };
      open.set(key, c);
      all.push(c);
    }
    const fromClient = endpointKey(src) === endpointKey(c.client);
    const half = c.halves[fromClient ? 0 : 1];
    if (syn) half.isn = seq;
    if (flags & 0x05) c.finished = true; // FIN or RST
    const payload = b.subarray(dataOff);
    if (payload.length > 0) {
      half.segs.push({ seq, payload });
      c.segments.push({ index: p.index, time: p.time, fromClient, seq, payload });
    }
  }
  /** Deliverable bytes in capture order: out-of-order segments wait until the gap is filled. */
  const deliveryOrder = (c: Building): FlowChunk[] => {
    const bases = [streamBase(c.halves[0]), streamBase(c.halves[1])];
    const next = [0, 0];
    const waiting: { off: number; seg: TcpSegment }[][] = [[], []];
    const flow: FlowChunk[] = [];
    for (const seg of c.segments) {
      const d = seg.fromClient ? 0 : 1;
      const w = waiting[d]!;
      w.push({ off: (seg.seq - bases[d]!) >>> 0, seg });
      for (let progressed = true; progressed;) {
        progressed = false;
        for (let i = 0; i < w.length; i++) {
          const { off, seg: s } = w[i]!;
          const end = off + s.payload.length;
          if (end <= next[d]!) {
            w.splice(i--, 1); // fully duplicate
          } else if (off <= next[d]!) {
            flow.push({ index: seg.index, time: seg.time, fromClient: s.fromClient, data: s.payload.subarray(next[d]! - off) });
            next[d] = end;
            w.splice(i--, 1);
            progressed = true;
          }
        }
      }
    }
    return flow;
  };
  const tcp = all.map((c): TcpConnection => {
    const name = `${c.client.host}:${c.client.port} <-> ${c.server.host}:${c.server.port}`;
    const up = reassemble(c.halves[0], `${name} client→server`);
    const down = reassemble(c.halves[1], `${name} server→client`);
    return {
      client: c.client,
      server: c.server,
      clientData: up.data,
      serverData: down.data,
      segments: c.segments,
      flow: deliveryOrder(c),
      duplicates: up.duplicates + down.duplicates,
      firstIndex: c.firstIndex,
    };
  });
  return { linkType, snapLength, packetCount: packets.length, udp, tcp };
}

export function readPcapFile(path: string): Capture {
  return parsePcap(readFileSync(path));
}
