// Real EPICS traffic (pvAccessCPP and PVXS clients and servers, recorded on loopback) through our
// Framer and codecs. Every TCP stream is framed as one chunk, one byte at a time and at seeded
// random split points; the message sequence must match the decoded listing next to each pcap,
// and every payload must decode exactly (nothing left over) to the values the peers exchanged.
// Each direction of each connection keeps its own TypeCache, as a real receiver does.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BitSet } from '../../src/pvdata/bitset.js';
import { readPVRequest } from '../../src/pvdata/pvrequest.js';
import { decodeType, TypeCache } from '../../src/pvdata/type-codec.js';
import type { FieldDesc, StructureDesc } from '../../src/pvdata/types.js';
import { decodeBitSet, decodePartial, decodeTyped } from '../../src/pvdata/value-codec.js';
import { defaultValue, type PVStructure } from '../../src/pvdata/values.js';
import { ByteReader } from '../../src/pvdata/wire.js';
import { Cmd, Ctrl, Flags, Sub } from '../../src/pva/constants.js';
import { DEFAULT_LIMITS } from '../../src/pva/connection.js';
import { Framer, type AppMessage, type Message } from '../../src/pva/framer.js';
import { decodeStatus, type Status } from '../../src/pva/status.js';
import { capturesDir, NO_CAPTURES, type CaptureName } from '../helpers/captures.js';
import { readListing, type ListedSegment, type ListingBlock } from '../helpers/listing.js';
import { LINKTYPE, parsePcap, readPcapFile, type Capture, type TcpConnection } from '../helpers/pcap.js';
import { prng, randomSplits } from '../helpers/random.js';

const DIR = capturesDir();
const skip = DIR ? false : NO_CAPTURES;

/** Streams longer than this are fed byte by byte up to here, the rest at random splits (time). */
const BYTE_MODE_LIMIT = 2 << 20;
const MODES = ['one chunk', 'byte at a time', 'random splits'] as const;
type Mode = (typeof MODES)[number];

type Rec = Record<string, any>;

interface Loaded {
  capture: Capture;
  listing: ListingBlock[];
}
const loaded = new Map<CaptureName, Loaded>();
function load(name: CaptureName): Loaded {
  let l = loaded.get(name);
  if (!l) {
    const dir = DIR as string;
    l = { capture: readPcapFile(join(dir, `${name}.pcap`)), listing: readListing(join(dir, `${name}.txt`)) };
    loaded.set(name, l);
  }
  return l;
}

const CMD_BY_NAME = new Map<string, number>(Object.entries(Cmd));
const CTRL_BY_NAME = new Map<string, number>(Object.entries(Ctrl));
const SEG_FLAGS = { none: Flags.SEGMENT_NONE, first: Flags.SEGMENT_FIRST, middle: Flags.SEGMENT_MIDDLE, last: Flags.SEGMENT_LAST };

// ---- what the listing says the Framer must produce --------------------------------------------

interface Expected {
  control: boolean;
  command: number;
  version: number;
  /** Header flags of the (first) segment, segmentation bits cleared. */
  flags: number;
  /** Payload size (all segments joined) or control value. */
  size: number;
  /** Listed bytes and where they sit in the joined payload. */
  checks: { offset: number; bytes: Uint8Array }[];
  line: string;
}

/** Joins listed segments into the logical messages our Framer should deliver; checks the listing itself. */
function expectedMessages(segs: ListedSegment[], where: string): { messages: Expected[]; wireBytes: number } {
  const out: Expected[] = [];
  let open: Expected | null = null;
  let wireBytes = 0;
  for (const [i, s] of segs.entries()) {
    const at = `${where} #${i} ${s.name}`;
    const command = s.control ? CTRL_BY_NAME.get(s.name) : CMD_BY_NAME.get(s.name);
    assert.ok(command !== undefined, `${at}: unknown command name`);
    assert.equal(s.version, 2, `${at}: version`);
    assert.equal((s.flags & Flags.FROM_SERVER) !== 0, s.role === 'S', `${at}: [S]/[C] disagrees with the flags`);
    assert.equal(s.flags & Flags.SEGMENT_MASK, SEG_FLAGS[s.segment], `${at}: seg= disagrees with the flags`);
    wireBytes += 8 + (s.control ? 0 : s.len);
    if (s.control) {
      assert.equal(s.flags & Flags.CONTROL, Flags.CONTROL, at);
      out.push({ control: true, command, version: s.version, flags: s.flags, size: s.value, checks: [], line: at });
      continue;
    }
    if (s.complete) assert.equal(s.bytes.length, s.len, `${at}: listed bytes vs len`);
    else assert.ok(s.bytes.length < s.len, `${at}: cut listing longer than len`);
    if (s.segment === 'none' || s.segment === 'first') {
      assert.equal(open, null, `${at}: new message inside a segmented one`);
      const m: Expected = {
        control: false,
        command,
        version: s.version,
        flags: s.flags & ~Flags.SEGMENT_MASK,
        size: 0,
        checks: [],
        line: at,
      };
      if (s.segment === 'first') open = m;
      else out.push(m);
      m.checks.push({ offset: 0, bytes: s.bytes });
      m.size = s.len;
      continue;
    }
    assert.ok(open, `${at}: ${s.segment} segment without a first`);
    assert.equal(command, open.command, `${at}: segment command`);
    open.checks.push({ offset: open.size, bytes: s.bytes });
    open.size += s.len;
    if (s.segment === 'last') {
      out.push(open);
      open = null;
    }
  }
  assert.equal(open, null, `${where}: listing ends inside a segmented message`);
  return { messages: out, wireBytes };
}

function* chunksFor(mode: Mode, data: Uint8Array, seed: number): Generator<Uint8Array> {
  if (mode === 'one chunk') {
    yield data;
    return;
  }
  if (mode === 'byte at a time') {
    const n = Math.min(data.length, BYTE_MODE_LIMIT);
    for (let i = 0; i < n; i++) yield data.subarray(i, i + 1);
    if (n < data.length) yield* randomSplits(data.subarray(n), prng(seed));
    return;
  }
  yield* randomSplits(data, prng(seed));
}

/** Compare the bytes of a payload given as a chunk list with `bytes` at `offset`. */
function payloadMatches(parts: Uint8Array[], offset: number, bytes: Uint8Array): boolean {
  let pos = 0;
  let k = 0;
  for (const p of parts) {
    if (k === bytes.length) break;
    const end = pos + p.length;
    if (end > offset + k) {
      for (let i = offset + k - pos; i < p.length && k < bytes.length; i++, k++) if (p[i] !== bytes[k]) return false;
    }
    pos = end;
  }
  return k === bytes.length;
}

