// One data collector (PvaPy's pvapy-hpc-collector): the input strategy of a ProcessorHost with
// N producer monitors, whose objects are sorted by id in a cache (several objects may share an
// id) and released to the processor in order.
import type { ScalarType, StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import { withRates } from '../runtime/channels.js';
import type { PVRequest } from '../pvdata/pvrequest.js';
import { inputUpstream, UpstreamReceiver, type Received } from '../runtime/io.js';
import { ProcessorHost, type CommonHostOptions } from '../runtime/processor-host.js';
import { NO_QUEUE_STATS, ReceiverQueue } from '../runtime/receiver-queue.js';
import { settledWithin } from '../runtime/watchdog.js';
import { checkConfig } from '../runtime/config-check.js';
import { SortingCache } from './sorting-cache.js';
import { collectorStatusType, type CollectorStats } from './status.js';

export interface CollectorOptions extends CommonHostOptions {
  collectorId: number;
  /** Producer ids and their channels (the input template with * replaced). */
  producers: { id: number; channel: string }[];
  /** pvRequest of the producer monitors (queue size, fields), built by the caller (see inputRequest() in consumer/options.ts), or its text. */
  inputRequest: string | PVRequest;
  serverQueueSize: number;
  /** <0: objects go straight into the cache; 0: unbounded queues; >0: bounded queues. */
  receiverQueueSize: number;
  /** Objects held in the sorting cache. */
  cacheSize: number;
  /** Longest wait of an object for a missing predecessor (s). */
  cacheTimeoutS: number;
}

interface Producer {
  id: number;
  channel: string;
  receiver: UpstreamReceiver;
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

export class DataCollector extends ProcessorHost<CollectorStats> {
  readonly options: CollectorOptions;
  readonly cache: SortingCache<Received>;
  readonly #producers: Producer[];
  #running = false;
  /** What each monitor had received but not delivered when it stopped. */
  #leftInMonitors: { p: Producer; items: Received[] }[] = [];
  /** Released objects waiting for an asynchronous process() to finish. */
  #ready: Received[] = [];
  /** An asynchronous process() under way. */
  #current: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #drainScheduled = false;
  #warnedNoId = false;

  constructor(options: CollectorOptions) {
    super({
      ...options,
      label: `collector ${options.collectorId}`,
      idField: 'collectorId',
      id: options.collectorId,
      inputLabel: options.producers.map((x) => x.channel).join(','),
      // A collector always hosts its output PV.
      outputMode: 'pvas',
      // Initial updates are skipped per producer, before sorting (see #add).
      processing: {
        objectIdField: options.objectIdField,
        objectIdOffset: options.objectIdOffset,
        nSequentialUpdates: 1,
        skipInitialUpdates: 0,
      },
    });
    this.options = options;
    this.cache = new SortingCache<Received>({
      capacity: options.cacheSize,
      offset: options.objectIdOffset,
      timeoutMs: options.cacheTimeoutS * 1000,
      producers: options.producers.map((x) => x.id),
    });
    const notify =
      options.notify ?? ((text: string) => process.stderr.write(`${new Date().toISOString()} collector ${options.collectorId}: ${text}\n`));
    // PvaPy raises bounded receiver queues to at least 10 cache sizes.
    const rqs = options.receiverQueueSize > 0 ? Math.max(options.receiverQueueSize, 10 * options.cacheSize) : options.receiverQueueSize;
    const upstream = inputUpstream('pva', this.client);
    const monitorOptions = { request: options.inputRequest, queueSize: options.serverQueueSize };
    this.#producers = options.producers.map(({ id, channel }) => ({
      id,
      channel,
      receiver: new UpstreamReceiver(upstream, channel, monitorOptions, notify),
      queue: rqs >= 0 ? new ReceiverQueue<Received>(rqs) : null,
      nRejected: 0,
      toSkip: options.skipInitialUpdates,
      connection: undefined,
    }));
  }

  protected startInput(): void {
    this.#running = true;
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
        this.logger.warn(`objects from ${p.channel} have no numeric '${this.options.objectIdField}' field: rejected`);
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
      for (let any = true; any && moved < DRAIN_BATCH;) {
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
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#release();
      },
      Math.max(0, deadline - Date.now()) + 1,
    );
  }

  protected async stopReceiving(): Promise<void> {
    this.#leftInMonitors = await Promise.all(this.#producers.map(async (p) => ({ p, items: (await p.receiver.stop()) ?? [] })));
  }

  /**
   * Collect everything queued, then what the monitors had not delivered, and process it all in
   * order; a stuck process() is not waited for beyond the grace (what is left is not processed).
   */
  protected async finishInput(grace: number): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    for (const p of this.#producers) for (let r = p.queue?.shift(); r; r = p.queue?.shift()) this.#add(p, r);
    for (const { p, items } of this.#leftInMonitors) for (const r of items) this.#add(p, r);
    for (const rel of this.cache.takeAll()) for (const item of rel.items) this.#ready.push(item);
    if (this.failure) this.#ready = [];
    this.#pump();
    while (this.#current) if (!(await settledWithin(this.#current, grace))) break;
  }

  protected applyInputConfig(cfg: Record<string, unknown>): void {
    checkConfig(cfg, ['skipInitialUpdates', 'objectIdOffset', 'nSequentialUpdates', 'collectorCacheSize']);
    if (typeof cfg['collectorCacheSize'] === 'number') this.cache.capacity = Math.max(this.#producers.length, cfg['collectorCacheSize']);
    if (typeof cfg['objectIdOffset'] === 'number') this.cache.offset = Math.max(1, cfg['objectIdOffset']);
  }

  protected resetInputStats(): void {
    for (const p of this.#producers) {
      p.receiver.resetStats();
      p.queue?.resetCounters();
      p.nRejected = 0;
    }
    this.cache.resetCounters();
  }

  protected statusType(userTypes: Record<string, ScalarType>, nMetadata: number): StructureDesc {
    return collectorStatusType(
      userTypes,
      this.#producers.map((p) => p.id),
      nMetadata,
    );
  }

  protected statusFields(s: CollectorStats): PVStructure {
    return {
      collectorId: s.collectorId,
      collectorStats: s.collectorStats,
      publisherStats: s.publisherStats,
      processorStats: s.processorStats,
      ...Object.fromEntries(s.producerStats.map((p) => [`producerStats_${p.producerId}`, p])),
    };
  }

  stats(): CollectorStats {
    const { processorStats, publisherStats, userStats, metadataStats, rate } = this.processingStats();
    const c = this.cache;
    return {
      collectorId: this.options.collectorId,
      collectorStats: withRates(
        { nCollected: c.nCollected, nRejected: c.nRejected, nMissed: c.nMissed, nCached: c.size, nRuns: c.nRuns },
        rate,
      ) as unknown as CollectorStats['collectorStats'],
      publisherStats,
      processorStats,
      userStats,
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
      metadataStats,
    };
  }
}
