// RPC (Protocol-Messages "Channel RPC"): INIT (pvRequest) → status; each request carries a typed
// argument (FieldDesc + value, usually NTURI-like) and gets a typed result or an error status.
import { SluiceError } from '../../../errors.js';
import { inferType } from '../../../pvdata/infer.js';
import type { FieldDesc } from '../../../pvdata/types.js';
import { decodeTyped, encodeTyped } from '../../../pvdata/value-codec.js';
import type { PVValue } from '../../../pvdata/values.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd, Sub } from '../../constants.js';
import { encodeStatus, STATUS_OK } from '../../status.js';
import type { RpcResult } from '../../../pv/source.js';
import type { ServerChannel, ServerConnection, ServerOp } from '../server-conn.js';
import { findOp, initOperation, readOpHeader, replyError, replyStatus } from './common.js';

class RpcOp implements ServerOp {
  readonly kind = 'rpc';
  constructor(
    readonly ioid: number,
    readonly channel: ServerChannel,
  ) {}
  destroy(): void {}
}

function normalize(res: RpcResult): { type: FieldDesc; value: PVValue } {
  const r = res as { type?: { kind?: unknown }; value?: PVValue };
  if (r && typeof r === 'object' && r.type && typeof r.type.kind === 'string' && 'value' in r) {
    return res as { type: FieldDesc; value: PVValue };
  }
  return { type: inferType(res as PVValue), value: res as PVValue };
}

export function onRpc(conn: ServerConnection, r: ByteReader): void {
  const h = readOpHeader(r);
  if (h.sub & Sub.INIT) {
    void initOperation(conn, Cmd.RPC, 'rpc', h, r, false).then((ctx) => {
      if (!ctx) return;
      if (!ctx.channel.pv.acceptsRpc) {
        replyError(conn, Cmd.RPC, h.ioid, h.sub, new SluiceError('ERR_NOT_SUPPORTED', `PV ${ctx.channel.name} does not support RPC`));
        return;
      }
      conn.addOp(new RpcOp(h.ioid, ctx.channel));
      replyStatus(conn, Cmd.RPC, h.ioid, Sub.INIT, STATUS_OK);
    });
    return;
  }
  const op = findOp<RpcOp>(conn, Cmd.RPC, h, 'rpc');
  if (!op) return;
  const args = decodeTyped(r, conn.typeCache);
  const pv = op.channel.pv;
  const refused = conn.refusal('rpc', op.channel);
  if (refused) {
    replyError(conn, Cmd.RPC, h.ioid, h.sub, refused);
    if (h.sub & Sub.DESTROY) conn.removeOp(h.ioid);
    return;
  }
  conn.server.stats.rpcs++;
  Promise.resolve()
    .then(() => {
      if (!pv.acceptsRpc) throw new SluiceError('ERR_NOT_SUPPORTED', `PV ${op.channel.name} does not support RPC`);
      return pv.handleRpc(args, { peer: conn.peerName(), account: conn.account, channel: op.channel.name });
    })
    .then(
      (res) => {
        try {
          const { type, value } = normalize(res);
          conn.out.message(Cmd.RPC, (w) => {
            w.i32(h.ioid);
            w.u8(h.sub);
            encodeStatus(w, STATUS_OK);
            encodeTyped(w, type, value);
          });
          conn.scheduleFlush();
        } catch (err) {
          replyError(conn, Cmd.RPC, h.ioid, h.sub, `RPC result of ${op.channel.name} cannot be sent: ${(err as Error).message}`);
        }
      },
      (err: unknown) => replyError(conn, Cmd.RPC, h.ioid, h.sub, err),
    )
    .finally(() => {
      if (h.sub & Sub.DESTROY) conn.removeOp(h.ioid);
    });
}
