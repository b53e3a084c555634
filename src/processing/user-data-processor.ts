// The contract between the streaming framework and user code, after PvaPy's UserDataProcessor:
// the framework constructs the processor with a config, calls start(ctx), then process() for
// every input object, configure() on a "configure" control command, and stop() at the end.
// Output is published only through the context (ctx.publish, or PvaPy's updateOutputChannel(),
// which calls it), any number of times per input.
import type { PvaServer } from '../pva/server/server.js';
import { inferType } from '../pvdata/infer.js';
import type { ScalarType, StructureDesc } from '../pvdata/types.js';
import type { UpdateMarks } from '../pvdata/update.js';
import type { PVStructure } from '../pvdata/values.js';
import { contextOf, type ProcessorContext } from './processor-context.js';

/** Configuration given to the constructor: --processor-args plus the framework's own keys. */
export interface ProcessorConfig {
  processorId?: number;
  inputChannel?: string;
  inputMode?: string;
  outputChannel?: string;
  outputMode?: string;
  objectIdField?: string;
  objectIdOffset?: number;
  skipInitialUpdates?: number;
  nSequentialUpdates?: number;
  fieldRequest?: string;
  /** --input-args as given (JSON text), null without it: PvaPy passes it on the same way. */
  inputArgs?: string | null;
  /** --output-args as given (JSON text), null without it. */
  outputArgs?: string | null;
  [key: string]: unknown;
}

/** Where processors log; the framework prints these with the processor's id. */
export interface ProcessorLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Python logging's names, which processors ported from PvaPy call; the framework's loggers have them. */
  warning?(message: string): void;
  critical?(message: string): void;
}

/** A bounded queue of metadata updates, one per metadata channel (see --metadata-channels). */
export interface MetadataQueue {
  /** Take the oldest update, or undefined when empty. */
  shift(): PVStructure | undefined;
  /** Look at the oldest update without taking it. */
  peek(): PVStructure | undefined;
  readonly length: number;
}

/** The logger of a processor that runs under no host and was given none. */
export const silentLogger: ProcessorLogger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {}, warning() {}, critical() {} });

export class UserDataProcessor {
  config: ProcessorConfig;
  #logger: ProcessorLogger | null = null;
  #processorId = 1;
  #objectIdField = 'uniqueId';
  #inputChannel = '';
  #outputChannel = '';
  #inputType: StructureDesc | null = null;
  /**
   * A stand-in output for driving the processor by hand (tests, benchmarks): when set,
   * updateOutputChannel() calls it instead of the context's publish. The framework never sets it.
   */
  publisher: ((value: PVStructure) => void) | null = null;
  /** A stand-in for the context's openOutput(), likewise: openOutputChannel() calls it once. */
  outputFactory: ((type: StructureDesc) => ((value: PVStructure) => void) | null) | null = null;

  constructor(config: ProcessorConfig = {}) {
    this.config = config;
    // Reading these here already lets a subclass constructor use its id and channel names;
    // under the framework, the context's values win (as PvaPy assigns them after construction).
    if (typeof config.processorId === 'number') this.#processorId = config.processorId;
    if (typeof config.objectIdField === 'string' && config.objectIdField) this.#objectIdField = config.objectIdField;
    if (typeof config.inputChannel === 'string') this.#inputChannel = config.inputChannel;
    if (typeof config.outputChannel === 'string') this.#outputChannel = config.outputChannel;
  }

  // PvaPy's members, read from the context the framework runs the processor with (see
  // processor-context.ts); the setters are for code that drives a processor by hand.

  /**
   * Where to log: one set by the processor's own code, else the context's (the framework's
   * logger, printed with the processor's id), else a silent one.
   */
  get logger(): ProcessorLogger {
    return this.#logger ?? contextOf(this)?.logger ?? silentLogger;
  }
  set logger(logger: ProcessorLogger) {
    this.#logger = logger;
  }

  /** Consumer (or collector) id. */
  get processorId(): number {
    return contextOf(this)?.processorId ?? this.#processorId;
  }
  set processorId(id: number) {
    this.#processorId = id;
  }
  /** Field holding the object id (uniqueId by default). */
  get objectIdField(): string {
    return contextOf(this)?.objectIdField ?? this.#objectIdField;
  }
  set objectIdField(name: string) {
    this.#objectIdField = name;
  }
  get inputChannel(): string {
    return contextOf(this)?.inputChannel ?? this.#inputChannel;
  }
  set inputChannel(name: string) {
    this.#inputChannel = name;
  }
  get outputChannel(): string {
    return contextOf(this)?.outputChannel ?? this.#outputChannel;
  }
  set outputChannel(name: string) {
    this.#outputChannel = name;
  }
  /** Type of the input objects, known once the first one arrived. */
  get inputType(): StructureDesc | null {
    return this.#inputType ?? contextOf(this)?.inputType ?? null;
  }
  set inputType(type: StructureDesc | null) {
    this.#inputType = type;
  }
  /** Metadata queues by channel name (without pva:// or ca://). */
  get metadataQueueMap(): ReadonlyMap<string, MetadataQueue> {
    return contextOf(this)?.metadataQueues ?? NO_METADATA;
  }
  /** The process's pvAccess server (status, control and output PVs live there): add PVs if needed. */
  get server(): PvaServer | null {
    return contextOf(this)?.server ?? null;
  }

