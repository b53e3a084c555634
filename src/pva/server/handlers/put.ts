// PUT (Protocol-Messages "Channel put"): INIT replies with the put type; subcommand 0x40 reads
// the current value (pvput prints it as "Old:"); 0x00 carries BitSet + values to apply.
import { SluiceError } from '../../../errors.js';
import { describeClient } from '../../../access/policy.js';
import { decodeBitSet, decodePartial } from '../../../pvdata/value-codec.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd, Sub } from '../../constants.js';
import { STATUS_OK } from '../../status.js';
import type { ServerConnection } from '../server-conn.js';
import { findOp, readOpHeader, replyError, replyStatus } from './common.js';
import { initValueOp, replyCurrent, type ValueOp } from './get.js';

export function onPut(conn: ServerConnection, r: ByteReader): void {
  const h = readOpHeader(r);
  if (h.sub & Sub.INIT) return initValueOp(conn, Cmd.PUT, 'put', h, r);
  const op = findOp<ValueOp>(conn, Cmd.PUT, h, 'put');
  if (!op) return;
  const pv = op.channel.pv;
  const current = pv.value;
  const done = (): void => {
    if (h.sub & Sub.DESTROY) conn.removeOp(h.ioid);
  };
  if (!current) {
    replyError(conn, Cmd.PUT, h.ioid, h.sub, `PV ${op.channel.name} is closed`);
    return done();
  }
  if (h.sub & Sub.GET) {
    replyCurrent(conn, Cmd.PUT, h.sub, op);
    return done();
  }
  // Refused before decoding: a client that may not put costs no allocation.
  const refused = conn.refusal('put', op.channel);
  if (refused) {
    replyError(conn, Cmd.PUT, h.ioid, h.sub, refused);
    return done();
  }
  // Decode now: the reader is only valid during this call.
  const sel = op.selection;
  const bits = decodeBitSet(r);
  const reduced = decodePartial(r, sel.type, sel.project(current), bits, conn.typeCache);
  const value = sel.inject(current, reduced);
  const changed = sel.unmapBits(bits);
  if (!pv.acceptsPut) {
    replyError(conn, Cmd.PUT, h.ioid, h.sub, new SluiceError('ERR_NOT_SUPPORTED', `PV ${op.channel.name} is read-only`));
    return done();
  }
  conn.server.stats.puts++;
  const trapped = op.channel.rights.trapWrite;
  const applied = (): void => {
    if (trapped) conn.server.access.log(`put to ${op.channel.name} by ${describeClient(conn.identity)} [pvAccess peer ${conn.peerName()}]`);
    replyStatus(conn, Cmd.PUT, h.ioid, h.sub, STATUS_OK);
    done();
  };
  const failed = (err: unknown): void => {
    replyError(conn, Cmd.PUT, h.ioid, h.sub, err);
    done();
  };
  // A source that applies the put at once is answered at once (no promise per put: a streaming
  // writer's puts cost what their values cost); one that returns a promise is answered when it settles.
  let result: void | Promise<void>;
  try {
    result = pv.handlePut({ value, changed, options: op.options, peer: conn.peerName(), account: conn.account, channel: op.channel.name });
  } catch (err) {
    return failed(err);
  }
  if (result && typeof (result as Promise<void>).then === 'function') (result as Promise<void>).then(applied, failed);
  else applied();
}