/** Frame `data` in the given mode, checking each message against the listing, and pass it on. */
function frameStream(
  data: Uint8Array,
  mode: Mode,
  seed: number,
  expected: Expected[],
  where: string,
  onMessage: (m: Message) => void,
): void {
  let i = 0;
  const framer = new Framer((m) => {
    const e = expected[i];
    const at = `${where} [${mode}, seed ${seed}] message ${i}`;
    assert.ok(e, `${at}: more messages than the listing`);
    i++;
    assert.equal(m.control, e.control, `${at} (${e.line}): control`);
    assert.equal(m.command, e.command, `${at} (${e.line}): command`);
    if (m.control) {
      assert.equal(m.flags, e.flags, `${at} (${e.line}): flags`);
      assert.equal(m.value, e.size, `${at} (${e.line}): control value`);
    } else {
      assert.equal(m.flags, e.flags, `${at} (${e.line}): flags`);
      assert.equal(m.version, e.version, `${at} (${e.line}): version`);
      assert.equal(m.size, e.size, `${at} (${e.line}): size`);
      assert.equal(m.littleEndian, (e.flags & Flags.BIG_ENDIAN) === 0, `${at}: byte order`);
      let total = 0;
      for (const p of m.payload) total += p.length;
      assert.equal(total, m.size, `${at}: payload parts add up to the size`);
      for (const c of e.checks)
        assert.ok(payloadMatches(m.payload, c.offset, c.bytes), `${at} (${e.line}): listed bytes at offset ${c.offset}`);
    }
    onMessage(m);
  }, DEFAULT_LIMITS.maxMessageSize);
  for (const c of chunksFor(mode, data, seed)) framer.push(c);
  assert.equal(i, expected.length, `${where} [${mode}]: ${expected.length - i} listed messages never framed`);
  assert.equal(framer.pendingBytes, 0, `${where} [${mode}]: bytes left in the framer`);
}

// ---- payload decoding, one receiver per direction -----------------------------------------------

function read(m: AppMessage): ByteReader {
  return new ByteReader(m.payload, m.littleEndian);
}

function statusOf(r: ByteReader): Status {
  return decodeStatus(r);
}

/** What both ends of one connection learn: the two type caches and the types of each request. */
class ConnDecoder {
  /** Types the server defined (the client's receive cache). */
  readonly serverTypes = new TypeCache();
  /** Types the client defined (the server's receive cache). */
  readonly clientTypes = new TypeCache();
  readonly opTypes = new Map<number, StructureDesc>();
  readonly monitorValues = new Map<number, PVStructure>();

  server(m: Message): Rec {
    if (m.control) return { dir: 'S', control: true, command: m.command, flags: m.flags, value: m.value };
    const r = read(m);
    const d: Rec = { dir: 'S', command: m.command, size: m.size };
    switch (m.command) {
      case Cmd.CONNECTION_VALIDATION: {
        d['bufferSize'] = r.i32();
        d['registrySize'] = r.i16();
        const n = r.count('auth methods');
        d['methods'] = Array.from({ length: n }, () => r.string());
        break;
      }
      case Cmd.CONNECTION_VALIDATED:
        d['status'] = statusOf(r);
        break;
      case Cmd.CREATE_CHANNEL:
        d['cid'] = r.i32();
        d['sid'] = r.i32();
        d['status'] = statusOf(r);
        break;
      case Cmd.GET_FIELD:
        d['ioid'] = r.i32();
        d['status'] = statusOf(r);
        d['type'] = decodeType(r, this.serverTypes);
        break;
      case Cmd.GET:
      case Cmd.PUT:
      case Cmd.MONITOR: {
        const ioid = r.i32();
        const sub = r.u8();
        Object.assign(d, { ioid, sub });
        if (sub & Sub.INIT) {
          d['status'] = statusOf(r);
          const type = decodeType(r, this.serverTypes) as StructureDesc;
          assert.equal(type?.kind, 'structure', 'INIT reply type');
          this.opTypes.set(ioid, type);
          d['type'] = type;
          break;
        }
        const type = this.opTypes.get(ioid);
        assert.ok(type, `data for request ${ioid} before its INIT reply`);
        if (m.command === Cmd.MONITOR) {
          if (sub & Sub.DESTROY) {
            if (r.remaining) d['status'] = statusOf(r);
            break;
          }
          const changed = decodeBitSet(r);
          const value = decodePartial(
            r,
            type,
            this.monitorValues.get(ioid) ?? (defaultValue(type) as PVStructure),
            changed,
            this.serverTypes,
          );
          this.monitorValues.set(ioid, value);
          Object.assign(d, { changed, value, overrun: decodeBitSet(r) });
          break;
        }
        d['status'] = statusOf(r);
        if (r.remaining > 0) {
          const changed = decodeBitSet(r);
          Object.assign(d, { changed, value: decodePartial(r, type, defaultValue(type) as PVStructure, changed, this.serverTypes) });
        }
        break;
      }
      default:
        assert.fail(`no decoder for server command ${m.command}`);
    }
    assert.equal(r.remaining, 0, `server ${m.command} payload not consumed exactly: ${r.remaining} bytes left`);
    return d;
  }

  client(m: Message): Rec {
    if (m.control) return { dir: 'C', control: true, command: m.command, flags: m.flags, value: m.value };
    const r = read(m);
    const d: Rec = { dir: 'C', command: m.command, size: m.size };
    switch (m.command) {
      case Cmd.CONNECTION_VALIDATION:
        d['bufferSize'] = r.i32();
        d['registrySize'] = r.i16();
        d['qos'] = r.i16();
        d['method'] = r.string();
        if (r.remaining > 0) d['credentials'] = decodeTyped(r, this.clientTypes);
        break;
      case Cmd.CREATE_CHANNEL: {
        const n = r.u16();
        d['channels'] = Array.from({ length: n }, () => ({ cid: r.i32(), name: r.string() }));
        break;
      }
      case Cmd.DESTROY_REQUEST:
      case Cmd.DESTROY_CHANNEL:
        d['sid'] = r.i32();
        d[m.command === Cmd.DESTROY_REQUEST ? 'ioid' : 'cid'] = r.i32();
        break;
      case Cmd.GET_FIELD:
        d['sid'] = r.i32();
        d['ioid'] = r.i32();
        d['subField'] = r.string();
        break;
      case Cmd.GET:
      case Cmd.PUT:
      case Cmd.MONITOR: {
        const sid = r.i32();
        const ioid = r.i32();
        const sub = r.u8();
        Object.assign(d, { sid, ioid, sub });
        if (sub & Sub.INIT) {
          const req = decodeTyped(r, this.clientTypes);
          d['request'] = req;
          d['requestInfo'] = readPVRequest(req.type, req.value);
          if (m.command === Cmd.MONITOR && sub & Sub.ACK) d['nfree'] = r.i32();
        } else if (m.command === Cmd.MONITOR && sub === Sub.ACK) {
          d['nfree'] = r.i32();
        } else if (m.command === Cmd.PUT && sub === Sub.DEFAULT) {
          const type = this.opTypes.get(ioid);
          assert.ok(type, `put data for request ${ioid} before its INIT reply`);
          const changed = decodeBitSet(r);
          Object.assign(d, { changed, value: decodePartial(r, type, defaultValue(type) as PVStructure, changed, this.clientTypes) });
        }
        break;
      }
      default:
        assert.fail(`no decoder for client command ${m.command}`);
    }
    assert.equal(r.remaining, 0, `client ${m.command} payload not consumed exactly: ${r.remaining} bytes left`);
    return d;
  }
}

