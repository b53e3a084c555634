// One data collector (PvaPy's pvapy-hpc-collector): monitors several producer channels, sorts
// their objects by id in a cache (several objects may share an id), runs the user processor on
// them in order, publishes its output, and serves control and status PVs.
import { CaClient } from '../ca/client.js';
import { Client } from '../pva/client/client.js';
import type { AccessPolicy } from '../access/policy.js';
import { Server } from '../pva/server/server.js';
import { SharedPV } from '../pva/server/shared-pv.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import type { UserDataProcessor } from '../processing/user-data-processor.js';
import { runControlCommand, serveControl, STOP_LINGER_MS, untilPeerLeaves, StatusPV, withRates, type ControlCommand } from '../runtime/channels.js';
import { MonitorReceiver, Publisher, type Received } from '../runtime/io.js';
import type { MetadataChannels } from '../runtime/metadata.js';
import { ProcessingController } from '../runtime/processing-controller.js';
import { NO_QUEUE_STATS, ReceiverQueue } from '../runtime/receiver-queue.js';
import { checkConfig, warnLine } from '../consumer/options.js';
import { graceMs, settledWithin, startWatchdog } from '../runtime/watchdog.js';
import { SortingCache } from './sorting-cache.js';
import { collectorStatusType, type CollectorStats } from './status.js';

export interface CollectorOptions {
  collectorId: number;
  /** Producer ids and their channels (the input template with * replaced). */
  producers: { id: number; channel: string }[];
  /** pvRequest of the producer monitors (queue size, fields), built by the caller. */
  inputRequest: string;
  serverQueueSize: number;
  /** <0: objects go straight into the cache; 0: unbounded queues; >0: bounded queues. */
  receiverQueueSize: number;
  /** Objects held in the sorting cache. */
  cacheSize: number;
  /** Longest wait of an object for a missing predecessor (s). */
  cacheTimeoutS: number;
  outputChannel?: string | undefined;
  statusChannel?: string | undefined;
  controlChannel?: string | undefined;
  objectIdField: string;
  objectIdOffset: number;
  skipInitialUpdates: number;
  /** Seconds one process() may take; past it the collector reports and stops. <= 0 (default): none. */
  processingTimeoutS?: number;
  processor: UserDataProcessor;
  metadata?: ((client: Client, caClient: () => CaClient) => MetadataChannels) | undefined;
  env?: NodeJS.ProcessEnv;
  /** Access rules of the collector's server (its control PV is in ASG CONTROL). */
  access?: AccessPolicy | undefined;
  /** Where to tell that a producer disconnected or is back; default a line on stderr. */
  notify?: (text: string) => void;
}

interface Producer {
  id: number;
  channel: string;
  receiver: MonitorReceiver;
  queue: ReceiverQueue<Received> | null;
  /** Objects the cache refused (older than what was already processed), or without an id. */
  nRejected: number;
  /** Initial updates of this producer not collected yet to skip. */
  toSkip: number;
  /** The producer's connection count at its last object (a change: it connected again). */
  connection: number | undefined;
}

/** Objects moved from the receiver queues before the loop lets I/O in again. */
const DRAIN_BATCH = 64;

export class DataCollector {
  readonly options: CollectorOptions;
  readonly server: Server;
  readonly client: Client;
  readonly controller: ProcessingController;
  readonly cache: SortingCache<Received>;
  readonly #producers: Producer[];
  readonly #metadata: MetadataChannels | null;
  #publisher: Publisher | null = null;
  #status: StatusPV | null = null;
  #stopRequested: (() => void) | null = null;
  /** The client that put `stop` into the control PV. */
  #stopPeer: string | null = null;
  #ca: CaClient | null = null;
  /** The Channel Access client (ca input, ca:// metadata), made on first use. */
  readonly #caClient = (): CaClient => (this.#ca ??= new CaClient({ env: this.options.env ?? process.env }));
  readonly stopped: Promise<void>;
  #running = false;
  /** Released objects waiting for an asynchronous process() to finish. */
  #ready: Received[] = [];
  /** An asynchronous process() under way. */
  #current: Promise<void> | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  /** Why the collector stopped on its own (a processing time-out), or null. */
  failure: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #drainScheduled = false;
  #warnedNoId = false;

