// Where a consumer's objects come from (receivers) and where its output goes (publishers), in
// the input and output modes of PvaPy: pva (monitor / remote put), pvas (a PV hosted here),
// rpc (an RPC service here / a remote RPC call).
import type { CaClient } from '../ca/client.js';
import { RemoteError, SluiceError } from '../errors.js';
import { BitSet } from '../pvdata/bitset.js';
import type { PvaClient } from '../pva/client/client.js';
import type { PvaServer } from '../pva/server/server.js';
import { SharedPV } from '../pv/shared-pv.js';
import { describeType, mismatch } from '../pvdata/conform.js';
import { t, type StructureDesc } from '../pvdata/types.js';
import type { PVUpdate, UpdateMarks } from '../pvdata/update.js';
import type { PVStructure } from '../pvdata/values.js';
import {
  caUpstream,
  pvaUpstream,
  type Upstream,
  type UpstreamMonitor,
  type UpstreamMonitorOptions,
  type UpstreamProtocol,
} from './upstream.js';

export type InputMode = 'pva' | 'ca' | 'pvas' | 'rpc';
export type OutputMode = 'pvas' | 'pva' | 'rpc';

/** One received object: an update (its BitSets are read-only) and when it came. */
export interface Received extends PVUpdate {
  /** How many times the input had connected when this came (monitors): restarts show as a change. */
  connection?: number;
  /** Inputs before this one were rejected (a full receiver queue): continuity broke here. */
  afterGap?: boolean;
}

export interface ReceiverStats {
  nReceived: number;
  nRejected: number;
  nErrors: number;
  nOverruns: number;
}

/** Delivers objects to `sink`; the sink returns false when the object could not be taken. */
export interface Receiver {
  start(sink: (r: Received) => boolean | Promise<boolean>): void;
  stats(): ReceiverStats;
  resetStats(): void;
  /**
   * Stop receiving. A receiver that holds objects not yet delivered (a monitor's client queue)
   * returns them, oldest first, so the host can count them as not processed.
   */
  stop(): void | Promise<Received[]>;
}

/** Prints what happens to an input's connection (a line to stderr by default). */
export type InputNotifier = (text: string) => void;

/**
 * Tell when a monitored input goes away (its server stopped, restarted or closed the PV) and
 * when it is back; the subscription searches again by itself.
 */
export function watchConnection(sub: UpstreamMonitor, label: string, notify: InputNotifier): void {
  let lost = false;
  sub.on('disconnect', (err: Error) => {
    lost = true;
    notify(`input ${label} disconnected (${err.message}): searching again`);
  });
  sub.on('connect', () => {
    if (lost) notify(`input ${label} connected again`);
    lost = false;
  });
}

/** Updates a host lets the server send ahead of processing (client memory, not server). */
const CLIENT_WINDOW = 1000;
/**
 * ...grown to this many bytes of updates once the frame size is known (16,384 frames of
 * 128x128 bytes): a consumer still warming up (the first few hundred ms run cold code) or
 * paused falls behind by thousands of frames at 50 kHz, and catches up from this buffer.
 */
const CLIENT_WINDOW_BYTES = 256 * 1024 * 1024;
/** Client-side queue of a CA input (updates kept while the host is busy). */
const CA_QUEUE = 1000;

/**
 * The upstream of a host's inputs of `protocol`. Pipeline flow control whenever the server keeps
 * a queue for us: nothing is lost between the server's queue and ours, and the credit we give
 * (our own buffer, at least CLIENT_WINDOW updates) absorbs pauses of the processing (a GC, a
 * slow object) that the server queue alone would not. Without a server queue updates may be
 * overrun, as in PvaPy. CA has no flow control per subscription: a host slower than the channel
 * loses updates in the client queue (the newest replaces the last queued), counted as overruns.
 */
export function inputUpstream(protocol: 'pva', client: PvaClient): Upstream;
export function inputUpstream(protocol: 'ca', client: CaClient): Upstream;
export function inputUpstream(protocol: UpstreamProtocol, client: PvaClient | CaClient): Upstream {
  return protocol === 'pva'
    ? pvaUpstream(client as PvaClient, { window: CLIENT_WINDOW, windowBytes: CLIENT_WINDOW_BYTES })
    : caUpstream(client as CaClient, { queueSize: CA_QUEUE });
}

/**
 * pva and ca: monitor an upstream channel. A CA `channel` may carry the `ca://` prefix of the
 * consumer's command line; what is printed about it names it with the prefix.
 */
