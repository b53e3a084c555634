// AdSimServer: pvapy-ad-sim-server as a library. Serves NTNDArray frames (random ones, or frames
// read from files: see file-source.ts) on one channel (plus optional metadata PVs) from a
// pvAccess Server of its own or one it is given, and runs the publishing schedule between a
// start delay and a shutdown delay. No CLI parsing here:
// `sluice sim` is a thin layer over this class, and tests and benchmarks embed it directly.
import { CaServer, type CaServerOptions } from '../ca/server.js';
import { InvalidArgumentError } from '../errors.js';
import { PvaServer, type PvaServerOptions } from '../pva/server/server.js';
import { MonitorOp } from '../pva/server/monitor-op.js';
import { SharedPV } from '../pv/shared-pv.js';
import { timeT } from '../pvdata/nt/common.js';
import { ntndarray } from '../pvdata/nt/ntndarray.js';
import { t, type StructureDesc } from '../pvdata/types.js';
import { CompressedFrames } from './compressed-frames.js';
import { FrameCache, type FrameCacheOptions, type SimFrames } from './frame-cache.js';
import type { FrameSpec } from './frames.js';
import { FramePublisher, realClock, type Progress, type PublishSummary, type SimClock } from './publisher.js';
import { SimStatus } from './status.js';

export const DEFAULT_CHANNEL = 'pvapy:image';

/** PvaPy's metadata record: `{double value; time_t timeStamp}`. */
export const metadataType: StructureDesc = t.struct({ value: t.double, timeStamp: timeT });

export interface AdSimServerOptions extends Omit<FrameCacheOptions, 'frame'> {
  /** Generated frames: their shape and values (required unless `frames` is given). */
  frame?: FrameSpec;
  /**
   * Frames from elsewhere, e.g. files (`await openFileFrames(...)`); then `frame`, `nFrames`,
   * `cacheSize`, `cacheBytes` and `seed` are not used. close() closes them.
   */
  frames?: SimFrames;
  channelName?: string;
  /**
   * Serve a status PV of this name (see status.ts): frames published and their rate, clients,
   * frames squashed and queued; refreshed every second while run() runs, and once at the end.
   */
  statusChannel?: string;
  /** Publish the frames compressed, as NDPluginCodec does: lz4, lz4hdf5, bslz4, blosc or zlib. */
  compressor?: string;
  /** Frames per second; <= 0 as fast as possible (default 20). */
  fps?: number;
  /** Seconds of publishing from the first frame; <= 0 (default) until aborted. */
  runtime?: number;
  /** Seconds between the start of run() (and the clients awaited) and the first frame. */
  startDelay?: number;
  /** Seconds between the last frame and closing the PVs, for clients to drain their queues. */
  shutdownDelay?: number;
  /** Progress event every this many frames (<= 0, the default, never). */
  reportPeriod?: number;
  /** Never let the server squash a frame: wait while a subscriber's queue is full. */
  lossless?: boolean;
  /**
   * Start the schedule once this many monitors subscribe to the channel (default 0). With a
   * runtime, not forever: see waitTimeout; then run() ends without publishing (reason `clients`).
   */
  waitClients?: number;
  /**
   * Seconds to wait for the waitClients; <= 0 forever. Default with a runtime: the runtime, and
   * at least MIN_CLIENT_WAIT_S (clients take seconds to start); without one, forever.
   */
  waitTimeout?: number;
  /** Metadata PVs, `pva://name`, `ca://name` or a bare name (CA), as a comma-separated string or a list. */
  metadataPvs?: string | readonly string[];
  /** The Channel Access server of the ca:// metadata PVs (default: configured from EPICS_CA(S)_*). */
  caServerOptions?: CaServerOptions;
  /** Serve on this server (left open by close()); default a new one made from `serverOptions`. */
  server?: PvaServer;
  serverOptions?: PvaServerOptions;
  onEvent?: (e: SimEvent) => void;
  clock?: SimClock;
}

export type SimEvent =
  | { kind: 'waiting'; clients: number }
  | { kind: 'started' }
  | ({ kind: 'progress' } & Progress)
  | { kind: 'stopped'; summary: PublishSummary };

export interface MetadataPvSpec {
  protocol: 'pva' | 'ca';
  name: string;
}