  /** Called once, before any data, with what the framework gives the processor. */
  start(_ctx?: ProcessorContext): void | Promise<void> {}

  /** Called on each "configure" control command with its (JSON-decoded) arguments. */
  configure(_config: Record<string, unknown>): void | Promise<void> {}

  /**
   * Called for every input object. The base class republishes its input unchanged (the
   * "passthrough" processor), with the input's marks when the output has the input's type, so a
   * partial update stays partial. A throw is counted as an error; processing goes on.
   */
  process(value: PVStructure): unknown {
    const ctx = contextOf(this);
    const update = ctx?.update;
    // Marks are numbered by type: only an output of the input's very type can take them.
    if (update && update.value === value && update.type === ctx.outputType) this.updateOutputChannel(value, update);
    else this.updateOutputChannel(value);
    return value;
  }

  /** Called once at shutdown. */
  stop(): void | Promise<void> {}

  resetStats(): void {}

  /** User statistics (numbers), shown in reports and, if typed in getStatsTypes(), in the status PV. */
  getStats(): Record<string, number> {
    return {};
  }

  /** pvData scalar types of the user statistics that go into the status PV's userStats (default: getStatsPvaTypes()). */
  getStatsTypes(): Record<string, ScalarType> {
    return this.getStatsPvaTypes();
  }

  /**
   * Type of the output PV, asked once with the first input object. The default is the input's
   * type (output objects look like input objects); null means no output PV. `undefined` means
   * not known yet: the framework then hosts the output PV unopened (clients can connect and wait)
   * and the processor calls openOutputChannel(type) once it knows the type.
   */
  getOutputType(firstInput: PVStructure, inputType: StructureDesc): StructureDesc | null | undefined {
    return outputTypeOf(this.getOutputPvObjectType(firstInput), firstInput, inputType);
  }

  /** Type of the input PV hosted locally in the `pvas` input mode (default: getInputPvObjectType()). */
  getInputType(): StructureDesc | null {
    return this.getInputPvObjectType();
  }

  /**
   * Open the output channel now, with `type`: for a processor whose getOutputType() returned
   * undefined because the first input did not tell the type (a decryptor learns it from the first
   * object it decrypts). False when there is no output channel, or it is open already.
   */
  openOutputChannel(type: StructureDesc): boolean {
    if (this.outputFactory) {
      if (this.publisher) return false;
      this.publisher = this.outputFactory(type);
      this.outputFactory = null;
      return this.publisher !== null;
    }
    return contextOf(this)?.openOutput(type) ?? false;
  }

  /**
   * Publish an object on the output channel (a no-op without one): PvaPy's name of ctx.publish(),
   * with its optional marks (see ProcessorContext.publish).
   */
  updateOutputChannel(value: PVStructure, marks?: UpdateMarks): void {
    if (this.publisher) this.publisher(value);
    else contextOf(this)?.publish(value, marks);
  }

  // PvaPy's names, so that a processor ported from Python keeps its method names. The framework
  // calls getStatsTypes(), getInputType() and getOutputType(), whose defaults call these: a
  // subclass may override either name.

  /** PvaPy's getStatsPvaTypes(): the types of the user statistics ('uint', 'double'...). */
  getStatsPvaTypes(): Record<string, ScalarType> {
    return {};
  }

  /** PvaPy's getInputPvObjectType(): the type of the input PV in the `pvas` input mode. */
  getInputPvObjectType(): StructureDesc | null {
    return null;
  }

  /**
   * PvaPy's getOutputPvObjectType(): the first input itself (the default) means the input's type;
   * otherwise a type, a value whose type is inferred, null (no output PV) or undefined (not yet).
   */
  getOutputPvObjectType(pvObject: PVStructure): StructureDesc | PVStructure | null | undefined {
    return pvObject;
  }

  /** PvaPy's name of `server`. */
  get pvaServer(): PvaServer | null {
    return this.server;
  }
}

const NO_METADATA: ReadonlyMap<string, MetadataQueue> = new Map();

/**
 * The output type PvaPy's getOutputPvObjectType() means: the first input itself for the input's
 * type, else a type, null (no output), undefined (not known yet) or a value to infer a type from.
 */
export function outputTypeOf(
  declared: StructureDesc | PVStructure | null | undefined,
  firstInput: PVStructure,
  inputType: StructureDesc,
): StructureDesc | null | undefined {
  if (declared === firstInput) return inputType;
  if (declared === null || declared === undefined || isStructureDesc(declared)) return declared;
  return inferType(declared) as StructureDesc; // a value given as a template, as in PvaPy
}

function isStructureDesc(v: StructureDesc | PVStructure): v is StructureDesc {
  return v['kind'] === 'structure' && Array.isArray(v['fields']) && typeof v['id'] === 'string';
}
