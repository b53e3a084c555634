// CREATE_CHANNEL and DESTROY_CHANNEL (Protocol-Messages "Create channel", "Destroy channel").
// The channel count is a plain uint16 (not a Size); each channel gets its own reply.
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd } from '../../constants.js';
import { encodeStatus, errorStatus, STATUS_OK } from '../../status.js';
import type { ServerConnection } from '../server-conn.js';

export function onCreateChannel(conn: ServerConnection, r: ByteReader): void {
  const count = r.u16();
  for (let i = 0; i < count; i++) {
    const cid = r.i32();
    const name = r.string();
    const pv = conn.server.lookup(name);
    const w = conn.out.begin(Cmd.CREATE_CHANNEL);
    w.i32(cid);
    if (!pv) {
      w.i32(-1);
      encodeStatus(w, errorStatus(`no such channel: ${name}`));
      conn.out.end();
      continue;
    }
    const refusal =
      conn.server.limitExceeded('maxChannelsPerConnection', conn.channels.size + 1, 'channels on this connection') ??
      conn.server.limitExceeded('maxChannels', conn.server.stats.channels + 1, 'channels on this server');
    if (refusal) {
      w.i32(-1);
      encodeStatus(w, errorStatus(refusal.message));
      conn.out.end();
      continue;
    }
    const sid = conn.newSid();
    const detach = pv.onClosed(() => {
      // The PV went away: tell the client, as PVXS does, then forget the channel.
      const d = conn.out.begin(Cmd.DESTROY_CHANNEL);
      d.i32(sid);
      d.i32(cid);
      conn.out.end();
      conn.scheduleFlush();
      conn.destroyChannel(sid);
    });
    conn.channels.set(sid, { sid, cid, name, pv, ops: new Set(), detach });
    conn.server.stats.channels++;
    w.i32(sid);
    encodeStatus(w, STATUS_OK);
    conn.out.end();
  }
  conn.scheduleFlush();
}

export function onDestroyChannel(conn: ServerConnection, r: ByteReader): void {
  const sid = r.i32();
  const cid = r.i32();
  conn.destroyChannel(sid);
  const w = conn.out.begin(Cmd.DESTROY_CHANNEL);
  w.i32(sid);
  w.i32(cid);
  conn.out.end();
  conn.scheduleFlush();
}
