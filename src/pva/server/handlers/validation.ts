// CONNECTION_VALIDATION from the client (Protocol-Messages "Connection validation"): buffer size,
// registry size, QoS, the chosen method, and for "ca" a structure {user, host}. We answer
// CONNECTION_VALIDATED (sent by the server, whatever the spec text says; reference notes 3.12).
import { decodeTyped } from '../../../pvdata/value-codec.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd } from '../../constants.js';
import { encodeStatus, STATUS_OK } from '../../status.js';
import type { ServerConnection } from '../server-conn.js';

export function onConnectionValidation(conn: ServerConnection, r: ByteReader): void {
  r.i32(); // client receive buffer size: informational
  r.i16(); // introspection registry size: nobody enforces it
  r.i16(); // quality of service: unused
  const method = r.string();
  let account = 'anonymous';
  let host = '';
  if (r.remaining > 0) {
    const cred = decodeTyped(r, conn.typeCache);
    const v = cred.value as { user?: unknown; host?: unknown } | null;
    if (method === 'ca' && v && typeof v.user === 'string') account = v.user;
    if (method === 'ca' && v && typeof v.host === 'string') host = v.host;
  }
  conn.account = account;
  conn.clientHost = host;
  conn.validated = true;
  const w = conn.out.begin(Cmd.CONNECTION_VALIDATED);
  encodeStatus(w, STATUS_OK);
  conn.out.end();
  conn.scheduleFlush();
}