/** `pva://a,ca://b,c` → specs; a bare name is a Channel Access PV, as in PvaPy. */
export function parseMetadataPvs(spec: string | readonly string[]): MetadataPvSpec[] {
  const items = (typeof spec === 'string' ? [spec] : spec).flatMap((s) => s.split(',')).map((s) => s.trim());
  const out: MetadataPvSpec[] = [];
  for (const item of items.filter((s) => s !== '')) {
    const m = /^([a-z]+):\/\/(.*)$/i.exec(item);
    const protocol = (m ? (m[1] as string).toLowerCase() : 'ca') as MetadataPvSpec['protocol'];
    const name = m ? (m[2] as string) : item;
    if (protocol !== 'pva' && protocol !== 'ca') throw new InvalidArgumentError(`metadata PV '${item}': use pva://NAME or ca://NAME`);
    if (!name) throw new InvalidArgumentError(`metadata PV '${item}' has no name`);
    if (out.some((o) => o.name === name)) throw new InvalidArgumentError(`metadata PV ${name} given twice`);
    out.push({ protocol, name });
  }
  return out;
}

/** Shortest default wait for the clients awaited, when there is a runtime (s). */
export const MIN_CLIENT_WAIT_S = 30;

/** Monitors whose counters are listed one by one in the summary; older ones are summed. */
const MAX_MONITORS_KEPT = 1000;

function statsOf(peer: string, op: MonitorOp): SimClientStats {
  const { posted, sent, overruns, encodeErrors } = op.stats;
  // The initial value is queued on subscription besides the posts.
  return { peer, posted, sent, squashed: overruns, unsent: Math.max(0, posted + 1 - sent - overruns - encodeErrors) };
}

/** What became of the frames due to one monitor of the image channel. */
export interface SimClientStats {
  /** The client's address (host:port). */
  peer: string;
  /** Frames posted for this client (its share with the distributor); the initial value not included. */
  posted: number;
  /** Updates sent, the initial value included. */
  sent: number;
  /** Frames lost to this client: squashed into a newer one because its server queue was full. */
  squashed: number;
  /** Frames still queued, not sent, when its monitor ended or the channel closed. */
  unsent: number;
}

/** The publishing summary and what each client got. */
export interface SimSummary extends PublishSummary {
  clients: SimClientStats[];
  /** Frames squashed for all clients together. */
  squashed: number;
}

/**
 * The image PV, telling when monitors subscribe (to start once the expected clients are in), and
 * keeping every monitor's counters for the summary, those of monitors that ended too.
 */
class ImagePV extends SharedPV {
  readonly monitors: { peer: string; op: MonitorOp; live: boolean }[] = [];
  /** Monitors beyond MAX_MONITORS_KEPT, folded together (clients that came and went). */
  #earlier: SimClientStats | null = null;
  #nEarlier = 0;
  #server: PvaServer | null = null;

  constructor(server: PvaServer) {
    super();
    this.#server = server;
  }

