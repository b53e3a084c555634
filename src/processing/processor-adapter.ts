// What the framework calls on a processor, whatever the user's class is. A UserDataProcessor
// (ours, or a subclass) has every method already. Any other object with a process() method is
// wrapped in a ProcessorAdapter: the adapter owns the defaults and calls the user's methods with
// the user's object as `this`, so the framework writes nothing into user objects (pino's rule).
import type { ScalarType, StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import type { ProcessorContext } from './processor-context.js';
import { outputTypeOf, UserDataProcessor } from './user-data-processor.js';

/** The methods the framework calls (UserDataProcessor's contract); the host holds one of these. */
export interface Processor {
  start(ctx: ProcessorContext): void | Promise<void>;
  process(value: PVStructure): unknown;
  configure(config: Record<string, unknown>): void | Promise<void>;
  stop(): void | Promise<void>;
  resetStats(): void;
  getStats(): Record<string, number>;
  getStatsTypes(): Record<string, ScalarType>;
  getOutputType(firstInput: PVStructure, inputType: StructureDesc): StructureDesc | null | undefined;
  getInputType(): StructureDesc | null;
}

/**
 * A user processor: an object with process(); the other methods of UserDataProcessor, PvaPy's
 * names among them, are optional and called when present.
 */
export interface UserProcessor {
  process(value: PVStructure): unknown;
  start?(ctx: ProcessorContext): void | Promise<void>;
  configure?(config: Record<string, unknown>): void | Promise<void>;
  stop?(): void | Promise<void>;
  resetStats?(): void;
  getStats?(): Record<string, number>;
  getStatsTypes?(): Record<string, ScalarType>;
  getStatsPvaTypes?(): Record<string, ScalarType>;
  getOutputType?(firstInput: PVStructure, inputType: StructureDesc): StructureDesc | null | undefined;
  getOutputPvObjectType?(pvObject: PVStructure): StructureDesc | PVStructure | null | undefined;
  getInputType?(): StructureDesc | null;
  getInputPvObjectType?(): StructureDesc | null;
}

/** The framework's view of `user`: a UserDataProcessor as it is, any other processor wrapped. */
export function adaptProcessor(user: UserProcessor): Processor {
  return user instanceof UserDataProcessor ? user : new ProcessorAdapter(user);
}

/** Calls a processor that does not extend UserDataProcessor, with UserDataProcessor's defaults. */
export class ProcessorAdapter implements Processor {
  constructor(readonly user: UserProcessor) {}

  start(ctx: ProcessorContext): void | Promise<void> {
    return this.user.start?.(ctx);
  }
  process(value: PVStructure): unknown {
    return this.user.process(value);
  }
  configure(config: Record<string, unknown>): void | Promise<void> {
    return this.user.configure?.(config);
  }
  stop(): void | Promise<void> {
    return this.user.stop?.();
  }
  resetStats(): void {
    this.user.resetStats?.();
  }
  getStats(): Record<string, number> {
    return this.user.getStats?.() ?? {};
  }
  getStatsTypes(): Record<string, ScalarType> {
    const u = this.user;
    return (u.getStatsTypes ? u.getStatsTypes() : u.getStatsPvaTypes?.()) ?? {};
  }
  getOutputType(firstInput: PVStructure, inputType: StructureDesc): StructureDesc | null | undefined {
    const u = this.user;
    if (u.getOutputType) return u.getOutputType(firstInput, inputType);
    return u.getOutputPvObjectType ? outputTypeOf(u.getOutputPvObjectType(firstInput), firstInput, inputType) : inputType;
  }
  getInputType(): StructureDesc | null {
    const u = this.user;
    return (u.getInputType ? u.getInputType() : u.getInputPvObjectType?.()) ?? null;
  }
}
