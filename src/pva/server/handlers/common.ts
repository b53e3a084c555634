// Pieces every operation handler uses: the request header, status replies, and INIT set-up
// (find the channel, wait for its PV to open, apply the pvRequest's field selection).
import { SluiceError } from '../../../errors.js';
import { fieldByPath } from '../../../pvdata/types.js';
import { Severity } from '../../constants.js';
import { readPVRequest, selectFields, type FieldSelection, type RequestInfo } from '../../../pvdata/pvrequest.js';
import { decodeTyped } from '../../../pvdata/value-codec.js';
import type { ByteReader } from '../../../pvdata/wire.js';
import { errorStatus, encodeStatus, type Status } from '../../status.js';
import { authorizeRefusal } from '../../../pv/authorize.js';
import type { OperationKind } from '../../../pv/source.js';
import type { ServerChannel, ServerConnection } from '../server-conn.js';

export interface OpHeader {
  sid: number;
  ioid: number;
  sub: number;
}

export function readOpHeader(r: ByteReader): OpHeader {
  return { sid: r.i32(), ioid: r.i32(), sub: r.u8() };
}

/** Reply `ioid, subcommand, status` (and nothing else). */
export function replyStatus(conn: ServerConnection, cmd: number, ioid: number, sub: number, status: Status): void {
  const w = conn.out.begin(cmd);
  w.i32(ioid);
  w.u8(sub);
  encodeStatus(w, status);
  conn.out.end();
  conn.scheduleFlush();
}

export function replyError(conn: ServerConnection, cmd: number, ioid: number, sub: number, err: unknown): void {
  // A SluiceError's stable code travels in the status's call-tree text, where clients find it
  // (the message stays the message that tools such as pvput print).
  const code = err instanceof SluiceError ? err.code : '';
  replyStatus(conn, cmd, ioid, sub, errorStatus(err instanceof Error ? err.message : String(err), code ? `code: ${code}` : ''));
}

export interface InitContext {
  channel: ServerChannel;
  request: RequestInfo;
  selection: FieldSelection;
}

/**
 * Common INIT: decode the pvRequest now (the reader is only valid synchronously), then wait for
 * the PV to be open, ask its Source to authorize `operation` (Source.authorize) and build the
 * field selection. Resolves to null after replying with an error status, or when the connection
 * closed meanwhile.
 */
export function initOperation(
  conn: ServerConnection,
  cmd: number,
  operation: OperationKind,
  h: OpHeader,
  r: ByteReader,
  needOpen = true,
): Promise<InitContext | null> {
  // Decoded here, synchronously, so that a malformed pvRequest throws into the connection's
  // message handler (which closes the connection with the reason). Inside the async part it would
  // become an unhandled rejection, which terminates the whole process.
  const req = decodeTyped(r, conn.typeCache);
  return initWithRequest(conn, cmd, operation, h, req, needOpen);
}

async function initWithRequest(
  conn: ServerConnection,
  cmd: number,
  operation: OperationKind,
  h: OpHeader,
  req: ReturnType<typeof decodeTyped>,
  needOpen: boolean,
): Promise<InitContext | null> {
  const channel = conn.channel(h.sid);
  if (!channel) {
    replyError(conn, cmd, h.ioid, h.sub, `no channel with server id ${h.sid}`);
    return null;
  }
  if (conn.ops.has(h.ioid)) {
    replyError(conn, cmd, h.ioid, h.sub, `request id ${h.ioid} is already in use`);
    return null;
  }
  let request: RequestInfo;
  try {
    request = readPVRequest(req.type, req.value);
  } catch (err) {
    replyError(conn, cmd, h.ioid, h.sub, err);
    return null;
  }
  if (needOpen) await channel.pv.whenOpen();
  if (conn.closed || conn.channel(h.sid) !== channel) return null; // gone, or being dropped
  const type = channel.pv.type;
  if (needOpen && !type) {
    replyError(conn, cmd, h.ioid, h.sub, `PV ${channel.name} closed`);
    return null;
  }
  // The server's access rules let the channel be created; the Source may still refuse this.
  const refused = authorizeRefusal(channel.pv, {
    operation,
    options: request.options,
    peer: conn.peerName(),
    account: conn.account,
    channel: channel.name,
  });
  if (refused) {
    conn.server.stats.denied++;
    conn.server.access.log(`${channel.name}: ${operation} refused: ${refused.message} [pvAccess peer ${conn.peerName()}]`);
    replyError(conn, cmd, h.ioid, h.sub, refused);
    return null;
  }
  try {
    const selection = type ? selectFields(type, request.fields) : (null as unknown as FieldSelection);
    // Requested fields that do not exist are dropped; say so, as pvAccessCPP servers do.
    const missing = type ? request.fields.filter((f) => !fieldByPath(type, f)) : [];
    if (missing.length) conn.sendMessage(h.ioid, Severity.WARNING, `${channel.name} has no field ${missing.join(', ')}`);
    return { channel, request, selection };
  } catch (err) {
    replyError(conn, cmd, h.ioid, h.sub, err);
    return null;
  }
}

/** The operation a non-INIT message refers to, of the expected kind, or a reply with an error. */
export function findOp<T>(conn: ServerConnection, cmd: number, h: OpHeader, kind: string): T | null {
  const op = conn.ops.get(h.ioid);
  if (!op || op.kind !== kind || op.channel.sid !== h.sid) {
    replyError(conn, cmd, h.ioid, h.sub, new SluiceError('ERR_INVALID_ARGUMENT', `no ${kind} request with id ${h.ioid}`));
    return null;
  }
  return op as unknown as T;
}
