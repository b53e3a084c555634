// One-shot client operations: get, put, rpc and info (GET_FIELD). Each runs INIT then one
// request on a connected channel, with a deadline; a disconnect fails it with a clear error.
import { ProtocolError, TimeoutError } from '../../errors.js';
import { BitSet } from '../../pvdata/bitset.js';
import { presentFields, mergeMarked } from '../../pvdata/merge.js';
import type { PVRequest } from '../../pvdata/pvrequest.js';
import { decodeType } from '../../pvdata/type-codec.js';
import type { FieldDesc, StructureDesc } from '../../pvdata/types.js';
import { decodeBitSet, decodePartial, decodeTyped, encodeBitSet, encodePartial, encodeTyped } from '../../pvdata/value-codec.js';
import { completeStructure, defaultValue, type PVStructure, type PVValue } from '../../pvdata/values.js';
import type { ByteReader, ByteWriter } from '../../pvdata/wire.js';
import { Cmd, CMD_NAMES, Sub } from '../constants.js';
import { checkStatus, decodeStatus } from '../status.js';
import type { PvaChannel } from './channel.js';
import type { ClientConnection } from './client-conn.js';

export interface OpContext {
  nextIoid(): number;
  timeoutMs: number;
}

export interface GetResult {
  type: StructureDesc;
  value: PVStructure;
}

/**
 * Run one operation: `steps` is called with each reply (sub, reader) and returns a result to
 * finish, or undefined to wait for the next reply. Handles ids, deadline and disconnects.
 */
function runOp<T>(
  ctx: OpContext,
  channel: PvaChannel,
  cmd: number,
  start: (conn: ClientConnection, sid: number, ioid: number) => void,
  steps: (sub: number, r: ByteReader, conn: ClientConnection, sid: number, ioid: number) => T | undefined,
  destroyAfter = true,
): Promise<T> {
  const deadline = Date.now() + ctx.timeoutMs;
  return channel.whenConnected(ctx.timeoutMs).then(
    (conn) =>
      new Promise<T>((resolve, reject) => {
        const sid = channel.sid;
        const ioid = ctx.nextIoid();
        const finish = (): void => {
          clearTimeout(timer);
          conn.ops.delete(ioid);
        };
        const timer = setTimeout(
          () => {
            finish();
            if (destroyAfter) conn.destroyRequest(sid, ioid);
            reject(
              new TimeoutError(`${(CMD_NAMES[cmd] ?? 'operation').toLowerCase()} on ${channel.name} timed out after ${ctx.timeoutMs} ms`),
            );
          },
          Math.max(1, deadline - Date.now()),
        );
        conn.ops.set(ioid, {
          onReply(sub, r) {
            try {
              const res = steps(sub, r, conn, sid, ioid);
              if (res === undefined) return;
              finish();
              if (destroyAfter) conn.destroyRequest(sid, ioid);
              resolve(res);
            } catch (err) {
              finish();
              if (destroyAfter) conn.destroyRequest(sid, ioid);
              reject(err);
            }
          },
          onDisconnect(err) {
            finish();
            reject(err);
          },
        });
        start(conn, sid, ioid);
      }),
  );
}

function sendInit(conn: ClientConnection, cmd: number, sid: number, ioid: number, req: PVRequest): void {
  conn.send(cmd, (w) => {
    w.i32(sid);
    w.i32(ioid);
    w.u8(Sub.INIT);
    encodeTyped(w, req.type, req.value);
  });
}

function sendRequest(conn: ClientConnection, cmd: number, sid: number, ioid: number, sub: number, body?: (w: ByteWriter) => void): void {
  conn.send(cmd, (w) => {
    w.i32(sid);
    w.i32(ioid);
    w.u8(sub);
    body?.(w);
  });
}

function readInitType(r: ByteReader, conn: ClientConnection, what: string): StructureDesc {
  checkStatus(decodeStatus(r), what);
  const type = decodeType(r, conn.typeCache);
  if (!type || type.kind !== 'structure') throw new ProtocolError('ERR_PROTOCOL', `${what}: server sent no structure type`);
  return type;
}

