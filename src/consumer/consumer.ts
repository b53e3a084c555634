// One data consumer (PvaPy's pvapy-hpc-consumer with one id): receives a stream, optionally
// queues it, runs the user processor, publishes its output, and serves control and status PVs.
import { CaClient } from '../ca/client.js';
import { Client } from '../pva/client/client.js';
import type { AccessPolicy } from '../access/policy.js';
import { Server } from '../pva/server/server.js';
import { SharedPV } from '../pva/server/shared-pv.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import type { UserDataProcessor } from '../processing/user-data-processor.js';
import { runControlCommand, serveControl, STOP_LINGER_MS, untilPeerLeaves, statusType, StatusPV, withRates, type ControlCommand } from '../runtime/channels.js';
import { MonitorReceiver, Publisher, PvasReceiver, RpcReceiver, type InputMode, type OutputMode, type Received, type Receiver } from '../runtime/io.js';
import { CaReceiver } from '../runtime/ca-receiver.js';
import { InvalidArgumentError } from '../errors.js';
import { checkConfig, warnLine } from './options.js';
import { graceMs, settledWithin, startWatchdog } from '../runtime/watchdog.js';
import type { MetadataChannels, MetadataStats } from '../runtime/metadata.js';
import { ProcessingController, type ProcessorStats } from '../runtime/processing-controller.js';
import { NO_QUEUE_STATS, ReceiverQueue, type QueueStats } from '../runtime/receiver-queue.js';

export interface ConsumerOptions {
  consumerId: number;
  inputChannel: string;
  inputMode: InputMode;
  outputChannel?: string | undefined;
  outputMode: OutputMode;
  statusChannel?: string | undefined;
  controlChannel?: string | undefined;
  /** pvRequest of the input monitor (queue, fields, distributor), built by the caller. */
  inputRequest: string;
  serverQueueSize: number;
  /** <0: process in the receiving loop; 0: unbounded queue; >0: bounded queue. */
  receiverQueueSize: number;
  accumulateObjects: number;
  accumulationTimeoutS: number;
  objectIdField: string;
  objectIdOffset: number;
  nSequentialUpdates: number;
  skipInitialUpdates: number;
  /** Seconds one process() may take; past it the consumer reports and stops. <= 0 (default): none. */
  processingTimeoutS?: number;
  processor: UserDataProcessor;
  /** Metadata channels, made with this consumer's clients. */
  metadata?: ((client: Client, caClient: () => CaClient) => MetadataChannels) | undefined;
  /** Environment for the server and client (EPICS_PVA*). */
  env?: NodeJS.ProcessEnv;
  /** Access rules of the consumer's server (its control PV is in ASG CONTROL). */
  access?: AccessPolicy | undefined;
  /** Where to tell that the input disconnected or is back; default a line on stderr. */
  notify?: (text: string) => void;
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

export class DataConsumer {
  readonly options: ConsumerOptions;
  readonly server: Server;
  readonly client: Client;
  readonly controller: ProcessingController;
  readonly #receiver: Receiver;
  readonly #queue: ReceiverQueue<Received> | null;
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
  #watchdog: NodeJS.Timeout | null = null;
  /** Why the consumer stopped on its own (a processing time-out), or null. */
  failure: string | null = null;

