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
    // A client that may not read the channel does not get it (the status says why).
    const rights = conn.rightsFor(name, pv);
    const refused = conn.refusal('read', { name, rights });
    if (refused) {
      w.i32(-1);
      encodeStatus(w, errorStatus(refused.message));
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
    // The PV closed: its monitors end; the channel stays (see ServerConnection.pvClosed).
    const detach = pv.onClosed(() => {
      const ch = conn.channel(sid);
      if (ch) conn.pvClosed(ch);
    });
    conn.channels.set(sid, { sid, cid, name, pv, ops: new Set(), detach, rights });
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
