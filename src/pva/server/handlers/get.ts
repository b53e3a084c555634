// GET (Protocol-Messages "Channel get"): INIT replies with the (field-selected) type; each GET
// replies with a BitSet and the values. We always send the whole selection (bit 0).
import { BitSet } from '../../../pvdata/bitset.js';
import type { FieldSelection } from '../../../pvdata/pvrequest.js';
import { encodeBitSet, encodePartial } from '../../../pvdata/value-codec.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import type { PVStructure } from '../../../pvdata/values.js';
import type { FieldDesc } from '../../../pvdata/types.js';
import { Cmd, Sub } from '../../constants.js';
import { encodeStatus, STATUS_OK } from '../../status.js';
import { encodeType } from '../../../pvdata/type-codec.js';
import type { ServerChannel, ServerConnection, ServerOp } from '../server-conn.js';
import { findOp, initOperation, readOpHeader, replyError, type OpHeader } from './common.js';

export class ValueOp implements ServerOp {
  constructor(
    readonly kind: 'get' | 'put',
    readonly ioid: number,
    readonly channel: ServerChannel,
    readonly selection: FieldSelection,
    readonly options: Record<string, string>,
  ) {}
  destroy(): void {}
}

/** Reply header + status + type, for a successful INIT. */
export function replyInit(conn: ServerConnection, cmd: number, ioid: number, type: FieldDesc): void {
  const w = conn.out.begin(cmd);
  w.i32(ioid);
  w.u8(Sub.INIT);
  encodeStatus(w, STATUS_OK);
  encodeType(w, type);
  conn.out.end();
  conn.scheduleFlush();
}

/** Reply OK, `BitSet{0}` and the whole current value; an error status if it does not encode. */
export function replyCurrent(conn: ServerConnection, cmd: number, sub: number, op: ValueOp): void {
  const v = op.channel.pv.value as PVStructure;
  try {
    conn.out.message(cmd, (w) => {
      w.i32(op.ioid);
      w.u8(sub);
      encodeStatus(w, STATUS_OK);
      const all = BitSet.of(0);
      encodeBitSet(w, all);
      encodePartial(w, op.selection.type, op.selection.project(v), all);
    });
  } catch (err) {
    replyError(conn, cmd, op.ioid, sub, `value of ${op.channel.name} does not fit its type: ${(err as Error).message}`);
  }
  conn.scheduleFlush();
}

/** INIT of a GET or PUT: register the operation and reply with its (selected) type. */
export function initValueOp(conn: ServerConnection, cmd: number, kind: 'get' | 'put', h: OpHeader, r: ByteReader): void {
  void initOperation(conn, cmd, kind, h, r).then((ctx) => {
    if (!ctx) return;
    const op = new ValueOp(kind, h.ioid, ctx.channel, ctx.selection, ctx.request.options);
    conn.addOp(op);
    replyInit(conn, cmd, h.ioid, op.selection.type);
  });
}

export function onGet(conn: ServerConnection, r: ByteReader): void {
  const h = readOpHeader(r);
  if (h.sub & Sub.INIT) return initValueOp(conn, Cmd.GET, 'get', h, r);
  const op = findOp<ValueOp>(conn, Cmd.GET, h, 'get');
  if (!op) return;
  if (!op.channel.pv.value) {
    replyError(conn, Cmd.GET, h.ioid, h.sub, `PV ${op.channel.name} is closed`);
  } else replyCurrent(conn, Cmd.GET, h.sub, op);
  if (h.sub & Sub.DESTROY) conn.removeOp(h.ioid);
}
