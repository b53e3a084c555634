// A pvAccess client done by hand over a raw TCP socket, for tests that must misbehave on purpose
// (send junk, stop reading, ack late). Messages are built with our own encoders; replies are
// collected whole by a MessagePeer.
import { connect, type Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { parsePVRequest } from '../../src/pvdata/pvrequest.js';
import { TypeCache, decodeType } from '../../src/pvdata/type-codec.js';
import type { StructureDesc } from '../../src/pvdata/types.js';
import { decodeBitSet, decodePartial, encodeTyped } from '../../src/pvdata/value-codec.js';
import { defaultValue, type PVStructure } from '../../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../../src/pvdata/wire.js';
import { Cmd, Sub } from '../../src/pva/constants.js';
import { decodeStatus, type Status } from '../../src/pva/status.js';
import type { BitSet } from '../../src/pvdata/bitset.js';
import { headerOf, message, MessagePeer, payloadOf } from './messages.js';

/** A client message built with our encoders (little-endian, as our server announces). */
export function build(command: number, body: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(true);
  body(w);
  return message(command, 0x00, new Uint8Array(Buffer.concat(w.take())));
}

export async function rawConnect(
  port: number,
  options: { keep?: boolean; onMessage?: (m: Uint8Array) => void } = {},
): Promise<{ sock: Socket; peer: MessagePeer }> {
  const sock = connect({ port, host: '127.0.0.1', noDelay: true });
  sock.on('error', () => {}); // resets by the server are expected in these tests
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  return { sock, peer: new MessagePeer(sock, options) };
}

export const VALIDATION_ANONYMOUS = build(Cmd.CONNECTION_VALIDATION, (w) => {
  w.i32(0x10000);
  w.i16(0x7fff);
  w.i16(0);
  w.string('anonymous');
  w.u8(0xff);
});

/** Wait for the greeting, validate, wait for CONNECTION_VALIDATED. */
export async function handshake(peer: MessagePeer): Promise<void> {
  await peer.waitCount(2);
  peer.send(VALIDATION_ANONYMOUS);
  await peer.waitCount(3);
  const v = peer.messages[2]!;
  if (headerOf(v).command !== Cmd.CONNECTION_VALIDATED) throw new Error('no CONNECTION_VALIDATED');
}

/** The next message with this command (skipping others, e.g. MESSAGE notes). */
export async function nextOf(peer: MessagePeer, command: number, timeoutMs = 5000): Promise<Uint8Array> {
  for (;;) {
    const m = await peer.next(timeoutMs);
    if (headerOf(m).command === command) return m;
  }
}

export async function createChannel(peer: MessagePeer, name: string, cid: number): Promise<number> {
  peer.send(
    build(Cmd.CREATE_CHANNEL, (w) => {
      w.u16(1);
      w.i32(cid);
      w.string(name);
    }),
  );
  const r = new ByteReader(payloadOf(await nextOf(peer, Cmd.CREATE_CHANNEL)), true);
  if (r.i32() !== cid) throw new Error('CREATE_CHANNEL reply for another cid');
  const sid = r.i32();
  const st = decodeStatus(r);
  if (st.type > 1) throw new Error(`create ${name}: ${st.message}`);
  return sid;
}

export function initRequest(command: number, sid: number, ioid: number, request = '', nfree?: number): Uint8Array {
  const req = parsePVRequest(request);
  return build(command, (w) => {
    w.i32(sid);
    w.i32(ioid);
    w.u8(nfree === undefined ? Sub.INIT : Sub.PIPELINE_INIT);
    encodeTyped(w, req.type, req.value);
    if (nfree !== undefined) w.i32(nfree);
  });
}

export function opRequest(command: number, sid: number, ioid: number, sub: number, body?: (w: ByteWriter) => void): Uint8Array {
  return build(command, (w) => {
    w.i32(sid);
    w.i32(ioid);
    w.u8(sub);
    body?.(w);
  });
}

/** ioid, subcommand and status of an operation reply (GET_FIELD replies have no subcommand). */
export function replyHead(m: Uint8Array): { command: number; ioid: number; sub: number; status: Status; r: ByteReader } {
  const h = headerOf(m);
  const r = new ByteReader(payloadOf(m), (h.flags & 0x80) === 0);
  const ioid = r.i32();
  const sub = h.command === Cmd.GET_FIELD ? 0 : r.u8();
  // Monitor updates (subcommand 0) carry no status; every other reply does.
  const status = h.command === Cmd.MONITOR && sub === Sub.DEFAULT ? { type: 0, message: '', stack: '' } : decodeStatus(r);
  return { command: h.command, ioid, sub, status, r };
}

/** INIT reply → the type; throws on an error status. */
export function initReplyType(m: Uint8Array, cache = new TypeCache()): StructureDesc {
  const { status, r } = replyHead(m);
  if (status.type > 1) throw new Error(`INIT failed: ${status.message}`);
  const type = decodeType(r, cache);
  if (!type || type.kind !== 'structure') throw new Error('INIT reply without a structure');
  return type;
}

/** A monitor update: changed bits, the value (applied to `base`), overrun bits. */
export function monitorUpdate(
  m: Uint8Array,
  type: StructureDesc,
  base?: PVStructure,
): { changed: BitSet; value: PVStructure; overrun: BitSet } {
  const r = new ByteReader(payloadOf(m), true);
  r.skip(5);
  const changed = decodeBitSet(r);
  const value = decodePartial(r, type, base ?? (defaultValue(type) as PVStructure), changed, new TypeCache());
  const overrun = decodeBitSet(r);
  return { changed, value, overrun };
}

let gcFn: (() => void) | null = null;
/** A full garbage collection (V8's gc(), made available at run time) for memory assertions. */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

/** Bytes held by ArrayBuffers/Buffers after a full GC: what a test's data actually retains. */
export function retainedBuffers(): number {
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
}
