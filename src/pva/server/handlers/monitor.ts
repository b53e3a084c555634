// MONITOR (Protocol-Messages "Channel monitor"): INIT (0x08, or 0x88 followed by int32 nfree when
// the client pipelines), start 0x44, stop 0x04, ack 0x80 + int32 nfree, destroy 0x10.
// The server queue size comes from record._options.queueSize (PvaPy's serverQueueSize).
import { optionBool, optionInt } from '../../../pvdata/pvrequest.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd, Sub } from '../../constants.js';
import { MonitorOp } from '../monitor-op.js';
import type { ServerConnection } from '../server-conn.js';
import { findOp, initOperation, readOpHeader } from './common.js';
import { replyInit } from './get.js';

export const DEFAULT_QUEUE_SIZE = 4;

export function onMonitor(conn: ServerConnection, r: ByteReader): void {
  const h = readOpHeader(r);
  if (h.sub & Sub.INIT) {
    const pending = initOperation(conn, Cmd.MONITOR, h, r);
    // nfree follows the pvRequest: read it before the reader goes away.
    const nfree = h.sub & Sub.ACK ? r.i32() : 0;
    void pending.then((ctx) => {
      if (!ctx) return;
      const o = ctx.request.options;
      const queueSize = optionInt(o['queueSize']) ?? DEFAULT_QUEUE_SIZE;
      const pipeline = (h.sub & Sub.ACK) !== 0 || optionBool(o['pipeline']) === true;
      const op = new MonitorOp(conn, ctx.channel, h.ioid, ctx.selection, queueSize, pipeline, nfree || queueSize);
      conn.addOp(op);
      replyInit(conn, Cmd.MONITOR, h.ioid, ctx.selection.type);
      op.attach();
    });
    return;
  }
  const op = findOp<MonitorOp>(conn, Cmd.MONITOR, h, 'monitor');
  if (!op) return;
  if (h.sub & Sub.DESTROY) {
    conn.removeOp(h.ioid);
    return;
  }
  if (h.sub & Sub.ACK) op.ack(r.i32());
  if ((h.sub & Sub.MONITOR_START) === Sub.MONITOR_START) op.start();
  else if (h.sub & Sub.MONITOR_STOP) op.stop();
}