export function getOp(ctx: OpContext, channel: PvaChannel, req: PVRequest): Promise<GetResult> {
  let type: StructureDesc | null = null;
  return runOp(
    ctx,
    channel,
    Cmd.GET,
    (c, sid, ioid) => sendInit(c, Cmd.GET, sid, ioid, req),
    (sub, r, conn, sid, ioid) => {
      if (sub & Sub.INIT) {
        type = readInitType(r, conn, `get ${channel.name}`);
        sendRequest(conn, Cmd.GET, sid, ioid, Sub.DEFAULT);
        return undefined;
      }
      checkStatus(decodeStatus(r), `get ${channel.name}`);
      const t = type as StructureDesc;
      const bits = decodeBitSet(r);
      const value = decodePartial(r, t, defaultValue(t) as PVStructure, bits, conn.typeCache);
      return { type: t, value };
    },
  );
}

/**
 * Put `value` (a partial structure: the fields given are the ones sent). With `merge`, the
 * current value is read first so the result of a function of it can be put (pvput's "Old:").
 */
export function putOp(
  ctx: OpContext,
  channel: PvaChannel,
  req: PVRequest,
  value: PVStructure | ((current: GetResult) => PVStructure),
): Promise<{ type: StructureDesc; previous: PVStructure | null }> {
  let type: StructureDesc | null = null;
  let previous: PVStructure | null = null;
  const send = (conn: ClientConnection, sid: number, ioid: number, v: PVStructure): void => {
    const t = type as StructureDesc;
    const bits = presentFields(t, v);
    const full = mergeMarked(t, completeStructure(t, previous ?? {}), v, new BitSet());
    sendRequest(conn, Cmd.PUT, sid, ioid, Sub.DEFAULT, (w) => {
      encodeBitSet(w, bits);
      encodePartial(w, t, full, bits);
    });
  };
  return runOp(
    ctx,
    channel,
    Cmd.PUT,
    (c, sid, ioid) => sendInit(c, Cmd.PUT, sid, ioid, req),
    (sub, r, conn, sid, ioid) => {
      if (sub & Sub.INIT) {
        type = readInitType(r, conn, `put ${channel.name}`);
        if (typeof value === 'function') sendRequest(conn, Cmd.PUT, sid, ioid, Sub.GET);
        else send(conn, sid, ioid, value);
        return undefined;
      }
      checkStatus(decodeStatus(r), `put ${channel.name}`);
      if (sub & Sub.GET) {
        const t = type as StructureDesc;
        const bits = decodeBitSet(r);
        previous = decodePartial(r, t, defaultValue(t) as PVStructure, bits, conn.typeCache);
        const fn = value as (current: GetResult) => PVStructure;
        send(conn, sid, ioid, fn({ type: t, value: previous }));
        return undefined;
      }
      return { type: type as StructureDesc, previous };
    },
  );
}

export function rpcOp(
  ctx: OpContext,
  channel: PvaChannel,
  req: PVRequest,
  args: { type: FieldDesc | null; value: PVValue },
): Promise<{ type: FieldDesc | null; value: PVValue }> {
  return runOp(
    ctx,
    channel,
    Cmd.RPC,
    (c, sid, ioid) => sendInit(c, Cmd.RPC, sid, ioid, req),
    (sub, r, conn, sid, ioid) => {
      checkStatus(decodeStatus(r), `rpc ${channel.name}`);
      if (sub & Sub.INIT) {
        sendRequest(conn, Cmd.RPC, sid, ioid, Sub.DEFAULT, (w) => encodeTyped(w, args.type, args.value));
        return undefined;
      }
      return decodeTyped(r, conn.typeCache);
    },
  );
}

export function infoOp(ctx: OpContext, channel: PvaChannel, subField = ''): Promise<FieldDesc> {
  return runOp(
    ctx,
    channel,
    Cmd.GET_FIELD,
    (conn, sid, ioid) =>
      conn.send(Cmd.GET_FIELD, (w) => {
        w.i32(sid);
        w.i32(ioid);
        w.string(subField);
      }),
    (_sub, r, conn) => {
      checkStatus(decodeStatus(r), `info ${channel.name}`);
      const type = decodeType(r, conn.typeCache);
      if (!type) throw new ProtocolError('ERR_PROTOCOL', `info ${channel.name}: server sent no type`);
      return type;
    },
    false,
  );
}
