// MONITOR (Protocol-Messages "Channel monitor"): INIT (0x08, or 0x88 followed by int32 nfree when
// the client pipelines), start 0x44, stop 0x04, ack 0x80 + int32 nfree, destroy 0x10.
// The server queue size comes from record._options.queueSize (PvaPy's serverQueueSize), the reader
// policy and fill rate from record._options.policy and fillRate (src/pv/reader-options.ts); the
// distributor plugin from field(_[pydistributor=…]) or field(_[distributor=…]).
import { optionBool, selectFields } from '../../../pvdata/pvrequest.js';
import { fieldByPath } from '../../../pvdata/types.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd, Severity, Sub } from '../../constants.js';
import { distributorSettingsOf, type DistributorSettings } from '../../../pv/distributor.js';
import { readerBufferOf, type ReaderBuffer } from '../../../pv/reader-options.js';
import { MonitorOp } from '../monitor-op.js';
import type { ServerConnection } from '../server-conn.js';
import { findOp, initOperation, readOpHeader, replyError } from './common.js';
import { replyInit } from './get.js';

export const DEFAULT_QUEUE_SIZE = 4;

export function onMonitor(conn: ServerConnection, r: ByteReader): void {
  const h = readOpHeader(r);
  if (h.sub & Sub.INIT) {
    const pending = initOperation(conn, Cmd.MONITOR, 'monitor', h, r);
    // nfree follows the pvRequest: read it before the reader goes away.
    const nfree = h.sub & Sub.ACK ? r.i32() : 0;
    void pending.then((ctx) => {
      if (!ctx) return;
      let distribution: DistributorSettings | null;
      let buffer: ReaderBuffer;
      try {
        buffer = readerBufferOf(ctx.request.options);
        distribution = distributorSettingsOf(ctx.request);
      } catch (err) {
        replyError(conn, Cmd.MONITOR, h.ioid, h.sub, err);
        return;
      }
      let selection = ctx.selection;
      const type = ctx.channel.pv.type;
      if (distribution && type) {
        // The plugin shares whole updates: a distributor client gets the whole structure.
        selection = selectFields(type, []);
        if (!fieldByPath(type, distribution.trigger)) {
          const why = `${ctx.channel.name} has no field ${distribution.trigger}: every update counts as a new one for the distributor`;
          conn.sendMessage(h.ioid, Severity.WARNING, why);
        }
      }
      const refusal =
        conn.server.limitExceeded('maxMonitorsPerConnection', conn.monitors + 1, 'monitors on this connection') ??
        conn.server.limitExceeded('maxMonitors', conn.server.stats.monitors + 1, 'monitors on this server');
      if (refusal) {
        replyError(conn, Cmd.MONITOR, h.ioid, h.sub, refusal);
        return;
      }
      const o = ctx.request.options;
      const queueSize = buffer.queueSize ?? DEFAULT_QUEUE_SIZE;
      const pipeline = (h.sub & Sub.ACK) !== 0 || optionBool(o['pipeline']) === true;
      const op = new MonitorOp(conn, ctx.channel, h.ioid, selection, {
        queueSize,
        policy: buffer.policy,
        fillRate: buffer.fillRate,
        options: o,
        pipeline,
        nfree: nfree || queueSize,
        distribution,
      });
      conn.addOp(op);
      replyInit(conn, Cmd.MONITOR, h.ioid, selection.type);
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