  constructor(options: ConsumerOptions) {
    this.options = options;
    const env = options.env ?? process.env;
    this.server = new Server({ env, ...(options.access ? { access: options.access } : {}) });
    this.client = new Client({ env });
    const p = options.processor;
    p.processorId = options.consumerId;
    p.objectIdField = options.objectIdField;
    p.inputChannel = options.inputChannel;
    p.outputChannel = options.outputChannel ?? '';
    p.server = this.server;
    this.controller = new ProcessingController(
      p,
      {
        objectIdField: options.objectIdField,
        objectIdOffset: options.objectIdOffset,
        nSequentialUpdates: options.nSequentialUpdates,
        skipInitialUpdates: options.skipInitialUpdates,
        processingTimeoutMs: (options.processingTimeoutS ?? 0) * 1000,
      },
      options.outputChannel ? (first, inputType) => this.#makePublisher(first, inputType) : null,
    );
    this.#metadata = options.metadata?.(this.client, this.#caClient) ?? null;
    if (this.#metadata) p.metadataQueueMap = this.#metadata.queueMap;
    this.#queue = options.receiverQueueSize >= 0 ? new ReceiverQueue<Received>(options.receiverQueueSize) : null;
    const notify = options.notify ?? ((text: string) => process.stderr.write(`${new Date().toISOString()} consumer ${options.consumerId}: ${text}\n`));
    this.#receiver =
      options.inputMode === 'pva'
        ? new MonitorReceiver(this.client, options.inputChannel, options.inputRequest, options.serverQueueSize, notify)
        : options.inputMode === 'ca'
          ? new CaReceiver(this.#caClient(), options.inputChannel, undefined, notify)
          : options.inputMode === 'pvas'
          ? new PvasReceiver(this.server, options.inputChannel, p.getInputType())
            : new RpcReceiver(this.server, options.inputChannel);
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
      const hosted = this.options.outputMode === 'pvas' ? new SharedPV() : undefined;
      if (hosted) this.server.addPV(channel, hosted);
      processor.outputFactory = (t) => this.#openPublisher(channel, t, hosted);
      return null;
    }
    return type ? this.#openPublisher(channel, type) : null;
  }

  #openPublisher(channel: string, type: StructureDesc, hosted?: SharedPV): (v: PVStructure) => void {
    this.#publisher = new Publisher(this.options.outputMode, channel, type, this.server, this.client, hosted, (m) => warnLine(`consumer ${this.options.consumerId}`, m));
    return this.#publisher.publish;
  }