  // Every argument is passed on as it is (the distributor settings among them).
  override subscribe(...args: Parameters<SharedPV['subscribe']>): () => void {
    const unsubscribe = super.subscribe(...args);
    const op = args[0];
    if (op instanceof MonitorOp) {
      // The connection that holds this monitor names the client.
      const conn = [...(this.#server?.connections ?? [])].find((c) => c.ops.get(op.ioid) === op);
      const m = { peer: conn?.peerName() ?? 'unknown', op, live: true };
      this.monitors.push(m);
      if (this.monitors.length > MAX_MONITORS_KEPT) this.#fold(this.monitors.shift() as { peer: string; op: MonitorOp });
      return () => {
        m.live = false;
        unsubscribe();
      };
    }
    return unsubscribe;
  }

  #fold(m: { peer: string; op: MonitorOp }): void {
    const s = statsOf(m.peer, m.op);
    const e = (this.#earlier ??= { peer: '', posted: 0, sent: 0, squashed: 0, unsent: 0 });
    e.peer = `${++this.#nEarlier} earlier monitors`;
    e.posted += s.posted;
    e.sent += s.sent;
    e.squashed += s.squashed;
    e.unsent += s.unsent;
  }

  /** Every monitor's counters so far. */
  clientStats(): SimClientStats[] {
    const all = this.monitors.map(({ peer, op }) => statsOf(peer, op));
    return this.#earlier ? [{ ...this.#earlier }, ...all] : all;
  }

  /** Monitors subscribed now, and the frames queued for them, not yet sent. */
  liveQueues(): { clients: number; queued: number } {
    let clients = 0;
    let queued = 0;
    for (const m of this.monitors) {
      if (!m.live) continue;
      clients++;
      queued += statsOf(m.peer, m.op).unsent;
    }
    return { clients, queued };
  }
}

export class AdSimServer {
  readonly channelName: string;
  /** The frames: a FrameCache of generated frames, or the `frames` given. */
  readonly cache: SimFrames;
  /** With `compressor`: the frames as published, compressed (else null: `cache` is published). */
  readonly compressed: CompressedFrames | null;
  readonly pv: SharedPV;
  /** Metadata PVs by name, pva:// and ca:// ones alike. */
  readonly metadata: ReadonlyMap<string, SharedPV>;
  readonly server: PvaServer;
  /** Serves the ca:// metadata PVs (null without any). */
  readonly caServer: CaServer | null;
  /** The status PV (null without `statusChannel`). */
  readonly status: SimStatus | null;
  readonly #ownServer: boolean;
  readonly #o: AdSimServerOptions;
  readonly #clock: SimClock;
  #publisher: FramePublisher | null = null;
  #closed = false;

  constructor(o: AdSimServerOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.channelName = o.channelName ?? DEFAULT_CHANNEL;
    const metaSpecs = parseMetadataPvs(o.metadataPvs ?? []);
    if (metaSpecs.some((m) => m.name === this.channelName))
      throw new InvalidArgumentError(`metadata PV ${this.channelName} is the image channel`);
    if (o.statusChannel !== undefined) {
      if (o.statusChannel === '') throw new InvalidArgumentError('the status channel needs a name');
      if (o.statusChannel === this.channelName || metaSpecs.some((m) => m.name === o.statusChannel))
        throw new InvalidArgumentError(`status channel ${o.statusChannel} is also the image channel or a metadata PV`);
    }
    const times = { fps: o.fps, runtime: o.runtime, startDelay: o.startDelay, shutdownDelay: o.shutdownDelay };
    for (const [what, v] of Object.entries(times)) {
      if (v !== undefined && !Number.isFinite(v)) throw new InvalidArgumentError(`${what} must be a finite number, not ${v}`);
    }
    if (o.frames) this.cache = o.frames;
    else if (o.frame) this.cache = new FrameCache({ ...o, frame: o.frame });
    else throw new InvalidArgumentError('AdSimServer needs a frame spec (generated frames) or frames');
    this.compressed = o.compressor ? new CompressedFrames(this.cache, o.compressor) : null;
    this.#ownServer = o.server === undefined;
    this.server = o.server ?? new PvaServer(o.serverOptions);
    const image = new ImagePV(this.server);
    image.open(ntndarray.type(), (this.compressed ?? this.cache).initial());
    this.pv = image;
    const metadata = new Map<string, SharedPV>();
    for (const m of metaSpecs) metadata.set(m.name, new SharedPV().open(metadataType, { value: 0 }));
    this.metadata = metadata;
    this.server.addPV(this.channelName, image);
    const ca = metaSpecs.filter((m) => m.protocol === 'ca');
    this.caServer = ca.length > 0 ? new CaServer(o.caServerOptions ?? {}) : null;
    for (const m of metaSpecs)
      (m.protocol === 'pva' ? this.server : (this.caServer as CaServer)).addPV(m.name, metadata.get(m.name) as SharedPV);
    this.status = o.statusChannel
      ? new SimStatus(this.server, o.statusChannel, {
          channelName: this.channelName,
          fps: o.fps ?? 20,
          read: () => this.#counters(),
          now: () => this.#clock.now(),
        })
      : null;
  }

  /** What the status PV shows, from the publisher's and the monitors' own counters. */
  #counters(): { published: number; runtime: number; clients: number; overruns: number; queued: number } {
    const image = this.pv as ImagePV;
    return {
      published: this.published,
      runtime: this.#publisher?.summary().runtime ?? 0,
      ...image.liveQueues(),
      overruns: this.clientSummary().squashed,
    };
  }

  /**
   * Start our own server (a given one is expected to be listening) and the CA server of the
   * ca:// metadata PVs; resolves with the pvAccess TCP port.
   */
  async listen(): Promise<number> {
    const port = this.#ownServer ? await this.server.listen() : this.server.tcpPort;
    await this.caServer?.listen();
    return port;
  }

  /** Frames published so far. */
  get published(): number {
    return this.#publisher?.published ?? 0;
  }

  /**
   * Wait for the clients and the start delay, publish until the runtime, the last frame or the
   * signal, wait the shutdown delay (skipped when aborted), then close. Resolves with the summary.
   */
  async run(signal: AbortSignal = new AbortController().signal): Promise<SimSummary> {
    const o = this.#o;
    const emit = o.onEvent ?? (() => {});
    this.#publisher = new FramePublisher({
      pv: this.pv,
      cache: this.compressed ?? this.cache,
      fps: o.fps ?? 20,
      runtimeMs: (o.runtime ?? 0) * 1000,
      lossless: o.lossless ?? false,
      metadata: [...this.metadata.values()],
      reportPeriod: o.reportPeriod ?? 0,
      onProgress: (p) => emit({ kind: 'progress', ...p }),
      clock: this.#clock,
    });
    this.status?.start();
    try {
      const clients = o.waitClients ?? 0;
      if (clients > 0) {
        emit({ kind: 'waiting', clients });
        const runtime = o.runtime ?? 0;
        const limitS = o.waitTimeout ?? (runtime > 0 ? Math.max(runtime, MIN_CLIENT_WAIT_S) : 0);
        if (!(await this.#waitClients(clients, limitS * 1000, signal)) && !signal.aborted) {
          // Not all came in time: give up rather than wait forever (an orphaned simulator).
          const summary = this.#publisher.summary('clients');
          emit({ kind: 'stopped', summary });
          return { ...summary, ...this.clientSummary() };
        }
      }
      if ((o.startDelay ?? 0) > 0) await this.#clock.sleep((o.startDelay ?? 0) * 1000, signal);
      let summary = this.#publisher.summary('aborted');
      if (!signal.aborted) {
        emit({ kind: 'started' });
        summary = await this.#publisher.run(signal);
      }
      emit({ kind: 'stopped', summary });
      if (!signal.aborted && (o.shutdownDelay ?? 0) > 0) await this.#clock.sleep((o.shutdownDelay ?? 0) * 1000, signal);
      return { ...summary, ...this.clientSummary() };
    } finally {
      await this.close();
    }
  }

