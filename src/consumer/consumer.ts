// One data consumer (PvaPy's pvapy-hpc-consumer with one id): the input strategy of a
// ProcessorHost with one input (a pva monitor, a ca monitor, a hosted PV or an RPC service),
// processed as it comes or through a receiver queue that may accumulate objects.
import type { PVRequest } from '../pvdata/pvrequest.js';
import type { PVStructure } from '../pvdata/values.js';
import { timeT } from '../pvdata/nt/index.js';
import { t, type FieldDesc, type ScalarType, type StructureDesc } from '../pvdata/types.js';
import { group, metadataFields, processorStatsT, publisherStatsT, queueStatsT, receiverStatsT, withRates } from '../runtime/channels.js';
import {
  inputUpstream,
  PvasReceiver,
  RpcReceiver,
  UpstreamReceiver,
  type InputMode,
  type OutputMode,
  type Received,
  type Receiver,
} from '../runtime/io.js';
import type { MetadataStats } from '../runtime/metadata.js';
import type { ProcessorStats } from '../runtime/processing-controller.js';
import { ProcessorHost, type CommonHostOptions } from '../runtime/processor-host.js';
import { settledWithin } from '../runtime/watchdog.js';
import { NO_QUEUE_STATS, ReceiverQueue, type QueueStats } from '../runtime/receiver-queue.js';
import { InvalidArgumentError } from '../errors.js';
import { checkConfig } from './options.js';

export interface ConsumerOptions extends CommonHostOptions {
  consumerId: number;
  inputChannel: string;
  inputMode: InputMode;
  outputMode: OutputMode;
  /**
   * pvRequest of the input monitor (queue, fields, distributor), built by the caller (see
   * inputRequest() in consumer/options.ts), or its text.
   */
  inputRequest: string | PVRequest;
  serverQueueSize: number;
  /** <0: process in the receiving loop; 0: unbounded queue; >0: bounded queue. */
  receiverQueueSize: number;
  accumulateObjects: number;
  accumulationTimeoutS: number;
  nSequentialUpdates: number;
}

export interface ConsumerStats {
  consumerId: number;
  inputChannel: string;
  receiverStats: Record<string, number>;
  publisherStats: Record<string, number>;
  queueStats: QueueStats;
  processorStats: ProcessorStats;
  userStats: Record<string, number>;
  metadataStats: MetadataStats[];
}

/**
 * The consumer status type; userStats holds the processor's typed statistics, then one
 * metadataStats_<n> per metadata channel.
 */
function consumerStatusType(userTypes: Record<string, ScalarType>, nMetadata = 0): StructureDesc {
  const fields: [string, FieldDesc][] = [
    ['consumerId', t.uint],
    ['inputChannel', t.string],
    ['objectId', t.uint],
    ['objectTime', t.double],
    ['objectTimestamp', timeT],
    ['receiverStats', receiverStatsT],
    ['publisherStats', publisherStatsT],
    ['queueStats', queueStatsT],
    ['processorStats', processorStatsT],
  ];
  if (Object.keys(userTypes).length > 0) fields.push(['userStats', group(userTypes)]);
  fields.push(...metadataFields(nMetadata));
  return t.struct(fields);
}

export class DataConsumer extends ProcessorHost<ConsumerStats> {
  readonly options: ConsumerOptions;
  readonly #receiver: Receiver;
  readonly #queue: ReceiverQueue<Received> | null;
  #running = false;
  /** What the monitor had received but not delivered when it stopped. */
  #leftInMonitor: Received[] = [];

  constructor(options: ConsumerOptions) {
    super({
      ...options,
      label: `consumer ${options.consumerId}`,
      idField: 'consumerId',
      id: options.consumerId,
      inputLabel: options.inputChannel,
      processing: {
        objectIdField: options.objectIdField,
        objectIdOffset: options.objectIdOffset,
        nSequentialUpdates: options.nSequentialUpdates,
        skipInitialUpdates: options.skipInitialUpdates,
      },
    });
    this.options = options;
    this.#queue = options.receiverQueueSize >= 0 ? new ReceiverQueue<Received>(options.receiverQueueSize) : null;
    const notify =
      options.notify ?? ((text: string) => process.stderr.write(`${new Date().toISOString()} consumer ${options.consumerId}: ${text}\n`));
    this.#receiver =
      options.inputMode === 'pva'
        ? new UpstreamReceiver(
            inputUpstream('pva', this.client),
            options.inputChannel,
            { request: options.inputRequest, queueSize: options.serverQueueSize },
            notify,
          )
        : options.inputMode === 'ca'
          ? new UpstreamReceiver(inputUpstream('ca', this.caClient()), options.inputChannel, { queueSize: 0 }, notify)
          : options.inputMode === 'pvas'
            ? new PvasReceiver(this.server, options.inputChannel, this.processor.getInputType())
            : new RpcReceiver(this.server, options.inputChannel);
  }

