// The `sharedmem` transfer mode (Pyacq's SharedMemSender/Receiver): the output owns a ring
// buffer that readers read in place. Two scopes, chosen by the `sharedmemScope` param:
//   'threads'   (default when SharedArrayBuffer exists) a RingBuffer in a SharedArrayBuffer; the
//               params carry it to worker threads; readers get views, no copy (sharedmem-threads.ts)
//   'processes' a ring file in /dev/shm and (index, length) over a pvAccess PV (sharedmem-files.ts)
// Importing this module registers the mode.
import { InvalidArgumentError } from '../errors.js';
import { FileRingReceiver, FileRingSender } from './sharedmem-files.js';
import { SharedRingReceiver, SharedRingSender } from './sharedmem-threads.js';
import {
  registerTransferMode,
  type ConnectParams,
  type ReceiverOptions,
  type StreamReceiver,
  type StreamSender,
  type StreamSpec,
  type TransferMode,
} from './transfer.js';

export type SharedmemScope = 'threads' | 'processes';

/** The scope a spec asks for: its `sharedmemScope`, else threads when SharedArrayBuffer exists. */
export function sharedmemScope(spec: Record<string, unknown>): SharedmemScope {
  const s = spec['sharedmemScope'];
  if (s === undefined || s === null) return typeof SharedArrayBuffer === 'function' ? 'threads' : 'processes';
  if (s === 'threads' || s === 'processes') return s;
  throw new InvalidArgumentError(`sharedmemScope ${JSON.stringify(s)} is not 'threads' or 'processes'`);
}

export const sharedmemMode: TransferMode = {
  name: 'sharedmem',
  async createSender(spec: StreamSpec): Promise<StreamSender> {
    return sharedmemScope(spec) === 'threads' ? new SharedRingSender(spec) : await FileRingSender.create(spec);
  },
  async createReceiver(params: ConnectParams, options: ReceiverOptions): Promise<StreamReceiver> {
    if (sharedmemScope(params) === 'threads') return new SharedRingReceiver(params, options);
    // Subscribed before connect() resolves, as tcp: chunks sent after connect() reach this reader.
    const rx = new FileRingReceiver(params, options);
    await rx.connected();
    return rx;
  },
};

registerTransferMode(sharedmemMode);
