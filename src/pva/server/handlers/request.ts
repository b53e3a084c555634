// DESTROY_REQUEST and CANCEL_REQUEST (server channel id + request id), and the operations we
// do not offer (PUT_GET, ARRAY, PROCESS), which get an error status so clients fail cleanly.
import { SluiceError } from '../../../errors.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import type { AppMessage } from '../../framer.js';
import type { ServerConnection } from '../server-conn.js';
import { readOpHeader, replyError } from './common.js';

export function onDestroyRequest(conn: ServerConnection, r: ByteReader): void {
  r.i32(); // server channel id
  conn.removeOp(r.i32());
}

export function onCancelRequest(_conn: ServerConnection, r: ByteReader): void {
  r.i32();
  r.i32();
  // Our GET/PUT/RPC replies are not interruptible; a cancel only drops the pending reply's
  // meaning for the client, which ignores it. Nothing to do here.
}

export function onUnsupported(conn: ServerConnection, r: ByteReader, m: AppMessage): void {
  const h = readOpHeader(r);
  replyError(
    conn,
    m.command,
    h.ioid,
    h.sub,
    new SluiceError('ERR_NOT_SUPPORTED', `operation ${m.command} is not supported by this server`),
  );
}
