// Sluice's version of PvaPy's hpcAdImageProcessorExample.py: transposes every Area Detector
// image (rows become columns) and republishes it, keeping statistics the framework shows in its
// reports and in the status PV.
//
// Run it without building it (the .ts file is transpiled when loaded):
//   sluice consumer --input-channel pvapy:image --output-channel 'consumer:*:output' \
//     --processor-file examples/rotate-processor.ts --processor-class HpcAdImageProcessor
// Reconfigure at run time through the control PV ("configure" command):
//   {"transpose": false}   republish frames unchanged;   {"transpose": true}   transpose again.
import {
  AdImageProcessor,
  ColorMode,
  type Frame,
  type ProcessorConfig,
  type PVStructure,
  type PVTypedArray,
  type ScalarType,
} from 'sluice';

/** A transposed copy of a frame in the same colour layout: pixel (x, y) moves to (y, x). */
export function transpose(frame: Frame): { data: PVTypedArray; nx: number; ny: number } {
  const { data, nx, ny, nz, colorMode, strides: s } = frame;
  // Same element type, new buffer: the input array belongs to the input object.
  const out = new (data.constructor as new (n: number) => PVTypedArray)(data.length);
  // Output strides for the swapped geometry in the same layout (see stridesOf() in nd-image.ts).
  const o =
    colorMode === ColorMode.RGB1
      ? { c: 1, x: nz, y: nz * ny }
      : colorMode === ColorMode.RGB2
        ? { x: 1, c: ny, y: ny * nz }
        : colorMode === ColorMode.RGB3
          ? { x: 1, y: ny, c: ny * nx }
          : { x: 1, y: ny, c: 0 }; // mono, Bayer
  for (let c = 0; c < nz; c++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) out[y * o.x + x * o.y + c * o.c] = data[x * s.x + y * s.y + c * s.c]!;
    }
  }
  return { data: out, nx: ny, ny: nx };
}

export class HpcAdImageProcessor extends AdImageProcessor {
  private transposeImages = true;
  private nProcessed = 0;
  private processingTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.applyConfig(config);
  }

  override start(): void {
    this.logger.info(`HpcAdImageProcessor ${this.processorId} started (transpose: ${this.transposeImages})`);
  }

  /** Keys other than `transpose` are ignored, so a shared configuration can be sent to every consumer. */
  override configure(config: Record<string, unknown>): void {
    this.logger.info(`configuration update: ${JSON.stringify(config)}`);
    this.applyConfig(config);
  }

  private applyConfig(config: Record<string, unknown>): void {
    if (typeof config['transpose'] === 'boolean') this.transposeImages = config['transpose'];
  }

  override process(value: PVStructure): PVStructure {
    const t0 = performance.now();
    const frame = this.frameOf(value);
    if (frame.nx === 0) {
      // The initial (empty) record of a simulator: nothing to rotate.
      this.logger.debug(`frame ${frame.id} has an empty image`);
      return value;
    }
    let output = value;
    if (this.transposeImages) {
      const rotated = transpose(frame);
      output = this.replaceImage(value, rotated.data, { nx: rotated.nx, ny: rotated.ny, nz: frame.nz, colorMode: frame.colorMode });
    }
    this.updateOutputChannel(output);
    this.nProcessed += 1;
    this.processingTime += (performance.now() - t0) / 1000;
    this.logger.debug(`processed frame ${frame.id} (${frame.nx}x${frame.ny})`);
    return output;
  }

  override resetStats(): void {
    this.nProcessed = 0;
    this.processingTime = 0;
  }

  override getStats(): Record<string, number> {
    const processingRate = this.processingTime > 0 ? this.nProcessed / this.processingTime : 0;
    return { nProcessed: this.nProcessed, processingTime: this.processingTime, processingRate };
  }

  /** Counters as unsigned integers, times and rates as doubles (what goes into the status PV). */
  override getStatsTypes(): Record<string, ScalarType> {
    return { nProcessed: 'uint', processingTime: 'double', processingRate: 'double' };
  }
}

export default HpcAdImageProcessor;
