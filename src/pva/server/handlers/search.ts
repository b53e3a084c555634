// SEARCH over TCP (clients configured with EPICS_PVA_NAME_SERVERS search the server directly):
// same payload as the UDP search; the reply SEARCH_RESPONSE goes back on this connection, with
// address 0.0.0.0 meaning "this connection's server".
import { decodeSearch, encodeSearchResponse } from '../../discovery/messages.js';
import { respondToSearch, searchResponseFor } from '../../discovery/server-discovery.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd } from '../../constants.js';
import type { ServerConnection } from '../server-conn.js';

export function onSearch(conn: ServerConnection, r: ByteReader): void {
  const search = decodeSearch(r);
  const ids = respondToSearch(search, (name) => conn.server.has(name));
  if (ids === null) return;
  const w = conn.out.begin(Cmd.SEARCH_RESPONSE);
  encodeSearchResponse(w, searchResponseFor(search, ids, conn.server.guid, conn.server.tcpPort));
  conn.out.end();
  conn.scheduleFlush();
}