  protected startInput(): void {
    this.#running = true;
    const q = this.#queue;
    if (q) {
      let rejected = false;
      this.#receiver.start((r) => {
        const taken = q.push(r);
        // The output must not pass on marks across a rejected object: tell it where the gap is.
        if (!taken) rejected = true;
        else if (rejected) {
          r.afterGap = true;
          rejected = false;
        }
        return taken;
      });
      void this.#drainLoop(q);
    } else {
      this.#receiver.start((r) => {
        const done = this.controller.process(r.value, r.type, r.connection, r);
        return done instanceof Promise ? done.then(() => true) : true;
      });
    }
  }

  /** With a receiver queue: process from the queue, honouring accumulation. */
  async #drainLoop(q: ReceiverQueue<Received>): Promise<void> {
    const o = this.options;
    while (this.#running) {
      if (q.length === 0) await q.wait(1000);
      if (!this.#running) break;
      if (o.accumulateObjects > 0 && q.length < o.accumulateObjects) {
        // Wait for enough objects, unless the last one came in longer than the timeout ago.
        if (q.length === 0 || Date.now() - q.lastPut < o.accumulationTimeoutS * 1000) {
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
      }
      for (let r = q.shift(); r && this.#running; r = q.shift()) {
        if (r.afterGap) this.controller.gap();
        const done = this.controller.process(r.value, r.type, r.connection, r);
        if (done instanceof Promise) await done;
        // Let I/O in between objects: receiving goes on into the queue while we process
        // (PvaPy receives on another thread), which is the point of having a receiver queue.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  protected async stopReceiving(): Promise<void> {
    this.#leftInMonitor = (await this.#receiver.stop()) ?? [];
  }

  /**
   * Process what is queued. Objects that will not be processed (left in the monitor's queue; in
   * ours too when a process() is stuck or timed out) count as missed.
   */
  protected async finishInput(grace: number): Promise<void> {
    const c = this.controller;
    const q = this.#queue;
    if (q) {
      for (let r = q.shift(); r; r = q.shift()) {
        if (c.busy || this.failure) {
          c.discarded(r.value);
          continue;
        }
        if (r.afterGap) c.gap();
        const done = c.process(r.value, r.type, r.connection, r);
        if (done instanceof Promise) await settledWithin(done, grace);
      }
    }
    for (const r of this.#leftInMonitor) c.discarded(r.value);
    this.#running = false;
  }

  protected applyInputConfig(cfg: Record<string, unknown>): void {
    checkConfig(cfg, ['skipInitialUpdates', 'objectIdOffset', 'nSequentialUpdates', 'receiverQueueSize']);
    if ('receiverQueueSize' in cfg && !this.#queue)
      throw new InvalidArgumentError('receiverQueueSize: this consumer has no receiver queue (started with --receiver-queue-size < 0)');
    if (this.#queue && typeof cfg['receiverQueueSize'] === 'number') this.#queue.maxLength = cfg['receiverQueueSize'];
  }

  protected resetInputStats(): void {
    this.#receiver.resetStats();
    this.#queue?.resetCounters();
  }

  protected statusType(userTypes: Record<string, ScalarType>, nMetadata: number): StructureDesc {
    return consumerStatusType(userTypes, nMetadata);
  }

  protected statusFields(s: ConsumerStats): PVStructure {
    return {
      consumerId: s.consumerId,
      inputChannel: s.inputChannel,
      receiverStats: s.receiverStats,
      publisherStats: s.publisherStats,
      queueStats: s.queueStats,
      processorStats: s.processorStats,
    };
  }

  stats(): ConsumerStats {
    const { processorStats, publisherStats, userStats, metadataStats, rate } = this.processingStats();
    const r = this.#receiver.stats();
    return {
      consumerId: this.options.consumerId,
      inputChannel: this.options.inputChannel,
      receiverStats: withRates(
        { nReceived: r.nReceived, nRejected: r.nRejected + (this.#queue?.nRejected ?? 0), nErrors: r.nErrors, nOverruns: r.nOverruns },
        rate,
      ),
      publisherStats,
      queueStats: this.#queue?.stats() ?? { ...NO_QUEUE_STATS },
      processorStats,
      userStats,
      metadataStats,
    };
  }
}
