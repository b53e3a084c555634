// A user processor (the same classes the consumer runs) as a pipeline stage: values of the
// input stream go to process() one at a time, in order, and what the processor publishes goes to
// the output stream. The processor gets a context as under the consumer (config, logger, the
// input's marks, publish and openOutput); there is no control or status PV, and its server is
// one that never listens (a processor may add PVs to it; nobody reaches them).
import type { StructureDesc } from '../pvdata/types.js';
import { BitSet } from '../pvdata/bitset.js';
import { mergeMarked } from '../pvdata/merge.js';
import type { PVUpdate, UpdateMarks } from '../pvdata/update.js';
import { completeStructure, type PVStructure } from '../pvdata/values.js';
import type { PvaServer } from '../pva/server/server.js';
import { adaptProcessor, type Processor, type UserProcessor } from '../processing/processor-adapter.js';
import { bindContext, type ProcessorContext } from '../processing/processor-context.js';
import type { ProcessorConfig, ProcessorLogger } from '../processing/user-data-processor.js';

export interface ProcessStageOptions {
  processor: UserProcessor;
  logger: ProcessorLogger;
  server: PvaServer;
  objectIdField: string;
  /** Where published values go (a StreamOutput's write, in a stage). */
  write: (type: StructureDesc, value: PVStructure, marks: { changed: BitSet; overrun?: BitSet }) => void;
}

export interface ProcessStageStats {
  nProcessed: number;
  nErrors: number;
  nPublished: number;
  lastError: string;
}

export class ProcessStage {
  readonly stats: ProcessStageStats = { nProcessed: 0, nErrors: 0, nPublished: 0, lastError: '' };
  readonly #processor: Processor;
  readonly #opts: ProcessStageOptions;
  readonly #ctx: ProcessorContext;
  #inputType: StructureDesc | null = null;
  /** undefined: not set up yet (no input); null: no output. */
  #outputType: StructureDesc | null | undefined = undefined;
  #waitingForType = false;
  #output: PVStructure | null = null;
  #update: PVUpdate | null = null;

  constructor(opts: ProcessStageOptions) {
    this.#opts = opts;
    this.#processor = adaptProcessor(opts.processor);
    const own = (opts.processor as { config?: ProcessorConfig }).config ?? {};
    const system = { processorId: 1, objectIdField: opts.objectIdField, inputChannel: 'stdin', outputChannel: 'stdout' };
    // Read when asked (they change as inputs come); closures, since the context is a plain object.
    const inputType = (): StructureDesc | null => this.#inputType;
    const outputType = (): StructureDesc | null => this.#outputType ?? null;
    const current = (): PVUpdate | null => this.#update;
    this.#ctx = {
      ...system,
      config: { ...own, ...system },
      logger: opts.logger,
      server: opts.server,
      metadataQueues: new Map(),
      get inputType() {
        return inputType();
      },
      get outputType() {
        return outputType();
      },
      get update() {
        return current();
      },
      publish: (value, marks) => this.#publish(value, marks),
      openOutput: (type) => this.#open(type),
    };
    bindContext(this.#processor, this.#ctx);
    if (this.#processor !== opts.processor) bindContext(opts.processor, this.#ctx);
  }

  async start(): Promise<void> {
    await this.#processor.start(this.#ctx);
  }

  /** Process one input value; a processor's error is counted and logged, and the stage goes on. */
  async process(update: PVUpdate): Promise<void> {
    if (this.#outputType === undefined && !this.#waitingForType) {
      this.#inputType = update.type;
      const t = this.#processor.getOutputType(update.value, update.type);
      if (t === undefined) this.#waitingForType = true;
      else this.#outputType = t;
    }
    this.#update = update;
    try {
      await this.#processor.process(update.value);
      this.stats.nProcessed++;
    } catch (err) {
      this.stats.nErrors++;
      this.stats.lastError = (err as Error).message ?? String(err);
      if (this.stats.nErrors === 1 || this.stats.nErrors % 1000 === 0) {
        this.#opts.logger.error(
          `processing object ${String(update.value[this.#opts.objectIdField])} failed: ${this.stats.lastError} (${this.stats.nErrors} errors)`,
        );
      }
    }
  }

  async stop(): Promise<void> {
    await this.#processor.stop();
  }

  #open(type: StructureDesc): boolean {
    if (!this.#waitingForType) return false;
    this.#waitingForType = false;
    this.#outputType = type;
    return true;
  }

  #publish(value: PVStructure, marks?: UpdateMarks): void {
    const type = this.#outputType;
    if (!type) return; // no output, or not open yet: as under the consumer
    if (marks) {
      this.#output = value;
      this.#opts.write(type, value, marks.overrun ? { changed: marks.changed, overrun: marks.overrun } : { changed: marks.changed });
    } else {
      // A partial value merges into the output's value, as into an output PV.
      const changed = new BitSet();
      this.#output = mergeMarked(type, this.#output ?? completeStructure(type, {}), value, changed);
      this.#opts.write(type, this.#output, { changed });
    }
    this.stats.nPublished++;
  }
}
