// What every host of a user processor does, written once: its server and client, the processing
// controller, the output channel, the control and status PVs, metadata channels, the `configure`,
// `reset_stats`, `get_stats` and `stop` commands, the processing time-out and the shutdown order.
// A subclass is only an input strategy: where objects come from and how they reach the
// controller (a consumer: one receiver; a collector: N producers through a sorting cache).
import { CaClient } from '../ca/client.js';
import type { AccessPolicy } from '../access/policy.js';
import { PvaClient } from '../pva/client/client.js';
import { PvaServer } from '../pva/server/server.js';
import type { ScalarType, StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import { adaptProcessor, type Processor, type UserProcessor } from '../processing/processor-adapter.js';
import { bindContext, type ProcessorContext } from '../processing/processor-context.js';
import { silentLogger, type ProcessorConfig, type ProcessorLogger } from '../processing/user-data-processor.js';
import { runControlCommand, serveControl, STOP_LINGER_MS, untilPeerLeaves, StatusPV, withRates, type ControlCommand } from './channels.js';
import type { OutputMode } from './io.js';
import type { MetadataChannels, MetadataStats } from './metadata.js';
import { ProcessingController, type ProcessingOptions, type ProcessorStats } from './processing-controller.js';
import { OutputChannel } from './output-channel.js';
import { graceMs, settledWithin, startWatchdog } from './watchdog.js';

/** What every host is given by its caller (the CLI or a program), whatever its input. */
export interface CommonHostOptions {
  outputChannel?: string | undefined;
  statusChannel?: string | undefined;
  controlChannel?: string | undefined;
  objectIdField: string;
  objectIdOffset: number;
  skipInitialUpdates: number;
  /** Seconds one process() may take; past it the host reports and stops. <= 0 (default): none. */
  processingTimeoutS?: number | undefined;
  /** A UserDataProcessor, or any object with process() (the host wraps it; see processor-adapter.ts). */
  processor: UserProcessor;
  /** Where the processor (ctx.logger) and the host log; default nowhere. */
  logger?: ProcessorLogger | undefined;
  /** Metadata channels, made with this host's clients. */
  metadata?: ((client: PvaClient, caClient: () => CaClient) => MetadataChannels) | undefined;
  /** Environment for the server and clients (EPICS_PVA*, EPICS_CA*). */
  env?: NodeJS.ProcessEnv | undefined;
  /** Access rules of the host's server (its control PV is in ASG CONTROL). */
  access?: AccessPolicy | undefined;
  /** Where to tell that an input disconnected or is back; default a line on stderr. */
  notify?: ((text: string) => void) | undefined;
}

/** What the input strategy adds for the host. */
export interface HostOptions extends Omit<CommonHostOptions, 'objectIdField' | 'objectIdOffset' | 'skipInitialUpdates' | 'notify'> {
  /** How the host names itself in warnings: `consumer 1`, `collector 2`. */
  label: string;
  /** The id field of the control PV (consumerId, collectorId) and its value. */
  idField: string;
  id: number;
  /** What the processor sees as its inputChannel (a collector's: its producers' channels). */
  inputLabel: string;
  outputMode: OutputMode;
  processing: ProcessingOptions;
}

/** The statistics every host reports, whatever its input. */
export interface ProcessingStats {
  processorStats: ProcessorStats;
  publisherStats: Record<string, number>;
  userStats: Record<string, number>;
  metadataStats: MetadataStats[];
  /** Per-second rate of a counter, over the receiving time (as PvaPy). */
  rate: (n: number) => number;
}

/** One warning line on stderr, whatever the log level: things the user must hear about once. */
function warnLine(who: string, message: string): void {
  process.stderr.write(`${who}: warning: ${message}\n`);
}

export abstract class ProcessorHost<S extends { userStats: Record<string, number>; metadataStats: MetadataStats[] }> {
  readonly server: PvaServer;
  readonly client: PvaClient;
  readonly controller: ProcessingController;
  readonly stopped: Promise<void>;
  /** Why the host stopped on its own (a processing time-out), or null. */
  failure: string | null = null;
  protected readonly metadata: MetadataChannels | null;
  /** The framework's view of the user's processor. */
  protected readonly processor: Processor;
  protected readonly logger: ProcessorLogger;
  readonly #host: HostOptions;
  readonly #output: OutputChannel;
  readonly #ctx: ProcessorContext;
  #inputType: StructureDesc | null = null;
  #status: StatusPV | null = null;
  #stopRequested: (() => void) | null = null;
  /** The client that put `stop` into the control PV: it may read the reply before we close. */
  #stopPeer: string | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #ca: CaClient | null = null;
  /** The Channel Access client (ca input, ca:// metadata), made on first use. */
  protected readonly caClient = (): CaClient => (this.#ca ??= new CaClient({ env: this.#host.env ?? process.env }));

  constructor(host: HostOptions) {
    this.#host = host;
    const env = host.env ?? process.env;
    this.server = new PvaServer({ env, ...(host.access ? { access: host.access } : {}) });
    this.client = new PvaClient({ env });
    const p = (this.processor = adaptProcessor(host.processor));
    this.logger = host.logger ?? silentLogger;
    this.#output = new OutputChannel(host.outputChannel, host.outputMode, this.server, this.client, (m) => warnLine(host.label, m));
    this.controller = new ProcessingController(
      p,
      { ...host.processing, processingTimeoutMs: (host.processingTimeoutS ?? 0) * 1000, logger: this.logger },
      (first, inputType) => {
        this.#inputType = inputType;
        if (host.outputChannel) this.#output.setUp(p.getOutputType(first, inputType));
      },
    );
    this.controller.onGap = this.#output.gap;
    this.controller.onInput = this.#output.input;
    this.metadata = host.metadata?.(this.client, this.caClient) ?? null;
    this.#ctx = this.#context();
    bindContext(host.processor, this.#ctx); // beside the user's object, not in it
    this.stopped = new Promise((resolve) => (this.#stopRequested = resolve));
  }

  // The input strategy.

  /** Start receiving and hand objects to the controller. */
  protected abstract startInput(): void;
  /** Stop receiving; keep what was received and not handed over yet, for finishInput(). */
  protected abstract stopReceiving(): Promise<void>;
  /** Process (or count as missed) what was received before the stop; `graceMs` bounds a stuck process(). */
  protected abstract finishInput(graceMs: number): Promise<void>;
  /** Check and apply the input's keys of a `configure` (all checked before any is applied). */
  protected abstract applyInputConfig(cfg: Record<string, unknown>): void;
  protected abstract resetInputStats(): void;
  /** The status PV type, given the processor's typed user statistics and the metadata channels. */
  protected abstract statusType(userTypes: Record<string, ScalarType>, nMetadata: number): StructureDesc;
  /** What the status PV shows of `s`, besides userStats and metadataStats (the StatusPV adds those). */
  protected abstract statusFields(s: S): PVStructure;
  abstract stats(): S;

  /** The processor, processing, output and metadata statistics, which every stats() includes. */
  protected processingStats(): ProcessingStats {
    const ps = this.controller.stats();
    const rate = (n: number): number => (ps.receivingTime > 0 ? n / ps.receivingTime : 0);
    const pub = this.#output.stats;
    return {
      processorStats: ps,
      publisherStats: withRates({ nPublished: pub.nPublished, nErrors: pub.nErrors }, rate),
      userStats: this.processor.getStats(),
      metadataStats: this.metadata?.stats(rate) ?? [],
      rate,
    };
  }

  /** What the processor is given (start(ctx)); it reads the host's state as it is now. */
  #context(): ProcessorContext {
    const h = this.#host;
    const inputType = () => this.#inputType; // read when asked: it is known from the first input on
    const output = this.#output;
    const controller = this.controller;
    const system = {
      processorId: h.id,
      objectIdField: h.processing.objectIdField,
      inputChannel: h.inputLabel,
      outputChannel: h.outputChannel ?? '',
    };
    // A processor that does not extend UserDataProcessor may have no config.
    const own = (h.processor as { config?: ProcessorConfig }).config ?? {};
    return {
      ...system,
      config: { ...own, ...system },
      logger: this.logger,
      server: this.server,
      metadataQueues: this.metadata?.queueMap ?? new Map(),
      get inputType() {
        return inputType();
      },
      get outputType() {
        return output.type;
      },
      get update() {
        return controller.current;
      },
      publish: output.publish,
      openOutput: (type) => output.open(type),
    };
  }

  /** Serve the PVs, start the processor and the input. */
  async start(): Promise<void> {
    const h = this.#host;
    if (h.controlChannel) serveControl(this.server, h.controlChannel, h.idField, h.id, (cmd, args, peer) => this.command(cmd, args, peer));
    if (h.statusChannel) {
      const userTypes = this.processor.getStatsTypes();
      this.#status = new StatusPV(this.server, h.statusChannel, this.statusType(userTypes, this.metadata?.specs.length ?? 0), userTypes);
    }
    await this.server.listen();
    this.metadata?.start();
    await this.processor.start(this.#ctx);
    this.#watchdog = startWatchdog(this.controller, (message) => {
      this.failure = message;
      warnLine(h.label, `${message}: stopping`);
      this.requestStop();
    });
    this.startInput();
    this.refreshStatus();
  }

  /** Run a control command; `peer`, the client that asked (a stop lets it read the reply first). */
  command(cmd: ControlCommand, args: string, peer?: string): Promise<string> {
    if (cmd === 'stop' && peer) this.#stopPeer = peer;
    return runControlCommand(
      {
        applyConfig: (cfg) => {
          this.applyInputConfig(cfg);
          this.controller.configure(cfg);
        },
        configureProcessor: (cfg) => this.processor.configure(cfg),
        resetStats: () => this.resetStats(),
        refreshStatus: () => this.refreshStatus(),
        requestStop: () => this.requestStop(),
      },
      cmd,
      args,
    );
  }

  /** Resolve `stopped`: whoever runs the host then calls stop(). */
  requestStop(): void {
    this.#stopRequested?.();
  }

  /** An error of the processor's code outside process(), e.g. an unhandled promise rejection. */
  userError(err: unknown): void {
    this.controller.userError(err);
  }

  resetStats(): void {
    this.resetInputStats();
    this.metadata?.resetStats();
    this.#output.resetStats();
    this.controller.resetStats();
  }

  /** Publish the statistics on the status PV (each report period, ≥ every 10 s, get_stats). */
  refreshStatus(): S {
    const s = this.stats();
    this.#status?.post(this.statusFields(s), s.userStats, s.metadataStats);
    return s;
  }

  /**
   * Stop the input, process what it had received, stop the processor, publish the final stats,
   * close. A process() or processor stop() that does not finish is not waited for beyond the
   * processing time-out (STOP_GRACE_MS without one).
   */
  async stop(): Promise<S> {
    if (this.#watchdog) clearInterval(this.#watchdog);
    await this.stopReceiving();
    this.metadata?.stop();
    const grace = graceMs(this.#host.processingTimeoutS);
    await this.finishInput(grace);
    if (!(await settledWithin(this.processor.stop(), grace))) {
      warnLine(this.#host.label, `processor stop() did not finish within ${grace / 1000} s; not waiting for it`);
    }
    const s = this.refreshStatus();
    this.client.close();
    this.#ca?.close();
    if (this.#stopPeer) await untilPeerLeaves(this.server, this.#stopPeer, STOP_LINGER_MS);
    await this.server.close();
    return s;
  }
}