interface ConnTranscript {
  conn: TcpConnection;
  server: Rec[];
  client: Rec[];
  decoder: ConnDecoder;
}

/** Listing blocks of one connection, per direction. */
function listedFor(listing: ListingBlock[], c: TcpConnection): { up: ListedSegment[]; down: ListedSegment[] } {
  const same = (a: { host: string; port: number }, b: { host: string; port: number }): boolean => a.host === b.host && a.port === b.port;
  const up: ListedSegment[] = [];
  const down: ListedSegment[] = [];
  for (const b of listing) {
    if (b.proto !== 'TCP') continue;
    if (same(b.src, c.client) && same(b.dst, c.server)) up.push(...b.segments);
    else if (same(b.src, c.server) && same(b.dst, c.client)) down.push(...b.segments);
  }
  return { up, down };
}

/** Frame and decode every TCP connection of a capture in one mode. */
function transcripts(name: CaptureName, mode: Mode): ConnTranscript[] {
  const { capture, listing } = load(name);
  return capture.tcp.map((conn, ci) => {
    const where = `${name} ${conn.client.port}->${conn.server.port}`;
    const { up, down } = listedFor(listing, conn);
    const expUp = expectedMessages(up, `${where} client listing`);
    const expDown = expectedMessages(down, `${where} server listing`);
    assert.equal(conn.clientData.length, expUp.wireBytes, `${where}: client bytes vs listing`);
    assert.equal(conn.serverData.length, expDown.wireBytes, `${where}: server bytes vs listing`);
    const decoder = new ConnDecoder();
    const t: ConnTranscript = { conn, server: [], client: [], decoder };
    // Server direction first: client PUT data needs the type from the server's INIT reply.
    frameStream(conn.serverData, mode, 1000 + ci, expDown.messages, `${where} server`, (m) => t.server.push(decoder.server(m)));
    frameStream(conn.clientData, mode, 2000 + ci, expUp.messages, `${where} client`, (m) => t.client.push(decoder.client(m)));
    return t;
  });
}

/** Every TCP block of the listing belongs to a captured connection, and every connection is listed. */
function checkListingCoversCapture(name: CaptureName): void {
  const { capture, listing } = load(name);
  const tcpBlocks = listing.filter((b) => b.proto === 'TCP');
  let covered = 0;
  for (const c of capture.tcp) {
    const { up, down } = listedFor(listing, c);
    if (c.clientData.length + c.serverData.length > 0)
      assert.ok(up.length + down.length > 0, `${name}: connection ${c.client.port} not listed`);
    covered += up.length + down.length;
  }
  assert.equal(
    covered,
    tcpBlocks.reduce((n, b) => n + b.segments.length, 0),
    `${name}: listed TCP messages outside the captured connections`,
  );
}

/** Run all three modes; the concrete checks run on the one-chunk transcript, the others must equal it. */
function allModes(name: CaptureName): ConnTranscript[] {
  checkListingCoversCapture(name);
  const ref = transcripts(name, 'one chunk');
  for (const mode of MODES.slice(1)) {
    const other = transcripts(name, mode);
    assert.equal(other.length, ref.length);
    other.forEach((o, i) => {
      assert.deepStrictEqual(o.server, ref[i]!.server, `${name} conn ${i} server transcript differs in mode '${mode}'`);
      assert.deepStrictEqual(o.client, ref[i]!.client, `${name} conn ${i} client transcript differs in mode '${mode}'`);
    });
  }
  return ref;
}

// ---- helpers for the concrete checks -------------------------------------------------------------

const OK: Status = { type: 0, message: '', stack: '' };
const fieldNames = (d: FieldDesc): string[] => (d.kind === 'structure' || d.kind === 'union' ? d.fields.map((f) => f.name) : []);
const member = (d: FieldDesc, name: string): FieldDesc => {
  assert.ok(d.kind === 'structure' || d.kind === 'union', `no members in ${d.kind}`);
  const m = d.fields.find((f) => f.name === name);
  assert.ok(m, `no member '${name}'`);
  return m.type;
};
const bits = (b: BitSet): number[] => b.toArray();
const byCmd = (list: Rec[], cmd: number, pred: (d: Rec) => boolean = () => true): Rec[] =>
  list.filter((d) => d['command'] === cmd && pred(d));
const i32 = (x: number): number => x | 0;

function checkHandshake(t: ConnTranscript, server: { bufferSize: number }, client: { bufferSize: number; cached: boolean }): void {
  const [sbo, val, validated] = t.server;
  assert.deepEqual(sbo, { dir: 'S', control: true, command: Ctrl.SET_BYTE_ORDER, flags: 0x41, value: 0 });
  assert.equal(val!['command'], Cmd.CONNECTION_VALIDATION);
  assert.equal(val!['bufferSize'], server.bufferSize);
  assert.equal(val!['registrySize'], 0x7fff);
  assert.deepEqual(val!['methods'], ['anonymous', 'ca']);
  assert.equal(validated!['command'], Cmd.CONNECTION_VALIDATED);
  assert.deepEqual(validated!['status'], OK);
  const cv = t.client[0]!;
  assert.equal(cv['command'], Cmd.CONNECTION_VALIDATION);
  assert.equal(cv['bufferSize'], client.bufferSize);
  assert.equal(cv['registrySize'], 0x7fff);
  assert.equal(cv['qos'], 0);
  assert.equal(cv['method'], 'ca');
  assert.deepEqual(fieldNames(cv['credentials'].type), ['user', 'host']);
  assert.deepEqual(cv['credentials'].value, { user: 'root', host: 'vm' });
  // pvAccessCPP caches the credentials type as id 1 (fd 01 00); PVXS sends it plainly.
  assert.equal(t.decoder.clientTypes.get(1) !== undefined, client.cached);
}

