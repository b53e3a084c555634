// What the channel server and its clients agree on (stream_service's central server, on pvAccess).
// The server serves, on one pvAccess server:
//   - `<prefix>:rpc`: an RPC PV of the RPC core (src/rpc), publishing the `ChannelService` below as
//     object SERVICE_OBJECT, so `pvcall <prefix>:rpc ...` and `sluice call` reach it too;
//   - one PV per channel, named as the channel: the writers' type plus the WRITER_FIELD structure
//     (who wrote the value, the writer's sequence number, the end-of-transfer mark). Readers are
//     monitors whose pvRequest gives the reader buffer (`record[queueSize=10,policy=ring,fillRate=5]`),
//     writers put to it (the key of a private channel in `record[key=…]`);
//   - one inbox PV per client, `<prefix>:inbox:<token>` (the token is random and told only to the
//     client): the server's messages to the client (writer activation, calls from other clients);
//     the client keeps a monitor on it, and the end of that monitor is the client leaving;
//   - the statistics channel (`--stats-channel`), a channel like any other.
import { SluiceError } from '../errors.js';
import { decodeType, encodeType, TypeCache } from '../pvdata/type-codec.js';
import { t, type StructureDesc } from '../pvdata/types.js';
import { ByteReader, ByteWriter } from '../pvdata/wire.js';
import type { ReaderPolicy } from '../pv/source.js';

export const DEFAULT_PREFIX = 'sluice:server';
/** Name under which the server's RPC core publishes the ChannelService. */
export const SERVICE_OBJECT = 'server';

export const rpcPvName = (prefix: string): string => `${prefix}:rpc`;
export const inboxPvName = (prefix: string, token: string): string => `${prefix}:inbox:${token}`;

/** The field every channel value carries besides the writers' own fields. */
export const WRITER_FIELD = 'sluiceWriter';
export const writerInfoType: StructureDesc = t.struct(
  [
    /** The writer: its client name, or the peer address of a plain pvAccess client (pvput). */
    ['id', t.string],
    /** Per writer: 1 for its first value, +1 for each next one (the server counts). */
    ['seq', t.ulong],
    /** True on the writer's end-of-transfer mark (the value is then the writer's last one). */
    ['end', t.boolean],
  ],
  'sluice:channels/Writer:1.0',
);

/**
 * An inbox message. `kind` 'active': `active` lists every channel this client writes to that has
 * a reader now (the whole list each time, so that a squashed update loses nothing). `kind` 'call':
 * another client calls one of this client's exported methods; the client answers with
 * ChannelService.reply(callId, ...). Arguments travel as the RPC core's wire values (src/rpc/wire.ts,
 * by value only: proxies do not cross clients).
 */
export const inboxType: StructureDesc = t.struct(
  [
    ['kind', t.string],
    ['active', t.array('string')],
    ['callId', t.ulong],
    ['caller', t.string],
    ['method', t.string],
    ['args', t.anyArray],
    [
      'timeStamp',
      t.struct(
        [
          ['secondsPastEpoch', t.long],
          ['nanoseconds', t.int],
          ['userTag', t.int],
        ],
        'time_t',
      ),
    ],
  ],
  'sluice:channels/Inbox:1.0',
);

/** Fields a channel type may have at most (typeBytes from a client is checked before use). */
export const MAX_CHANNEL_TYPE_FIELDS = 65_536;

/** A channel's value type as CreateChannelOptions.typeBytes and openWriter carry it. */
export function encodeChannelType(type: StructureDesc): Uint8Array {
  const w = new ByteWriter(true, 1024);
  encodeType(w, type);
  return Buffer.concat(w.take());
}

/** The type of typeBytes; a clear ERR_INVALID_ARGUMENT when the bytes are not one structure type. */
export function decodeChannelType(bytes: Uint8Array): StructureDesc {
  let type;
  try {
    const r = new ByteReader(bytes).limitWork({ maxTypeFields: MAX_CHANNEL_TYPE_FIELDS, maxElements: MAX_CHANNEL_TYPE_FIELDS });
    type = decodeType(r, new TypeCache());
    if (r.remaining !== 0) throw new SluiceError('ERR_INVALID_ARGUMENT', `${r.remaining} bytes after the type`);
  } catch (err) {
    throw new SluiceError('ERR_INVALID_ARGUMENT', `typeBytes is not a pvData type: ${(err as Error).message}`, { cause: err });
  }
  if (!type || type.kind !== 'structure') throw new SluiceError('ERR_INVALID_ARGUMENT', 'typeBytes must describe a structure');
  if (type.fields.some((f) => f.name === WRITER_FIELD))
    throw new SluiceError('ERR_INVALID_ARGUMENT', `a channel type may not have its own ${WRITER_FIELD} field: the server fills it`);
  return type;
}

