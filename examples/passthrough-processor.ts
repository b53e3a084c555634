// The smallest useful processor, as a template to copy (PvaPy's hpcDataProcessorExample.py):
// republishes every input object unchanged and counts them. Works with any input type, not only
// images. Every method except process() is optional; they are all shown here with what the
// framework does with them.
//
//   sluice consumer --input-channel some:pv --output-channel 'consumer:*:output' \
//     --processor-file examples/passthrough-processor.ts --processor-args '{"logEvery": 100}'
import {
  UserDataProcessor,
  type ProcessorConfig,
  type ProcessorContext,
  type PVStructure,
  type ScalarType,
  type StructureDesc,
} from 'sluice';

export class PassthroughProcessor extends UserDataProcessor {
  private nProcessed = 0;
  /** Log one line every `logEvery` objects (0: never); from --processor-args or "configure". */
  private logEvery = 0;

  /** `config` is --processor-args plus the framework's keys (processorId, inputChannel, …). */
  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.configure(config);
  }

  /**
   * Once, before the first object, with the context: ids, channel names, logger, server,
   * metadata queues and publish(). The attributes used below (this.processorId...) read it too.
   */
  override start(ctx: ProcessorContext): void {
    ctx.logger.info(`processor ${ctx.processorId}: ${ctx.inputChannel} -> ${ctx.outputChannel || '(no output)'}`);
  }

  /** On every "configure" control command; unknown keys are ignored. */
  override configure(config: Record<string, unknown>): void {
    const n = config['logEvery'];
    if (typeof n === 'number' && n >= 0) this.logEvery = n;
  }

  /** Every input object. Only updateOutputChannel() publishes; the return value is not used. */
  override process(value: PVStructure): PVStructure {
    this.nProcessed += 1;
    if (this.logEvery > 0 && this.nProcessed % this.logEvery === 0) {
      this.logger.info(`${this.nProcessed} objects, last id ${String(value[this.objectIdField])}`);
    }
    this.updateOutputChannel(value);
    return value;
  }

  /** Once at shutdown, before the output channel goes away. */
  override stop(): void {
    this.logger.info(`processor ${this.processorId} stopping after ${this.nProcessed} objects`);
  }

  override resetStats(): void {
    this.nProcessed = 0;
  }

  override getStats(): Record<string, number> {
    return { nProcessed: this.nProcessed };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return { nProcessed: 'uint' };
  }

  /** The output looks like the input (the default; shown for completeness). */
  override getOutputType(_firstInput: PVStructure, inputType: StructureDesc): StructureDesc | null {
    return inputType;
  }
}

export default PassthroughProcessor;
