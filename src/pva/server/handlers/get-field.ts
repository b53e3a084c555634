// GET_FIELD (Protocol-Messages "Get channel type introspection data"), used by pvinfo:
// server channel id, request id, sub-field name ("" = all) → status + FieldDesc.
import { encodeType } from '../../../pvdata/type-codec.js';
import { fieldByPath } from '../../../pvdata/types.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd } from '../../constants.js';
import { encodeStatus, errorStatus, STATUS_OK } from '../../status.js';
import type { ServerConnection } from '../server-conn.js';

export function onGetField(conn: ServerConnection, r: ByteReader): void {
  const sid = r.i32();
  const ioid = r.i32();
  const subField = r.string();
  const channel = conn.channel(sid);
  const reply = (fn: (w: ReturnType<typeof conn.out.begin>) => void): void => {
    const w = conn.out.begin(Cmd.GET_FIELD);
    w.i32(ioid);
    fn(w);
    conn.out.end();
    conn.scheduleFlush();
  };
  if (!channel) {
    reply((w) => encodeStatus(w, errorStatus(`no channel with server id ${sid}`)));
    return;
  }
  void channel.pv.whenOpen().then(() => {
    if (conn.closed) return;
    const type = channel.pv.type;
    const field = type ? fieldByPath(type, subField) : undefined;
    if (!field) {
      reply((w) => encodeStatus(w, errorStatus(type ? `no field '${subField}' in ${channel.name}` : `PV ${channel.name} closed`)));
      return;
    }
    reply((w) => {
      encodeStatus(w, STATUS_OK);
      encodeType(w, field);
    });
  });
}