function checkNTScalarType(type: StructureDesc, valueType: string): void {
  assert.equal(type.id, 'epics:nt/NTScalar:1.0');
  assert.deepEqual(member(type, 'value'), { kind: 'scalar', type: valueType });
  const alarm = member(type, 'alarm') as StructureDesc;
  assert.equal(alarm.id, 'alarm_t');
  assert.deepEqual(fieldNames(alarm), ['severity', 'status', 'message']);
  assert.deepEqual(fieldNames(member(type, 'timeStamp')), ['secondsPastEpoch', 'nanoseconds', 'userTag']);
  assert.deepEqual(member(member(type, 'timeStamp'), 'secondsPastEpoch'), { kind: 'scalar', type: 'long' });
  const display = member(type, 'display');
  assert.deepEqual(fieldNames(display), ['limitLow', 'limitHigh', 'description', 'units', 'precision', 'form']);
  const form = member(display, 'form') as StructureDesc;
  assert.equal(form.id, 'enum_t');
  assert.deepEqual(member(form, 'choices'), { kind: 'scalarArray', type: 'string', arrayKind: 'variable', bound: 0 });
}

function checkFullNTScalarDouble(type: StructureDesc): void {
  checkNTScalarType(type, 'double');
  assert.deepEqual(fieldNames(type), ['value', 'alarm', 'timeStamp', 'display', 'control', 'valueAlarm']);
  assert.equal((member(type, 'control') as StructureDesc).id, 'control_t');
  const va = member(type, 'valueAlarm') as StructureDesc;
  assert.equal(va.id, 'valueAlarm_t');
  assert.deepEqual(fieldNames(va), [
    'active',
    'lowAlarmLimit',
    'lowWarningLimit',
    'highWarningLimit',
    'highAlarmLimit',
    'lowAlarmSeverity',
    'lowWarningSeverity',
    'highWarningSeverity',
    'highAlarmSeverity',
    'hysteresis',
  ]);
  assert.deepEqual(member(va, 'hysteresis'), { kind: 'scalar', type: 'byte' });
}

const FORM_CHOICES = ['Default', 'String', 'Binary', 'Decimal', 'Hex', 'Exponential', 'Engineering'];

/** Monitor pipeline window, replayed in capture order: the server never exceeds the credit. */
function checkWindowInCaptureOrder(conn: TcpConnection): { updates: number; acks: number; minWindow: number } {
  let window = -1;
  let updates = 0;
  let acks = 0;
  let minWindow = Infinity;
  const onClient = (m: Message): void => {
    if (m.control || m.command !== Cmd.MONITOR) return;
    const r = read(m);
    r.skip(8);
    const sub = r.u8();
    if (sub & Sub.INIT) {
      decodeTyped(r, clientTypes);
      assert.ok(sub & Sub.ACK, 'pipeline INIT is 0x88');
      window = r.i32();
    } else if (sub === Sub.ACK) {
      window += r.i32();
      acks++;
    }
  };
  const clientTypes = new TypeCache();
  const onServer = (m: Message): void => {
    if (m.control || m.command !== Cmd.MONITOR) return;
    const r = read(m);
    r.skip(4);
    const sub = r.u8();
    if (sub !== Sub.DEFAULT) return;
    updates++;
    window--;
    minWindow = Math.min(minWindow, window);
    assert.ok(window >= 0, `update ${updates} sent with no credit left`);
  };
  const up = new Framer(onClient, DEFAULT_LIMITS.maxMessageSize);
  const down = new Framer(onServer, DEFAULT_LIMITS.maxMessageSize);
  for (const f of conn.flow) (f.fromClient ? up : down).push(f.data);
  return { updates, acks, minWindow };
}

// ---- the pcap reader on synthetic files -------------------------------------------------------------

type IPv4 = [number, number, number, number];
const A: IPv4 = [127, 0, 0, 1];
const B: IPv4 = [10, 1, 2, 3];

function ipv4(proto: number, src: IPv4, dst: IPv4, body: Uint8Array): Uint8Array {
  const ip = new Uint8Array(20 + body.length);
  const dv = new DataView(ip.buffer);
  ip[0] = 0x45;
  dv.setUint16(2, ip.length);
  ip[6] = 0x40; // don't fragment
  ip[8] = 64;
  ip[9] = proto;
  ip.set(src, 12);
  ip.set(dst, 16);
  ip.set(body, 20);
  return ip;
}

