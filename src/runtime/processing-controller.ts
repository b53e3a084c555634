// Runs the user processor on each input object: skips the initial updates, reads the object id,
// counts missed ids, times processing, counts errors (a processor that throws does not stop the
// stream), and tells the host of the first input (the output channel is set up from its type).
import { SluiceError, TimeoutError } from '../errors.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVUpdate } from '../pvdata/update.js';
import type { PVStructure } from '../pvdata/values.js';
import type { Processor } from '../processing/processor-adapter.js';
import { silentLogger, type ProcessorLogger } from '../processing/user-data-processor.js';
import { MissedFrameCounter } from './missed-frames.js';

export interface ProcessingOptions {
  objectIdField: string;
  objectIdOffset: number;
  nSequentialUpdates: number;
  skipInitialUpdates: number;
  /** Longest time one process() may take before the host stops (ms); <= 0 none. */
  processingTimeoutMs?: number;
  /** Where processing errors are logged (the host's logger); default nowhere. */
  logger?: ProcessorLogger;
}

export interface ProcessorStats {
  runtime: number;
  startTime: number;
  endTime: number;
  receivingTime: number;
  firstObjectTime: number;
  lastObjectTime: number;
  firstObjectId: number;
  lastObjectId: number;
  nProcessed: number;
  processedRate: number;
  nErrors: number;
  errorRate: number;
  nMissed: number;
  missedRate: number;
  /** Initial updates skipped (--skip-initial-updates): received, never processed. */
  nSkipped: number;
  /** Runs of the source seen (1 from the first object; one more for each restart of the source). */
  nRuns: number;
}

/** Called with the first input object, even one that is skipped (its type sets up the output). */
export type FirstInputHandler = (firstInput: PVStructure, inputType: StructureDesc) => void;

/**
 * Told when the output's continuity with the input breaks: an input that is not processed
 * (skipped, rejected, missed, discarded), a reconnect, a processor error. The output channel then
 * sends its next marked update as a full one (see docs/architecture.md, "path of one frame").
 */
export type GapHandler = () => void;

export class ProcessingController {
  readonly processor: Processor;
  readonly options: ProcessingOptions;
  readonly #missed: MissedFrameCounter;
  readonly #onFirstInput: FirstInputHandler | null;
  #firstSeen = false;
  #skipped = 0;
  #nSkipped = 0;
  #startTime = Date.now() / 1000;
  #firstTime = 0;
  #lastTime = 0;
  #firstId = 0;
  #lastId = 0;
  /** Connection count of the input when the last object came (see process()). */
  #connection: number | undefined;
  /** The input connected again and no id was counted since. */
  #reconnected = false;
  nProcessed = 0;
  nErrors = 0;
  /** When the pending asynchronous process() began (ms, performance.now()); 0 when none is pending. */
  #busySince = 0;
  #busyId = NaN;
  /** The last processor error, for reports. */
  lastError: Error | null = null;
  /** The update being processed (the last one handed to process()); ctx.update reads it. */
  current: PVUpdate | null = null;
  /** Set by the host: called when continuity between input and output breaks. */
  onGap: GapHandler | null = null;
  /** Set by the host: called before each input is handed to the processor. */
  onInput: (() => void) | null = null;

  constructor(processor: Processor, options: ProcessingOptions, onFirstInput: FirstInputHandler | null) {
    this.processor = processor;
    this.options = { ...options };
    this.#missed = new MissedFrameCounter(options.objectIdOffset, options.nSequentialUpdates);
    this.#onFirstInput = onFirstInput;
  }

  /** Apply the framework's runtime keys of a `configure` command. */
  configure(cfg: Record<string, unknown>): void {
    const o = this.options;
    if (typeof cfg['skipInitialUpdates'] === 'number') o.skipInitialUpdates = cfg['skipInitialUpdates'];
    if (typeof cfg['objectIdOffset'] === 'number') o.objectIdOffset = cfg['objectIdOffset'];
    if (typeof cfg['nSequentialUpdates'] === 'number') o.nSequentialUpdates = cfg['nSequentialUpdates'];
    this.#missed.configure(o.objectIdOffset, o.nSequentialUpdates);
  }

