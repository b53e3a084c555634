// What the framework hands a processor: the processor's settings, where to log, the output
// channel, the server and the metadata queues. The framework passes it to start(ctx) and
// keeps it beside the processor (a WeakMap), never in it: user objects hold only what user code
// puts there, and a processor that does not extend UserDataProcessor works from ctx alone.
import type { PvaServer } from '../pva/server/server.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVUpdate, UpdateMarks } from '../pvdata/update.js';
import type { PVStructure } from '../pvdata/values.js';
import type { MetadataQueue, ProcessorConfig, ProcessorLogger } from './user-data-processor.js';

export interface ProcessorContext {
  /** Consumer (or collector) id. */
  readonly processorId: number;
  /** Field holding the object id (uniqueId by default). */
  readonly objectIdField: string;
  readonly inputChannel: string;
  /** The output channel's name; '' without one. */
  readonly outputChannel: string;
  /** The processor's config (--processor-args) with the framework's keys over it. */
  readonly config: ProcessorConfig;
  readonly logger: ProcessorLogger;
  /** The host's pvAccess server (status, control and output PVs live there): add PVs if needed. */
  readonly server: PvaServer;
  /** Metadata queues by channel name (without pva:// or ca://). */
  readonly metadataQueues: ReadonlyMap<string, MetadataQueue>;
  /** Type of the input objects, known once the first one arrived (null before). */
  readonly inputType: StructureDesc | null;
  /** Type of the output channel once it is open; null before, and without an output channel. */
  readonly outputType: StructureDesc | null;
  /**
   * The input being processed with its marks: `changed` (fields changed since the input before)
   * and `overrun` (fields squashed upstream). null before the first input, and for inputs that
   * carry no marks (a collector's, whose inputs come from several producers). Read-only.
   */
  readonly update: PVUpdate | null;
  /**
   * Publish an object on the output channel (a no-op without one, or before it is open).
   * Without `marks`, `value` merges into the output PV (the fields present are the changed ones).
   * With `marks`, `value` is complete and `marks.changed`, in the output type's numbering, says
   * what changed since the update published before; the framework sends a full update instead
   * whenever an input was not republished since (see docs/processors.md). `marks.overrun` is sent
   * too. pva and rpc output modes send whole values and ignore marks.
   */
  publish(value: PVStructure, marks?: UpdateMarks): void;
  /**
   * Open the output channel with `type`, for a processor whose getOutputType() returned
   * undefined (not known from the first input). False when there is no output channel waiting.
   */
  openOutput(type: StructureDesc): boolean;
}

const contexts = new WeakMap<object, ProcessorContext>();

/** Keep `ctx` beside `processor`, for the PvaPy-style members of UserDataProcessor. */
export function bindContext(processor: object, ctx: ProcessorContext): void {
  contexts.set(processor, ctx);
}

/** The context the framework gave `processor`, if it runs under one. */
export function contextOf(processor: object): ProcessorContext | undefined {
  return contexts.get(processor);
}