export class UpstreamReceiver implements Receiver {
  #monitor: UpstreamMonitor | null = null;
  #stopped = false;
  #base = { received: 0, overruns: 0 };
  readonly #upstream: Upstream;
  readonly #channel: string;
  readonly #label: string;
  readonly #opts: UpstreamMonitorOptions;
  readonly #notify: InputNotifier | undefined;

  constructor(upstream: Upstream, channel: string, opts: UpstreamMonitorOptions, notify?: InputNotifier) {
    this.#upstream = upstream;
    this.#channel = upstream.protocol === 'ca' ? channel.replace(/^ca:\/\//, '') : channel;
    this.#label = upstream.protocol === 'ca' ? `ca://${this.#channel}` : channel;
    this.#opts = opts;
    this.#notify = notify;
  }

  start(sink: (r: Received) => boolean | Promise<boolean>): void {
    const m = this.#upstream.monitor(this.#channel, this.#opts);
    this.#monitor = m;
    if (this.#notify) watchConnection(m, this.#label, this.#notify);
    void (async () => {
      try {
        for await (const u of m) {
          if (this.#stopped) break;
          const r = sink({ type: u.type, value: u.value, changed: u.changed, overrun: u.overrun, connection: m.connects });
          if (r instanceof Promise) await r;
        }
        // The server finished the monitor (its PV was closed, not withdrawn): nothing more comes,
        // and a host left waiting would look merely idle.
        if (!this.#stopped) {
          const line = `input ${this.#label}: the server ended the monitor (its PV was closed): no more updates will come`;
          if (this.#notify) this.#notify(line);
          else process.emitWarning(line);
        }
      } catch (err) {
        process.emitWarning(`input ${this.#label}: ${(err as Error).message}`);
      }
    })();
  }

  stats(): ReceiverStats {
    const m = this.#monitor;
    return {
      nReceived: (m?.received ?? 0) - this.#base.received,
      nRejected: 0,
      nErrors: 0,
      nOverruns: (m?.overruns ?? 0) - this.#base.overruns,
    };
  }

  resetStats(): void {
    const m = this.#monitor;
    this.#base = { received: m?.received ?? 0, overruns: m?.overruns ?? 0 };
  }

  /** Close the monitor; the updates it had received but not delivered are returned. */
  async stop(): Promise<Received[]> {
    this.#stopped = true;
    const m = this.#monitor;
    const left: Received[] = [];
    if (!m) return left;
    // What is pending is resolved at once (no wait on the network): take it before closing.
    while (m.pending > 0) {
      const r = await m.next();
      if (r.done) break;
      left.push(r.value);
    }
    m.close();
    return left;
  }
}

/** Everything changed: what an object put or sent whole to a hosted input carries. */
const ALL_CHANGED = BitSet.of(0);
const NO_OVERRUN = new BitSet();

/** Receivers that host a PV here (pvas, rpc): remote clients push objects to us. */
abstract class HostedReceiver implements Receiver {
  protected counts: ReceiverStats = { nReceived: 0, nRejected: 0, nErrors: 0, nOverruns: 0 };
  #sink: ((r: Received) => boolean | Promise<boolean>) | null = null;

  /** Hand an object to the consumer; the reason it could not be taken, or null. */
  protected async deliver(r: Received): Promise<string | null> {
    this.counts.nReceived++;
    const sink = this.#sink;
    if (!sink) {
      this.counts.nErrors++;
      return 'the consumer is not running';
    }
    if (!(await sink(r))) {
      this.counts.nRejected++;
      return 'receiver queue full, object rejected';
    }
    return null;
  }

  start(sink: (r: Received) => boolean | Promise<boolean>): void {
    this.#sink = sink;
  }
  stats(): ReceiverStats {
    return { ...this.counts };
  }
  resetStats(): void {
    this.counts = { nReceived: 0, nRejected: 0, nErrors: 0, nOverruns: 0 };
  }
  stop(): void {
    this.#sink = null;
  }
}

/** pvas: host the input PV; remote clients put objects into it. */
export class PvasReceiver extends HostedReceiver {
  constructor(server: PvaServer, channel: string, type: StructureDesc | null) {
    super();
    if (!type) {
      throw new SluiceError('ERR_PROCESSOR', `input mode pvas needs the processor's getInputType() to return the type of ${channel}`);
    }
    const pv = new SharedPV({
      onPut: async (pv, put) => {
        const refused = await this.deliver({ value: put.value, type, changed: put.changed, overrun: NO_OVERRUN });
        if (refused) throw new SluiceError('ERR_LIMIT', `${channel}: ${refused}`); // the putter gets an error status
        pv.postChanges(put.value, put.changed);
      },
    });
    server.addPV(channel, pv.open(type));
  }
}

const rpcReplyT = t.struct({ status: t.int, errorMessage: t.string });

/**
 * rpc: an RPC service named after the input channel; each call carries one object. The PV holds
 * the reply to the last call, so that pvinfo, pvget and pvmonitor work on the service too.
 */
export class RpcReceiver extends HostedReceiver {
  constructor(server: PvaServer, channel: string) {
    super();
    const pv: SharedPV = new SharedPV({
      onRpc: async (_pv, args) => {
        if (!args.type || args.type.kind !== 'structure') {
          this.counts.nErrors++;
          return reply(-1, 'argument is not a structure');
        }
        const refused = await this.deliver({
          value: args.value as PVStructure,
          type: args.type,
          changed: ALL_CHANGED,
          overrun: NO_OVERRUN,
        });
        return refused ? reply(-1, refused) : reply(0, '');
      },
    });
    const reply = (status: number, errorMessage: string): { type: StructureDesc; value: PVStructure } => {
      const last = pv.value;
      if (last?.['status'] !== status || last['errorMessage'] !== errorMessage) pv.post({ status, errorMessage });
      return { type: rpcReplyT, value: { status, errorMessage } };
    };
    server.addPV(channel, pv.open(rpcReplyT, { status: 0, errorMessage: '' }));
  }
}

export interface PublisherStats {
  nPublished: number;
  nErrors: number;
}

/** Output side: made once the output type is known (from the first input object). */
export class Publisher {
  readonly stats: PublisherStats = { nPublished: 0, nErrors: 0 };
  /**
   * Publish `value`. Without marks it merges into the PV (pvas): the fields present are the ones
   * that changed. With marks, `value` is complete and the marks go to the subscribers as they are.
   * The pva and rpc modes send the whole value and ignore marks.
   */
  readonly publish: (value: PVStructure, marks?: UpdateMarks) => void;
  /** The last reason an object was not published. */
  lastError: string | null = null;

  /**
   * `hosted`: a PV already served (unopened) under `channel`, for the pvas mode. `warn` says why
   * objects are not published: the first time for each kind of failure, then every 1000th error.
   */
  constructor(
    mode: OutputMode,
    channel: string,
    type: StructureDesc,
    server: PvaServer,
    client: PvaClient,
    hosted?: SharedPV,
    warn: (message: string) => void = (m) => process.emitWarning(m),
  ) {
    let typeErrors = 0;
    const fail = (err: unknown): void => {
      this.stats.nErrors++;
      this.lastError = (err as Error).message;
      if (this.stats.nErrors === 1 || this.stats.nErrors % 1000 === 0) {
        warn(`output ${channel}: ${this.lastError} (${this.stats.nErrors} errors)`);
      }
    };
    // An object that does not fit the output type is an error, never a publication: said once.
    const fits = (value: PVStructure): boolean => {
      const bad = mismatch(type, value);
      if (bad === null) return true;
      this.stats.nErrors++;
      this.lastError = `object does not match the output type ${describeType(type)}: ${bad}`;
      if (++typeErrors === 1) warn(`output ${channel}: ${this.lastError}; such objects are counted as publisher errors, not published`);
      return false;
    };
    if (mode === 'pvas') {
      const pv = hosted ? hosted.open(type) : new SharedPV().open(type);
      if (!hosted) server.addPV(channel, pv);
      this.publish = (value, marks) => {
        if (!fits(value)) return;
        try {
          pv.post(value, marks);
          this.stats.nPublished++;
        } catch (err) {
          fail(err);
        }
      };
    } else if (mode === 'pva') {
      this.publish = (value) => {
        if (!fits(value)) return;
        client.put(channel, value).then(() => void this.stats.nPublished++, fail);
      };
    } else {
      this.publish = (value) => {
        if (!fits(value)) return;
        client.rpc(channel, { type, value }).then((r) => {
          const status = (r.value as { status?: number } | null)?.status;
          if (status !== undefined && status !== 0) fail(new RemoteError(`RPC status ${status}`));
          else this.stats.nPublished++;
        }, fail);
      };
    }
  }
}