  /**
   * Process one input object. Returns a promise only when the processor's process() is async,
   * so the common synchronous case costs no microtask per frame. `connection` counts the
   * input's (re)connections: a change tells that the source may have restarted. `update`: the
   * input with its marks (changed, overrun), shown to the processor as ctx.update; without it the
   * processor sees none and the output cannot carry input marks.
   */
  process(value: PVStructure, type: StructureDesc, connection?: number, update?: PVUpdate): void | Promise<void> {
    if (connection !== this.#connection) {
      if (this.#connection !== undefined && connection !== undefined) {
        // Connected again: the first updates are the current value again, not new objects.
        this.#reconnected = true;
        this.#skipped = 0;
        this.gap();
      }
      this.#connection = connection;
    }
    if (!this.#firstSeen) {
      // Like PvaPy: the output is set up with the first object, even one that is skipped.
      this.#firstSeen = true;
      this.#onFirstInput?.(value, type);
    }
    if (this.#skipped < this.options.skipInitialUpdates) {
      this.#skipped++;
      this.#nSkipped++;
      this.gap();
      return;
    }
    const raw = value[this.options.objectIdField];
    const id = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : NaN;
    const now = Date.now() / 1000;
    if (this.nProcessed === 0 && this.nErrors === 0) {
      this.#firstTime = now;
      this.#firstId = Number.isNaN(id) ? 0 : id; // inputs without ids report 0, as the status PV's uint can hold
    }
    this.#lastTime = now;
    if (!Number.isNaN(id)) {
      if (this.#missed.add(id, this.#reconnected) > 0) this.gap();
      this.#reconnected = false;
      this.#lastId = id;
    }
    this.current = update ?? null;
    this.onInput?.();
    try {
      const r = this.processor.process(value);
      if (r instanceof Promise) {
        this.#busySince = performance.now();
        this.#busyId = id;
        return r.then(
          () => {
            this.#busySince = 0;
            this.nProcessed++;
          },
          (err: unknown) => {
            this.#busySince = 0;
            this.#failed(err);
          },
        );
      }
      this.nProcessed++;
    } catch (err) {
      this.#failed(err);
    }
  }

  /** Continuity between input and output broke (an input this controller never processes, say). */
  gap(): void {
    this.onGap?.();
  }

  #failed(err: unknown, what = 'process() failed'): void {
    this.nErrors++;
    this.gap(); // what it published of this input, if anything, is unknown
    this.lastError = err instanceof Error ? err : new SluiceError('ERR_PROCESSOR', String(err)); // a thrown string, say
    // Log the first error and then every 1000th, so a broken processor does not flood the log.
    if (this.nErrors === 1 || this.nErrors % 1000 === 0) {
      (this.options.logger ?? silentLogger).error(`${what} (${this.nErrors} errors so far): ${this.lastError.message}`);
    }
  }

  /** An error of the processor's code outside process() (a promise rejection nobody handled). */
  userError(err: unknown): void {
    this.#failed(err, 'unhandled promise rejection in processor code');
  }

  /** Is an asynchronous process() still pending? (stopping then does not wait for it) */
  get busy(): boolean {
    return this.#busySince > 0;
  }

  /**
   * The watchdog's check: a message when the pending process() has run longer than the
   * processing time-out (counted as an error, once), else null.
   */
  checkTimeout(now = performance.now()): string | null {
    const limit = this.options.processingTimeoutMs ?? 0;
    if (limit <= 0 || this.#busySince === 0 || now - this.#busySince < limit) return null;
    const id = Number.isNaN(this.#busyId) ? '' : ` of object ${this.#busyId}`;
    const message = `process()${id} did not finish within the processing time-out of ${limit / 1000} s`;
    this.#busySince = 0; // reported once; the pending call is abandoned
    this.#failed(new TimeoutError(message), 'processing time-out');
    return message;
  }

  /**
   * An object received but never to be processed (left over when the host stops, or abandoned
   * with a stuck processor): its id and any gap before it count as missed.
   */
  discarded(value: PVStructure): void {
    const raw = value[this.options.objectIdField];
    const id = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : NaN;
    this.gap();
    if (Number.isNaN(id)) return;
    this.#missed.add(id);
    this.#missed.missed++;
  }

  resetStats(): void {
    this.nProcessed = 0;
    this.nErrors = 0;
    this.#nSkipped = 0;
    this.#missed.reset();
    this.#startTime = Date.now() / 1000;
    this.#firstTime = this.#lastTime = 0;
    this.#firstId = this.#lastId = 0;
    this.processor.resetStats();
  }

  /** Rates are over the receiving time (first to last processed object), as in PvaPy. */
  stats(): ProcessorStats {
    const now = Date.now() / 1000;
    const receivingTime = this.#lastTime > this.#firstTime ? this.#lastTime - this.#firstTime : 0;
    const rate = (n: number): number => (receivingTime > 0 ? n / receivingTime : 0);
    return {
      runtime: now - this.#startTime,
      startTime: this.#startTime,
      endTime: now,
      receivingTime,
      firstObjectTime: this.#firstTime,
      lastObjectTime: this.#lastTime,
      firstObjectId: this.#firstId,
      lastObjectId: this.#lastId,
      nProcessed: this.nProcessed,
      processedRate: rate(this.nProcessed),
      nErrors: this.nErrors,
      errorRate: rate(this.nErrors),
      nMissed: this.#missed.missed,
      missedRate: rate(this.#missed.missed),
      nSkipped: this.#nSkipped,
      nRuns: this.#missed.runs,
    };
  }
}