  /** What each monitor of the image channel got so far (squashed, unsent), and the total squashed. */
  clientSummary(): { clients: SimClientStats[]; squashed: number } {
    const clients = (this.pv as ImagePV).clientStats();
    return { clients, squashed: clients.reduce((n, c) => n + c.squashed, 0) };
  }

  /** Wait for `n` monitors, at most `limitMs` when > 0; true once they are there. */
  async #waitClients(n: number, limitMs: number, signal: AbortSignal): Promise<boolean> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (limitMs > 0) void this.#clock.sleep(limitMs, stop.signal).then(() => stop.abort());
    try {
      return await (this.pv as ImagePV).whenSubscribers(n, stop.signal);
    } finally {
      stop.abort(); // ends the time limit's sleep
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Close the PVs (the status PV's monitors end, the others see the PVs go) and our own server. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.status && this.#o.statusChannel) {
      // The final counters, before the PV closes (its subscribers see them, then the end).
      this.status.stop();
      this.status.refresh();
      // The run's counters are final: its monitors end (the image and metadata PVs only go away:
      // their clients search again and resume with the next simulator, as after a restart).
      this.server.removePV(this.#o.statusChannel, { end: true });
    }
    this.server.removePV(this.channelName);
    for (const [name, pv] of this.metadata) {
      // Returns false for a ca:// one: that one goes with its server.
      if (!this.server.removePV(name) && pv.isOpen) pv.close();
    }
    await this.caServer?.close();
    await this.cache.close?.();
    if (!this.#ownServer) return;
    // One turn of the event loop writes the end-of-channel messages before connections close.
    await new Promise((resolve) => setImmediate(resolve));
    await this.server.close();
  }
}