  /** Serve the PVs, start the processor and the input. */
  async start(): Promise<void> {
    const o = this.options;
    if (o.controlChannel) {
      serveControl(this.server, o.controlChannel, 'consumerId', o.consumerId, (cmd, args, peer) => this.command(cmd, args, peer));
    }
    if (o.statusChannel) {
      const userTypes = o.processor.getStatsTypes();
      this.#status = new StatusPV(this.server, o.statusChannel, statusType(userTypes, this.#metadata?.specs.length ?? 0), userTypes);
    }
    await this.server.listen();
    this.#metadata?.start();
    await o.processor.start();
    this.#running = true;
    this.#watchdog = startWatchdog(this.controller, (message) => {
      this.failure = message;
      warnLine(`consumer ${o.consumerId}`, `${message}: stopping`);
      this.requestStop();
    });
    const q = this.#queue;
    if (q) {
      this.#receiver.start((r) => q.push(r));
      void this.#drainLoop(q);
    } else {
      this.#receiver.start((r) => {
        const done = this.controller.process(r.value, r.type, r.connection);
        return done instanceof Promise ? done.then(() => true) : true;
      });
    }
    this.refreshStatus();
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
        const done = this.controller.process(r.value, r.type, r.connection);
        if (done instanceof Promise) await done;
        // Let I/O in between objects: receiving goes on into the queue while we process
        // (PvaPy receives on another thread), which is the point of having a receiver queue.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Run a control command; `peer`, the client that asked (a stop lets it read the reply first). */
  command(cmd: ControlCommand, args: string, peer?: string): Promise<string> {
    if (cmd === 'stop' && peer) this.#stopPeer = peer;
    return runControlCommand(
      {
        applyConfig: (cfg) => {
          checkConfig(cfg, ['skipInitialUpdates', 'objectIdOffset', 'nSequentialUpdates', 'receiverQueueSize']);
          if ('receiverQueueSize' in cfg && !this.#queue) throw new InvalidArgumentError('receiverQueueSize: this consumer has no receiver queue (started with --receiver-queue-size < 0)');
          if (this.#queue && typeof cfg['receiverQueueSize'] === 'number') this.#queue.maxLength = cfg['receiverQueueSize'];
          this.controller.configure(cfg);
        },
        configureProcessor: (cfg) => this.options.processor.configure(cfg),
        resetStats: () => this.resetStats(),
        refreshStatus: () => this.refreshStatus(),
        requestStop: () => this.requestStop(),
      },
      cmd,
      args,
    );
  }

  requestStop(): void {
    this.#stopRequested?.();
  }

  /** An error of the processor's code outside process(), e.g. an unhandled promise rejection. */
  userError(err: unknown): void {
    this.controller.userError(err);
  }

  resetStats(): void {
    this.#receiver.resetStats();
    this.#queue?.resetCounters();
    this.#metadata?.resetStats();
    if (this.#publisher) this.#publisher.stats.nPublished = this.#publisher.stats.nErrors = 0;
    this.controller.resetStats();
  }

  stats(): ConsumerStats {
    const ps = this.controller.stats();
    const rate = (n: number): number => (ps.receivingTime > 0 ? n / ps.receivingTime : 0);
    const r = this.#receiver.stats();
    const pub = this.#publisher?.stats ?? { nPublished: 0, nErrors: 0 };
    return {
      consumerId: this.options.consumerId,
      inputChannel: this.options.inputChannel,
      receiverStats: withRates(
        { nReceived: r.nReceived, nRejected: r.nRejected + (this.#queue?.nRejected ?? 0), nErrors: r.nErrors, nOverruns: r.nOverruns },
        rate,
      ),
      publisherStats: withRates({ nPublished: pub.nPublished, nErrors: pub.nErrors }, rate),
      queueStats: this.#queue?.stats() ?? { ...NO_QUEUE_STATS },
      processorStats: ps,
      userStats: this.options.processor.getStats(),
      metadataStats: this.#metadata?.stats(rate) ?? [],
    };
  }

  /** Publish the statistics on the status PV (each report period, ≥ every 10 s, get_stats). */
  refreshStatus(): ConsumerStats {
    const s = this.stats();
    this.#status?.post(
      {
        consumerId: s.consumerId,
        inputChannel: s.inputChannel,
        receiverStats: s.receiverStats,
        publisherStats: s.publisherStats,
        queueStats: s.queueStats,
        processorStats: s.processorStats,
      },
      s.userStats,
      s.metadataStats,
    );
    return s;
  }

  /**
   * Stop input, process what is queued, stop the processor, publish final stats, close. Objects
   * that will not be processed (left in the monitor's queue; in ours too when a process() is stuck)
   * count as missed; a process() or processor stop() that does not finish is not waited for
   * beyond the processing time-out (STOP_GRACE_MS without one).
   */
  async stop(): Promise<ConsumerStats> {
    if (this.#watchdog) clearInterval(this.#watchdog);
    const leftInMonitor = (await this.#receiver.stop()) ?? [];
    this.#metadata?.stop();
    const c = this.controller;
    const grace = graceMs(this.options.processingTimeoutS);
    const q = this.#queue;
    if (q) {
      for (let r = q.shift(); r; r = q.shift()) {
        if (c.busy || this.failure) {
          c.discarded(r.value);
          continue;
        }
        const done = c.process(r.value, r.type, r.connection);
        if (done instanceof Promise) await settledWithin(done, grace);
      }
    }
    for (const r of leftInMonitor) c.discarded(r.value);
    this.#running = false;
    if (!(await settledWithin(this.options.processor.stop(), grace))) {
      warnLine(`consumer ${this.options.consumerId}`, `processor stop() did not finish within ${grace / 1000} s; not waiting for it`);
    }
    const s = this.refreshStatus();
    this.client.close();
    this.#ca?.close();
    if (this.#stopPeer) await untilPeerLeaves(this.server, this.#stopPeer, STOP_LINGER_MS);
    await this.server.close();
    return s;
  }
}