  constructor(options: CollectorOptions) {
    this.options = options;
    const env = options.env ?? process.env;
    this.server = new Server({ env, ...(options.access ? { access: options.access } : {}) });
    this.client = new Client({ env });
    const p = options.processor;
    p.processorId = options.collectorId;
    p.objectIdField = options.objectIdField;
    p.inputChannel = options.producers.map((x) => x.channel).join(',');
    p.outputChannel = options.outputChannel ?? '';
    p.server = this.server;
    this.controller = new ProcessingController(
      p,
      // Initial updates are skipped per producer, before sorting (see #add).
      {
        objectIdField: options.objectIdField,
        objectIdOffset: options.objectIdOffset,
        nSequentialUpdates: 1,
        skipInitialUpdates: 0,
        processingTimeoutMs: (options.processingTimeoutS ?? 0) * 1000,
      },
      options.outputChannel ? (first, inputType) => this.#makePublisher(first, inputType) : null,
    );
    this.cache = new SortingCache<Received>({
      capacity: options.cacheSize,
      offset: options.objectIdOffset,
      timeoutMs: options.cacheTimeoutS * 1000,
      producers: options.producers.map((x) => x.id),
    });
    // PvaPy raises bounded receiver queues to at least 10 cache sizes.
    const notify = options.notify ?? ((text: string) => process.stderr.write(`${new Date().toISOString()} collector ${options.collectorId}: ${text}\n`));
    const rqs = options.receiverQueueSize > 0 ? Math.max(options.receiverQueueSize, 10 * options.cacheSize) : options.receiverQueueSize;
    this.#producers = options.producers.map(({ id, channel }) => ({
      id,
      channel,
      receiver: new MonitorReceiver(this.client, channel, options.inputRequest, options.serverQueueSize, notify),
      queue: rqs >= 0 ? new ReceiverQueue<Received>(rqs) : null,
      nRejected: 0,
      toSkip: options.skipInitialUpdates,
      connection: undefined,
    }));
    this.#metadata = options.metadata?.(this.client, this.#caClient) ?? null;
    if (this.#metadata) p.metadataQueueMap = this.#metadata.queueMap;
    this.stopped = new Promise((resolve) => (this.#stopRequested = resolve));
  }

  #makePublisher(first: PVStructure, inputType: StructureDesc): ((v: PVStructure) => void) | null {
    const channel = this.options.outputChannel;
    const processor = this.options.processor;
    if (!channel) return null;
    const type = processor.getOutputType(first, inputType);
    if (type === undefined) {
      // Not known yet: host the PV now, unopened, so clients can connect (their requests wait, as
      // with PVXS); the processor opens it with openOutputChannel().
      const hosted = 'pvas' === 'pvas' ? new SharedPV() : undefined;
      if (hosted) this.server.addPV(channel, hosted);
      processor.outputFactory = (t) => this.#openPublisher(channel, t, hosted);
      return null;
    }
    return type ? this.#openPublisher(channel, type) : null;
  }

  #openPublisher(channel: string, type: StructureDesc, hosted?: SharedPV): (v: PVStructure) => void {
    this.#publisher = new Publisher('pvas', channel, type, this.server, this.client, hosted, (m) => warnLine(`collector ${this.options.collectorId}`, m));
    return this.#publisher.publish;
  }

  async start(): Promise<void> {
    const o = this.options;
    if (o.controlChannel) serveControl(this.server, o.controlChannel, 'collectorId', o.collectorId, (cmd, args, peer) => this.command(cmd, args, peer));
    if (o.statusChannel) {
      const userTypes = o.processor.getStatsTypes();
      const type = collectorStatusType(userTypes, this.#producers.map((p) => p.id), this.#metadata?.specs.length ?? 0);
      this.#status = new StatusPV(this.server, o.statusChannel, type, userTypes);
    }
    await this.server.listen();
    this.#metadata?.start();
    await o.processor.start();
    this.#running = true;
    this.#watchdog = startWatchdog(this.controller, (message) => {
      this.failure = message;
      warnLine(`collector ${o.collectorId}`, `${message}: stopping`);
      this.#stopRequested?.();
    });
    for (const p of this.#producers) {
      const q = p.queue;
      p.receiver.start(
        q
          ? (r) => {
              const taken = q.push(r);
              this.#scheduleDrain();
              return taken;
            }
          : (r) => {
              this.#add(p, r);
              this.#release();
              return true;
            },
      );
    }
    this.refreshStatus();
  }

  #add(p: Producer, r: Received): void {
    // A producer's first update is its current value, not a new object: skipped per producer
    // (PvaPy counts after sorting, so with N producers N-1 stale values would be processed).
    // So is its first update after each reconnect.
    if (r.connection !== p.connection) {
      if (p.connection !== undefined && r.connection !== undefined) p.toSkip = this.options.skipInitialUpdates;
      p.connection = r.connection;
    }
    if (p.toSkip > 0) {
      p.toSkip--;
      return;
    }
    const raw = r.value[this.options.objectIdField];
    const id = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : NaN;
    if (Number.isNaN(id)) {
      p.nRejected++;
      if (!this.#warnedNoId) {
        this.#warnedNoId = true;
        this.options.processor.logger.warn(`objects from ${p.channel} have no numeric '${this.options.objectIdField}' field: rejected`);
      }
      return;
    }
    if (this.cache.add(p.id, id, r) === 'rejected') p.nRejected++;
  }

  /** With receiver queues: one object per producer per round into the cache, then release. */
  #scheduleDrain(): void {
    if (this.#drainScheduled || !this.#running) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      let moved = 0;
      for (let any = true; any && moved < DRAIN_BATCH; ) {
        any = false;
        for (const p of this.#producers) {
          const r = p.queue?.shift();
          if (!r) continue;
          any = true;
          moved++;
          this.#add(p, r);
        }
        this.#release();
      }
      if (this.#producers.some((p) => (p.queue?.length ?? 0) > 0)) this.#scheduleDrain();
    });
  }

  /** Process what the cache releases, in order; then wait for the next gap time-out, if any. */
  #release(): void {
    for (const rel of this.cache.takeReady()) for (const item of rel.items) this.#ready.push(item);
    this.#pump();
    this.#armTimer();
  }

  #pump(): void {
    if (this.#current) return;
    let i = 0;
    const ready = this.#ready;
    while (i < ready.length) {
      const r = ready[i++] as Received;
      const done = this.controller.process(r.value, r.type);
      if (done instanceof Promise) {
        this.#ready = ready.slice(i);
        this.#current = done.then(() => {
          this.#current = null;
          this.#pump();
        });
        return;
      }
    }
    this.#ready = [];
  }

  #armTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const deadline = this.cache.nextDeadline();
    if (deadline === null || !this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#release();
    }, Math.max(0, deadline - Date.now()) + 1);
  }

  /** Run a control command; `peer`, the client that asked (a stop lets it read the reply first). */
  command(cmd: ControlCommand, args: string, peer?: string): Promise<string> {
    if (cmd === 'stop' && peer) this.#stopPeer = peer;
    return runControlCommand(
      {
        applyConfig: (cfg) => {
          checkConfig(cfg, ['skipInitialUpdates', 'objectIdOffset', 'nSequentialUpdates', 'collectorCacheSize']);
          if (typeof cfg['collectorCacheSize'] === 'number') this.cache.capacity = Math.max(this.#producers.length, cfg['collectorCacheSize']);
          if (typeof cfg['objectIdOffset'] === 'number') this.cache.offset = Math.max(1, cfg['objectIdOffset']);
          this.controller.configure(cfg);
        },
        configureProcessor: (cfg) => this.options.processor.configure(cfg),
        resetStats: () => this.resetStats(),
        refreshStatus: () => this.refreshStatus(),
        requestStop: () => this.#stopRequested?.(),
      },
      cmd,
      args,
    );
  }

  resetStats(): void {
    for (const p of this.#producers) {
      p.receiver.resetStats();
      p.queue?.resetCounters();
      p.nRejected = 0;
    }
    this.cache.resetCounters();
    this.#metadata?.resetStats();
    if (this.#publisher) this.#publisher.stats.nPublished = this.#publisher.stats.nErrors = 0;
    this.controller.resetStats();
  }

  stats(): CollectorStats {
    const ps = this.controller.stats();
    const rate = (n: number): number => (ps.receivingTime > 0 ? n / ps.receivingTime : 0);
    const c = this.cache;
    const pub = this.#publisher?.stats ?? { nPublished: 0, nErrors: 0 };
    return {
      collectorId: this.options.collectorId,
      collectorStats: withRates({ nCollected: c.nCollected, nRejected: c.nRejected, nMissed: c.nMissed, nCached: c.size, nRuns: c.nRuns }, rate) as unknown as CollectorStats['collectorStats'],
      publisherStats: withRates({ nPublished: pub.nPublished, nErrors: pub.nErrors }, rate),
      processorStats: ps,
      userStats: this.options.processor.getStats(),
      producerStats: this.#producers.map((p) => {
        const r = p.receiver.stats();
        const rejected = p.nRejected + (p.queue?.nRejected ?? 0);
        return {
          producerId: p.id,
          channel: p.channel,
          receiverStats: withRates({ nReceived: r.nReceived, nRejected: rejected, nOverruns: r.nOverruns }, rate),
          queueStats: p.queue?.stats() ?? { ...NO_QUEUE_STATS },
        };
      }),
      metadataStats: this.#metadata?.stats(rate) ?? [],
    };
  }

  refreshStatus(): CollectorStats {
    const s = this.stats();
    this.#status?.post(
      {
        collectorId: s.collectorId,
        collectorStats: s.collectorStats,
        publisherStats: s.publisherStats,
        processorStats: s.processorStats,
        ...Object.fromEntries(s.producerStats.map((p) => [`producerStats_${p.producerId}`, p])),
      },
      s.userStats,
      s.metadataStats,
    );
    return s;
  }

  /** Stop the inputs, process everything queued and cached (in order), stop the processor. */
  /** An error of the processor's code outside process(), e.g. an unhandled promise rejection. */
  userError(err: unknown): void {
    this.controller.userError(err);
  }

  async stop(): Promise<CollectorStats> {
    if (this.#watchdog) clearInterval(this.#watchdog);
    // What the monitors had received but not delivered is collected too, after the queues.
    const left = await Promise.all(this.#producers.map(async (p) => ({ p, items: (await p.receiver.stop()) ?? [] })));
    this.#metadata?.stop();
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    for (const p of this.#producers) for (let r = p.queue?.shift(); r; r = p.queue?.shift()) this.#add(p, r);
    for (const { p, items } of left) for (const r of items) this.#add(p, r);
    for (const rel of this.cache.takeAll()) for (const item of rel.items) this.#ready.push(item);
    const grace = graceMs(this.options.processingTimeoutS);
    if (this.failure) this.#ready = [];
    this.#pump();
    // A stuck process() is not waited for beyond the grace (what is left is not processed).
    while (this.#current) if (!(await settledWithin(this.#current, grace))) break;
    if (!(await settledWithin(this.options.processor.stop(), grace))) {
      warnLine(`collector ${this.options.collectorId}`, `processor stop() did not finish within ${grace / 1000} s; not waiting for it`);
    }
    const s = this.refreshStatus();
    this.client.close();
    this.#ca?.close();
    if (this.#stopPeer) await untilPeerLeaves(this.server, this.#stopPeer, STOP_LINGER_MS);
    await this.server.close();
    return s;
  }
}