function tcpSeg(sport: number, dport: number, seq: number, flags: number, payload = ''): Uint8Array {
  const data = Buffer.from(payload, 'latin1');
  const seg = new Uint8Array(20 + data.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint32(4, seq >>> 0);
  seg[12] = 5 << 4;
  seg[13] = flags;
  seg.set(data, 20);
  return seg;
}

function udpDg(sport: number, dport: number, payload: string): Uint8Array {
  const data = Buffer.from(payload, 'latin1');
  const d = new Uint8Array(8 + data.length);
  const dv = new DataView(d.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, d.length);
  d.set(data, 8);
  return d;
}

const LINK_WRAP: Record<number, (ip: Uint8Array) => Uint8Array> = {
  // Ethernet, padded to the 60-byte minimum frame (the IPv4 total length must trim it).
  [LINKTYPE.ETHERNET]: (ip) => {
    const f = new Uint8Array(Math.max(60, 14 + ip.length));
    f.set([0x08, 0x00], 12);
    f.set(ip, 14);
    return f;
  },
  [LINKTYPE.LINUX_SLL]: (ip) => {
    const f = new Uint8Array(16 + ip.length);
    f.set([0x08, 0x00], 14);
    f.set(ip, 16);
    return f;
  },
  [LINKTYPE.LINUX_SLL2]: (ip) => {
    const f = new Uint8Array(20 + ip.length);
    f.set([0x08, 0x00], 0);
    f.set(ip, 20);
    return f;
  },
  [LINKTYPE.NULL]: (ip) => {
    const f = new Uint8Array(4 + ip.length);
    f[0] = 2; // AF_INET, little-endian host
    f.set(ip, 4);
    return f;
  },
  [LINKTYPE.RAW]: (ip) => ip,
};

function pcapFile(linkType: number, packets: Uint8Array[], bigEndian: boolean, nano: boolean): Uint8Array {
  const le = !bigEndian;
  const head = new DataView(new ArrayBuffer(24));
  head.setUint32(0, nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
  head.setUint16(4, 2, le);
  head.setUint16(6, 4, le);
  head.setUint32(16, 65535, le);
  head.setUint32(20, linkType, le);
  const parts: Uint8Array[] = [new Uint8Array(head.buffer)];
  packets.forEach((p, i) => {
    const rec = new DataView(new ArrayBuffer(16));
    rec.setUint32(0, 1_700_000_000 + i, le);
    rec.setUint32(4, nano ? 500_000_000 : 500_000, le);
    rec.setUint32(8, p.length, le);
    rec.setUint32(12, p.length, le);
    parts.push(new Uint8Array(rec.buffer), p);
  });
  return new Uint8Array(Buffer.concat(parts));
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

test('pcap reader: link types, byte orders, out-of-order and retransmitted segments, wrap-around, port reuse', () => {
  const c2s = (seq: number, data: string, flags = PSH | ACK): Uint8Array => ipv4(6, A, B, tcpSeg(40000, 5075, seq, flags, data));
  const s2c = (seq: number, data: string, flags = PSH | ACK): Uint8Array => ipv4(6, B, A, tcpSeg(5075, 40000, seq, flags, data));
  const ips = [
    c2s(1000, '', SYN),
    s2c(0xfffffffe, '', SYN | ACK), // first data byte at 0xffffffff: offsets wrap
    c2s(1001, 'abc'),
    c2s(1007, 'ghi'), // out of order: waits for 'def'
    s2c(0xffffffff, 'xy'),
    c2s(1004, 'def'),
    c2s(1004, 'def'), // retransmitted duplicate
    c2s(1001, 'abcdef'), // overlapping retransmission
    s2c(1, 'z'),
    ipv4(17, A, B, udpDg(5076, 5076, 'hi')), // a small datagram in a padded frame
    c2s(1010, '', FIN | ACK),
    // The same 4-tuple again after FIN: a new connection.
    c2s(7000, '', SYN),
    c2s(7001, 'second'),
    // A connection whose SYN was not captured: the first sender is taken as the client.
    ipv4(6, B, A, tcpSeg(6000, 41000, 500, PSH | ACK, 'late')),
    ipv4(6, A, B, tcpSeg(41000, 6000, 900, PSH | ACK, 'reply')),
  ];
  for (const [link, wrap] of Object.entries(LINK_WRAP)) {
    for (const bigEndian of [false, true]) {
      for (const nano of [false, true]) {
        const what = `link ${link}, ${bigEndian ? 'BE' : 'LE'}, ${nano ? 'ns' : 'us'}`;
        const cap = parsePcap(pcapFile(Number(link), ips.map(wrap), bigEndian, nano));
        assert.equal(cap.linkType, Number(link), what);
        assert.equal(cap.packetCount, ips.length, what);
        assert.equal(cap.tcp.length, 3, what);
        const [first, second, late] = cap.tcp as [TcpConnection, TcpConnection, TcpConnection];
        assert.deepEqual(
          [first.client, first.server],
          [
            { host: '127.0.0.1', port: 40000 },
            { host: '10.1.2.3', port: 5075 },
          ],
          what,
        );
        assert.equal(Buffer.from(first.clientData).toString('latin1'), 'abcdefghi', what);
        assert.equal(Buffer.from(first.serverData).toString('latin1'), 'xyz', what);
        assert.equal(first.duplicates, 3, `${what}: segments dropped or trimmed as already covered`);
        assert.deepEqual(
          first.flow.map((f) => `${f.fromClient ? 'C' : 'S'}:${Buffer.from(f.data).toString('latin1')}`),
          ['C:abc', 'S:xy', 'C:def', 'C:ghi', 'S:z'],
          `${what}: delivery order`,
        );
        assert.equal(Buffer.from(second.clientData).toString('latin1'), 'second', what);
        assert.deepEqual(
          [late.client.port, Buffer.from(late.clientData).toString('latin1'), Buffer.from(late.serverData).toString('latin1')],
          [6000, 'late', 'reply'],
          what,
        );
        assert.equal(cap.udp.length, 1, what);
        assert.deepEqual(
          [cap.udp[0]!.src, cap.udp[0]!.dst, Buffer.from(cap.udp[0]!.payload).toString('latin1')],
          [{ host: '127.0.0.1', port: 5076 }, { host: '10.1.2.3', port: 5076 }, 'hi'],
          `${what}: padding trimmed`,
        );
        assert.equal(cap.udp[0]!.time, 1_700_000_009.5, `${what}: timestamp`);
      }
    }
  }
  // A missing segment is an error, not silently wrong data.
  const gap = pcapFile(LINKTYPE.RAW, [c2s(1000, '', SYN), c2s(1001, 'abc'), c2s(1010, 'xyz')], false, false);
  assert.throws(() => parsePcap(gap), /6 bytes missing at stream offset 3/);
  assert.throws(() => parsePcap(new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a, ...new Uint8Array(28)])), /pcapng/);
  assert.throws(() => parsePcap(new Uint8Array(30)), /not a pcap file/);
});

// ---- the captures ------------------------------------------------------------------------------------

test('pcap reader: link type, connections and reassembly of every capture', { skip }, () => {
  const expect: Record<CaptureName, { tcp: number[]; udp: number }> = {
    'pvacpp-get-put-monitor': { tcp: [53094, 53098, 53106, 53120], udp: 8 },
    'pvacpp-server-segmented': { tcp: [45600, 45616, 45622], udp: 0 },
    'pvxs-client-pipeline-segmented': { tcp: [38388, 60310], udp: 0 },
    'pvxs-server-ntndarray-monitor': { tcp: [56342], udp: 0 },
    'udp-search-beacon': { tcp: [], udp: 18 },
  };
  for (const [name, e] of Object.entries(expect) as [CaptureName, { tcp: number[]; udp: number }][]) {
    const { capture } = load(name);
    assert.equal(capture.linkType, 1, `${name}: Ethernet`);
    assert.deepEqual(
      capture.tcp.map((c) => c.client.port),
      e.tcp,
      `${name}: client ports`,
    );
    for (const c of capture.tcp) {
      assert.equal(c.server.port, 5075, `${name}: server port`);
      assert.equal(c.duplicates, 0, `${name}: loopback captures have no retransmissions`);
      // The flow (capture order) carries exactly the reassembled bytes of each direction.
      const up = Buffer.concat(c.flow.filter((f) => f.fromClient).map((f) => f.data));
      const down = Buffer.concat(c.flow.filter((f) => !f.fromClient).map((f) => f.data));
      assert.ok(up.equals(c.clientData) && down.equals(c.serverData), `${name}: flow vs reassembly`);
    }
    assert.equal(capture.udp.length, e.udp, `${name}: UDP datagrams`);
  }
  // The segmented image: 524798 bytes from the server, three times.
  assert.deepEqual(
    load('pvacpp-server-segmented').capture.tcp.map((c) => c.serverData.length),
    [524798, 524798, 524798],
  );
  assert.equal(load('pvxs-server-ntndarray-monitor').capture.tcp[0]!.serverData.length, 12907557);
});

test('pvacpp-get-put-monitor: framing and payloads (GET, PUT, MONITOR, GET_FIELD)', { skip }, () => {
  const [get, put, mon, info] = allModes('pvacpp-get-put-monitor') as [ConnTranscript, ConnTranscript, ConnTranscript, ConnTranscript];
  const CID = 0x10203041;
  const SID = 0x12003401;
  for (const t of [get, put, mon, info]) {
    checkHandshake(t, { bufferSize: 0x4400 }, { bufferSize: 0x400000, cached: true });
    assert.deepEqual(
      byCmd(t.server, Cmd.CREATE_CHANNEL).map((d) => [d['cid'], d['sid'], d['status']]),
      [[CID, SID, OK]],
    );
  }
  assert.deepEqual(byCmd(get.client, Cmd.CREATE_CHANNEL)[0]!['channels'], [{ cid: CID, name: 'TST:ao' }]);
  assert.deepEqual(byCmd(mon.client, Cmd.CREATE_CHANNEL)[0]!['channels'], [{ cid: CID, name: 'TST:counter' }]);
  assert.deepEqual(byCmd(info.client, Cmd.CREATE_CHANNEL)[0]!['channels'], [{ cid: CID, name: 'TST:str' }]);

  // GET: INIT with an empty pvRequest (cached as id 2), the NTScalar type (cached as id 1), value 1.5.
  const ioid1 = i32(0x80706051);
  const [gInit, gGet] = byCmd(get.client, Cmd.GET);
  assert.deepEqual([gInit!['sid'], gInit!['ioid'], gInit!['sub']], [SID, ioid1, Sub.INIT]);
  assert.deepEqual(gInit!['request'], { type: { kind: 'structure', id: '', fields: [] }, value: {} });
  assert.deepEqual(gInit!['requestInfo'], { fields: [], options: {}, fieldOptions: {} });
  assert.deepEqual([gGet!['ioid'], gGet!['sub']], [ioid1, Sub.DEFAULT]);
  const [gInitR, gData] = byCmd(get.server, Cmd.GET);
  assert.deepEqual(gInitR!['status'], OK);
  const ntType = gInitR!['type'] as StructureDesc;
  checkFullNTScalarDouble(ntType);
  assert.equal(get.decoder.serverTypes.get(1), ntType, 'NTScalar defined as cache id 1');
  assert.ok(get.decoder.serverTypes.size >= 2, 'nested types cached too');
  assert.deepEqual(bits(gData!['changed']), [0]);
  const v = gData!['value'] as PVStructure;
  assert.equal(v['value'], 1.5);
  assert.deepEqual(v['alarm'], { severity: 0, status: 2, message: 'UDF' });
  assert.deepEqual(v['timeStamp'], { secondsPastEpoch: 631152000n, nanoseconds: 0, userTag: 0 });
  assert.deepEqual(v['display'], {
    limitLow: 0,
    limitHigh: 0,
    description: '',
    units: 'mm',
    precision: 3,
    form: { index: 0, choices: FORM_CHOICES },
  });
  assert.deepEqual(v['control'], { limitLow: 0, limitHigh: 0, minStep: 0 });
  assert.equal(v['valueAlarm'].active, false);
  assert.ok(Number.isNaN(v['valueAlarm'].lowAlarmLimit) && Number.isNaN(v['valueAlarm'].highAlarmLimit));
  assert.equal(v['valueAlarm'].hysteresis, 0);

  // GET, then PUT (types re-used from both caches: fe 02 00 and fe 01 00), then GET again.
  const puts = byCmd(put.client, Cmd.PUT);
  assert.deepEqual(
    puts.map((d) => d['sub']),
    [Sub.INIT, Sub.GET, Sub.DEFAULT],
  );
  assert.equal(puts[0]!['request'].type, byCmd(put.client, Cmd.GET)[0]!['request'].type, 'PUT INIT re-uses the cached pvRequest type');
  assert.deepEqual(bits(puts[2]!['changed']), [1], 'PUT marks only value');
  assert.equal(puts[2]!['value'].value, 2.5);
  const putReplies = byCmd(put.server, Cmd.PUT);
  assert.deepEqual(
    putReplies.map((d) => [d['sub'], d['status']]),
    [
      [Sub.INIT, OK],
      [Sub.GET, OK],
      [Sub.DEFAULT, OK],
    ],
  );
  const getTypes = byCmd(put.server, Cmd.GET, (d) => d['sub'] === Sub.INIT).map((d) => d['type']);
  assert.equal(putReplies[0]!['type'], getTypes[0], 'PUT INIT reply re-uses cached type id 1');
  assert.equal(getTypes[1], getTypes[0], 'third INIT re-uses cached type id 1');
  assert.equal(putReplies[1]!['value'].value, 1.5, 'old value read by PUT 0x40');
  const gets = byCmd(put.server, Cmd.GET, (d) => d['sub'] === Sub.DEFAULT);
  assert.deepEqual(
    gets.map((d) => d['value'].value),
    [1.5, 2.5],
    'GET before and after the PUT',
  );
  assert.deepEqual(gets[1]!['value'].alarm, { severity: 0, status: 0, message: 'NO_ALARM' });
  assert.deepEqual(
    byCmd(put.client, Cmd.DESTROY_REQUEST).map((d) => [d['sid'], d['ioid']]),
    [
      [SID, ioid1],
      [SID, i32(0x80706052)],
      [SID, i32(0x80706053)],
    ],
  );

  // MONITOR: updates 35, 36, … 50; the first marks bit 0 (everything), then value/alarm/timeStamp leaves.
  assert.deepEqual(
    byCmd(mon.client, Cmd.MONITOR).map((d) => d['sub']),
    [Sub.INIT, Sub.MONITOR_START],
  );
  const [mInit, ...updates] = byCmd(mon.server, Cmd.MONITOR);
  checkFullNTScalarDouble(mInit!['type']);
  assert.deepEqual(
    updates.map((d) => d['value'].value),
    Array.from({ length: 16 }, (_, i) => 35 + i),
  );
  assert.deepEqual(bits(updates[0]!['changed']), [0, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21, 25, 26, 27, 28]);
  for (const u of updates.slice(1)) assert.deepEqual(bits(u['changed']), [1, 3, 4, 5, 7, 8, 9]);
  for (const u of updates) {
    assert.ok(u['overrun'].isEmpty());
    assert.deepEqual(u['value'].alarm, { severity: 0, status: 0, message: 'NO_ALARM' });
    assert.deepEqual(u['value'].display.form.choices, FORM_CHOICES, 'unchanged fields kept from earlier updates');
  }
  const times = updates.map((u) => Number(u['value'].timeStamp.secondsPastEpoch) + u['value'].timeStamp.nanoseconds / 1e9);
  for (let i = 1; i < times.length; i++) assert.ok(Math.abs(times[i]! - times[i - 1]! - 0.1) < 0.01, `updates 0.1 s apart (${i})`);

  // GET_FIELD with sub-field "" → the type of TST:str (an NTScalar string).
  assert.deepEqual(
    byCmd(info.client, Cmd.GET_FIELD).map((d) => [d['sid'], d['ioid'], d['subField']]),
    [[SID, ioid1, '']],
  );
  const [gf] = byCmd(info.server, Cmd.GET_FIELD);
  assert.deepEqual([gf!['ioid'], gf!['status']], [ioid1, OK]);
  checkNTScalarType(gf!['type'], 'string');
  assert.deepEqual(fieldNames(gf!['type']), ['value', 'alarm', 'timeStamp', 'display', 'control']);
});

test('pvacpp-server-segmented: a 512x512 ushort image in first/middle/last segments', { skip }, () => {
  const conns = allModes('pvacpp-server-segmented');
  assert.equal(conns.length, 3);
  checkHandshake(conns[0]!, { bufferSize: 0x4400 }, { bufferSize: 0x400000, cached: true });
  checkHandshake(conns[1]!, { bufferSize: 0x4400 }, { bufferSize: 0x10000, cached: false }); // PVXS client
  checkHandshake(conns[2]!, { bufferSize: 0x4400 }, { bufferSize: 0x400000, cached: true });
  // Requests: pvget -r 'field(dimension,attribute,uniqueId)', pvxget (field()), pvget.
  const infos = conns.map((c) => byCmd(c.client, Cmd.GET, (d) => d['sub'] === Sub.INIT)[0]!['requestInfo'].fields);
  assert.deepEqual(infos, [['dimension', 'attribute', 'uniqueId'], [], []]);
  const listed = load('pvacpp-server-segmented')
    .listing.filter((b) => b.proto === 'TCP')
    .flatMap((b) => b.segments);
  assert.deepEqual(
    listed.filter((s) => s.segment !== 'none').map((s) => [s.segment, s.flags, s.len]),
    [0, 1, 2].flatMap(() => [
      ['first', 0x50, 129],
      ['middle', 0x70, 524288],
      ['last', 0x60, 11],
    ]),
  );
  for (const [ci, c] of conns.entries()) {
    const [init, data] = byCmd(c.server, Cmd.GET);
    const type = init!['type'] as StructureDesc;
    assert.equal(type.id, 'epics:nt/NTNDArray:1.0');
    // The QSRV "group" variant: value is `any`, dimension elements only have `size`, no uniqueId.
    assert.deepEqual(fieldNames(type), ['record', 'alarm', 'timeStamp', 'attribute', 'value', 'dimension']);
    assert.equal(member(type, 'value').kind, 'any');
    assert.equal(data!['size'], 129 + 524288 + 11, `conn ${ci}: segments joined`);
    assert.deepEqual(bits(data!['changed']), [0]);
    const v = data!['value'] as PVStructure;
    assert.deepEqual(v['dimension'], [{ size: 512 }, { size: 512 }]);
    assert.equal(v['uniqueId'], undefined);
    assert.deepEqual(v['record'], { _options: { queueSize: 0, atomic: true } });
    assert.deepEqual(v['alarm'], { severity: 0, status: 0, message: 'NO_ALARM' });
    assert.equal(v['attribute'].length, 2);
    assert.equal(v['attribute'][0].name, 'ColorMode');
    assert.deepEqual(v['attribute'][0].value, { type: { kind: 'scalar', type: 'int' }, value: 0 });
    assert.deepEqual(v['value'].type, { kind: 'scalarArray', type: 'ushort', arrayKind: 'variable', bound: 0 });
    const px = v['value'].value as Uint16Array;
    assert.ok(px instanceof Uint16Array);
    assert.equal(px.length, 512 * 512);
    // The test pattern: a ramp along x (x*128-1), with white grid lines every 50 pixels.
    let bad = 0;
    for (let i = 0; i < px.length; i++) {
      const x = i % 512;
      const y = (i / 512) | 0;
      const want = x % 50 === 49 || y % 50 === 49 ? 65535 : x === 0 ? 0 : x * 128 - 1;
      if (px[i] !== want) bad++;
    }
    assert.equal(bad, 0, `conn ${ci}: pixels off the test pattern`);
    assert.deepEqual(Array.from(px.subarray(0, 6)), [0, 127, 255, 383, 511, 639]);
  }
  assert.deepEqual(
    byCmd(conns[1]!.client, Cmd.DESTROY_REQUEST).map((d) => d['ioid']),
    [0x10002000],
  );
});

test('pvxs-client-pipeline-segmented: PVXS pipeline monitor (queueSize 4, acks of 2) and an empty double[]', { skip }, () => {
  const [mon, wf] = allModes('pvxs-client-pipeline-segmented') as [ConnTranscript, ConnTranscript];
  checkHandshake(mon, { bufferSize: 0x4400 }, { bufferSize: 0x10000, cached: false });
  checkHandshake(wf, { bufferSize: 0x4400 }, { bufferSize: 0x10000, cached: false });
  assert.deepEqual(byCmd(mon.client, Cmd.CREATE_CHANNEL)[0]!['channels'], [{ cid: 0x12345678, name: 'TST:tick' }]);
  const [init, start, ...acks] = byCmd(mon.client, Cmd.MONITOR);
  assert.equal(init!['sub'], Sub.PIPELINE_INIT);
  assert.equal(init!['nfree'], 4);
  assert.deepEqual(init!['requestInfo'], { fields: ['value'], options: { pipeline: 'true', queueSize: '4' }, fieldOptions: {} });
  assert.deepEqual(fieldNames(init!['request'].type), ['field', 'record']);
  assert.equal(start!['sub'], Sub.MONITOR_START);
  assert.equal(acks.length, 16);
  for (const a of acks) assert.deepEqual([a['sub'], a['nfree']], [Sub.ACK, 2]);
  const [mInit, ...updates] = byCmd(mon.server, Cmd.MONITOR);
  checkFullNTScalarDouble(mInit!['type']);
  assert.deepEqual(
    updates.map((u) => u['value'].value),
    Array.from({ length: 31 }, (_, i) => 35 + i),
  );
  assert.deepEqual(
    byCmd(mon.client, Cmd.DESTROY_REQUEST).map((d) => d['ioid']),
    [0x10002000],
  );
  const w = checkWindowInCaptureOrder(mon.conn);
  assert.deepEqual([w.updates, w.acks], [31, 16]);
  assert.ok(w.minWindow >= 0);

  const [gInit, gData] = byCmd(wf.server, Cmd.GET);
  const type = gInit!['type'] as StructureDesc;
  assert.equal(type.id, 'epics:nt/NTScalarArray:1.0');
  assert.deepEqual(member(type, 'value'), { kind: 'scalarArray', type: 'double', arrayKind: 'variable', bound: 0 });
  assert.deepEqual(byCmd(wf.client, Cmd.GET, (d) => d['sub'] === Sub.INIT)[0]!['request'].value, { field: {} });
  const v = gData!['value'] as PVStructure;
  assert.ok(v['value'] instanceof Float64Array && v['value'].length === 0);
  assert.deepEqual(v['alarm'], { severity: 3, status: 2, message: 'UDF' });
});

test('pvxs-server-ntndarray-monitor: 614 KB NTNDArray frames from PVXS, pipelined', { skip }, () => {
  const [t] = allModes('pvxs-server-ntndarray-monitor') as [ConnTranscript];
  checkHandshake(t, { bufferSize: 0x10000 }, { bufferSize: 0x400000, cached: true });
  assert.deepEqual(
    byCmd(t.server, Cmd.CREATE_CHANNEL).map((d) => [d['cid'], d['sid']]),
    [[0x10203041, 0x07050301]],
  );
  const [init, start, ...acks] = byCmd(t.client, Cmd.MONITOR);
  assert.deepEqual([init!['sub'], init!['nfree']], [Sub.PIPELINE_INIT, 4]);
  assert.deepEqual(init!['requestInfo'], { fields: [], options: { pipeline: 'true', queueSize: '4' }, fieldOptions: {} });
  assert.equal(start!['sub'], Sub.MONITOR_START);
  assert.deepEqual(
    acks.map((a) => a['nfree']),
    Array(10).fill(2),
  );

  const [mInit, ...frames] = byCmd(t.server, Cmd.MONITOR);
  const type = mInit!['type'] as StructureDesc;
  assert.equal(t.decoder.serverTypes.size, 0, 'PVXS sends types without cache ids');
  assert.equal(type.id, 'epics:nt/NTNDArray:1.0');
  assert.deepEqual(fieldNames(type), [
    'value',
    'codec',
    'compressedSize',
    'uncompressedSize',
    'dimension',
    'uniqueId',
    'dataTimeStamp',
    'attribute',
    'descriptor',
    'alarm',
    'timeStamp',
    'display',
  ]);
  assert.deepEqual(fieldNames(member(type, 'value')), [
    'booleanValue',
    'byteValue',
    'shortValue',
    'intValue',
    'longValue',
    'ubyteValue',
    'ushortValue',
    'uintValue',
    'ulongValue',
    'floatValue',
    'doubleValue',
  ]);
  assert.equal((member(type, 'codec') as StructureDesc).id, 'codec_t');
  const dim = member(type, 'dimension');
  assert.ok(dim.kind === 'structureArray' && dim.element.id === 'dimension_t');
  const attr = member(type, 'attribute');
  assert.ok(attr.kind === 'structureArray' && attr.element.id === 'epics:nt/NTAttribute:1.0');

  assert.equal(frames.length, 21);
  assert.deepEqual(
    frames.map((f) => f['size']),
    [614634, ...Array(20).fill(614602)],
  );
  assert.deepEqual(bits(frames[0]!['changed']), [1, 3, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 20, 21, 22]);
  for (const [i, f] of frames.entries()) {
    const v = f['value'] as PVStructure;
    const uid = 29 + i;
    assert.equal(v['uniqueId'], uid, 'uniqueId increases by 1');
    assert.ok(f['overrun'].isEmpty());
    if (i > 0) assert.deepEqual(bits(f['changed']), [1, 3, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 18, 20, 21, 22]);
    assert.equal(v['value'].field, 'ushortValue');
    const px = v['value'].value as Uint16Array;
    assert.ok(px instanceof Uint16Array);
    assert.equal(px.length, 640 * 480);
    assert.equal(v['compressedSize'], 614400n);
    assert.equal(v['uncompressedSize'], 614400n);
    assert.deepEqual(v['codec'], { name: '', parameters: null });
    assert.deepEqual(v['dimension'], [
      { size: 640, offset: 0, fullSize: 640, binning: 1, reverse: false },
      { size: 480, offset: 0, fullSize: 480, binning: 1, reverse: false },
    ]);
    assert.deepEqual(
      v['attribute'].map((a: Rec) => [a['name'], a['value'].value, a['value'].type.type]),
      [
        ['ColorMode', 0, 'int'],
        ['FrameCounter', uid, 'double'],
      ],
    );
    assert.equal(v['descriptor'], 'synthetic NTNDArray test source', 'sent once, kept afterwards');
    assert.deepEqual(v['dataTimeStamp'], v['timeStamp']);
    // Pattern: ((x + y + uniqueId) mod 256) in the high byte.
    let bad = 0;
    for (let k = 0; k < px.length; k++) {
      const x = k % 640;
      const y = (k / 640) | 0;
      if (px[k] !== ((x + y + uid) & 0xff) << 8) bad++;
    }
    assert.equal(bad, 0, `frame ${uid}: pixels off the pattern`);
  }
  const w = checkWindowInCaptureOrder(t.conn);
  assert.deepEqual([w.updates, w.acks], [21, 10]);
});

test('udp-search-beacon and pvacpp UDP: each datagram frames as listed and decodes', { skip }, () => {
  for (const name of ['udp-search-beacon', 'pvacpp-get-put-monitor'] as const) {
    const { capture, listing } = load(name);
    const blocks = listing.filter((b) => b.proto === 'UDP');
    assert.equal(blocks.length, capture.udp.length, `${name}: one listing block per datagram`);
    capture.udp.forEach((dg, i) => {
      const b = blocks[i]!;
      const where = `${name} datagram ${i} (listing line ${b.line})`;
      assert.deepEqual([dg.src, dg.dst], [b.src, b.dst], where);
      const { messages, wireBytes } = expectedMessages(b.segments, where);
      assert.equal(dg.payload.length, wireBytes, `${where}: size`);
      const seen: AppMessage[] = [];
      frameStream(dg.payload, 'one chunk', i, messages, where, (m) => {
        assert.ok(!m.control, `${where}: no control messages on UDP`);
        seen.push(m);
      });
      for (const m of seen) {
        const r = read(m);
        if (m.command === Cmd.SEARCH) {
          r.skip(4 + 4 + 16 + 2);
          assert.deepEqual(
            Array.from({ length: r.count('protocols') }, () => r.string()),
            ['tcp'],
          );
          const n = r.u16();
          const names = Array.from({ length: n }, () => ({ id: r.i32(), name: r.string() }));
          assert.ok(
            names.every((c) => /^TST:/.test(c.name)),
            where,
          );
        } else if (m.command === Cmd.SEARCH_RESPONSE) {
          assert.equal(m.littleEndian, false, 'PVXS answers searches big-endian');
          r.skip(12 + 4 + 16);
          assert.equal(r.u16(), 5075);
          assert.equal(r.string(), 'tcp');
          assert.equal(r.bool(), true);
          assert.equal(r.u16(), 1);
          r.i32();
        } else if (m.command === Cmd.BEACON) {
          assert.equal(m.littleEndian, false, 'PVXS beacons are big-endian');
          r.skip(12 + 1 + 1 + 2 + 16);
          assert.equal(r.u16(), 5075);
          assert.equal(r.string(), 'tcp');
          assert.equal(r.u8(), 0xff, 'no server status');
        } else if (m.command === Cmd.ORIGIN_TAG) {
          assert.deepEqual(Array.from(r.bytes(16)), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
        } else {
          assert.fail(`${where}: unexpected command ${m.command}`);
        }
        assert.equal(r.remaining, 0, `${where}: command ${m.command} consumed exactly`);
      }
    });
  }
});
