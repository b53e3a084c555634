// Command → handler table for the server side.
import type { ByteReader } from '../../../pvdata/wire.js';
import { Cmd } from '../../constants.js';
import type { AppMessage } from '../../framer.js';
import type { ServerConnection } from '../server-conn.js';
import { onCreateChannel, onDestroyChannel } from './channel.js';
import { onGetField } from './get-field.js';
import { onGet } from './get.js';
import { onMonitor } from './monitor.js';
import { onPut } from './put.js';
import { onCancelRequest, onDestroyRequest, onUnsupported } from './request.js';
import { onRpc } from './rpc.js';
import { onSearch } from './search.js';
import { onConnectionValidation } from './validation.js';

export type Handler = (conn: ServerConnection, r: ByteReader, m: AppMessage) => void;

export const HANDLERS: Partial<Record<number, Handler>> = {
  [Cmd.CONNECTION_VALIDATION]: onConnectionValidation,
  [Cmd.SEARCH]: onSearch,
  [Cmd.CREATE_CHANNEL]: onCreateChannel,
  [Cmd.DESTROY_CHANNEL]: onDestroyChannel,
  [Cmd.GET]: onGet,
  [Cmd.PUT]: onPut,
  [Cmd.MONITOR]: onMonitor,
  [Cmd.RPC]: onRpc,
  [Cmd.GET_FIELD]: onGetField,
  [Cmd.DESTROY_REQUEST]: onDestroyRequest,
  [Cmd.CANCEL_REQUEST]: onCancelRequest,
  [Cmd.PUT_GET]: onUnsupported,
  [Cmd.ARRAY]: onUnsupported,
  [Cmd.PROCESS]: onUnsupported,
};