/** Reader buffer defaults (stream_service's subscribe_read_from_channel). */
/**
 * Puts of one writer the server holds while a full `wait` reader holds them back (or while its
 * earlier puts wait), and their bytes: more are refused (ERR_LIMIT; one put always waits, however
 * large). A ChannelWriter's window stays within both.
 */
export const MAX_PENDING_PUTS = 256;
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export const DEFAULT_READER_QUEUE = 100;
export const DEFAULT_READER_POLICY: ReaderPolicy = 'ring';

export interface CreateChannelOptions {
  name: string;
  /** Listed by listChannels (default true). A private channel needs `key` to read or write. */
  public?: boolean;
  /** The key of a private channel (required when public is false; never logged nor listed). */
  key?: string;
  /** Temporary channel: deleted this many seconds after creation. */
  lifetime?: number;
  /** Other clients may open writers (default false: only the owner writes). */
  multiWriter?: boolean;
  /** Keep the channel when its owner leaves (default false). */
  persist?: boolean;
  /** The channel's value type, encoded with the pvData type codec (encodeType); or set by the first openWriter. */
  typeBytes?: Uint8Array;
}

export interface ChannelSummary {
  name: string;
  owner: string;
  public: boolean;
  multiWriter: boolean;
  persist: boolean;
  /** Seconds until a temporary channel goes; -1 for a permanent one. */
  expiresIn: number;
  readers: number;
  writers: number;
  messages: number;
  bytes: number;
  /** Whether the channel has its type yet (readers wait for it). */
  typed: boolean;
}

export interface ReaderSummary {
  peer: string;
  /** The reader's client name when it registered, else ''. */
  client: string;
  policy: string;
  queueSize: number;
  fillRate: number;
  queued: number;
  posted: number;
  sent: number;
  dropped: number;
  fillSkipped: number;
  overruns: number;
}

export interface WriterSummary {
  id: string;
  seq: number;
  ended: boolean;
}

export interface ChannelDetails extends ChannelSummary {
  /** The type as formatType prints it ('' while untyped). */
  type: string;
  readerList: ReaderSummary[];
  writerList: WriterSummary[];
}

export interface ClientSummary {
  name: string;
  peer: string;
  /** Exported method names, and their signatures as src/rpc/signature.ts describes them. */
  methods: string[];
  params: string[][];
  required: number[];
  bytesIn: number;
  bytesOut: number;
}

export interface HelloResult {
  name: string;
  /** The inbox PV's name: monitor it at once (a client whose inbox nobody reads is dropped). */
  inbox: string;
}

/**
 * The server's RPC API. The caller is known from its pvAccess connection (a registered client is
 * the one whose `hello` came on that connection), never from an argument. A client's connections
 * are the one its hello came on and the one its inbox monitor came on: a put to a channel from
 * either is the client's (its writer id is the client's name). Errors are SluiceErrors
 * with stable codes, their messages never contain keys.
 */
export interface ChannelService {
  hello(name: string, methods: string[], params: string[][], required: number[]): Promise<HelloResult>;
  createChannel(options: CreateChannelOptions): Promise<{ name: string; controlKey: string }>;
  listChannels(): Promise<ChannelSummary[]>;
  channelInfo(name: string, key?: string): Promise<ChannelDetails>;
  deleteChannel(name: string, controlKey: string): Promise<void>;
  /** Register as a writer of the channel (owner, or anyone on a multi-writer channel). */
  openWriter(name: string, key?: string, typeBytes?: Uint8Array): Promise<{ writerId: string; active: boolean }>;
  /** Post the writer's end-of-transfer mark (after its values, in order) and unregister it. */
  closeWriter(name: string): Promise<void>;
  clients(): Promise<ClientSummary[]>;
  clientInfo(name: string): Promise<ClientSummary>;
  /** Call `method` of client `target` with `args`; fails after timeoutMs with ERR_TIMEOUT. */
  callClient(target: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown>;
  /** The answer to an inbox call. */
  reply(callId: bigint, ok: boolean, value: unknown, errorName: string, errorMessage: string, errorStack: string): Promise<void>;
}
