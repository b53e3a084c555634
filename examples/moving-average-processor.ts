// Moving average of the last `nImages` frames (PvaPy's hpcAdImageMovingAverageProcessor.py):
// each input frame is published as the mean of itself and the frames before it, as doubles.
// Frames of another size, colour layout or type restart the average.
//
//   sluice consumer --input-channel pvapy:image --output-channel 'consumer:*:output' \
//     --processor-file examples/moving-average-processor.ts --processor-args '{"nImages": 5}'
// `nImages` (default 10) can be changed at run time with the "configure" control command.
import { AdImageProcessor, type ProcessorConfig, type PVStructure, type ScalarType } from 'sluice';

export class MovingAverageProcessor extends AdImageProcessor {
  private nImages = 10;
  /** Copies of the frames in the window, oldest first, as doubles (pixels may not outlive process()). */
  private window: Float64Array[] = [];
  private sum: Float64Array | null = null;
  /** Geometry of the frames being averaged: "nx,ny,nz,colorMode". */
  private geometry = '';
  private nProcessed = 0;
  private processingTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.setWindow(config['nImages']);
  }

  override configure(config: Record<string, unknown>): void {
    this.logger.info(`configuration update: ${JSON.stringify(config)}`);
    this.setWindow(config['nImages']);
  }

  private setWindow(n: unknown): void {
    if (n === undefined) return;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      this.logger.warn(`nImages must be a positive integer, not ${JSON.stringify(n)}; keeping ${this.nImages}`);
      return;
    }
    this.nImages = n;
    this.restart('');
  }

  private restart(geometry: string): void {
    this.window = [];
    this.sum = null;
    this.geometry = geometry;
  }

  override process(value: PVStructure): PVStructure {
    const t0 = performance.now();
    const frame = this.frameOf(value);
    if (frame.nx === 0) return value;
    const geometry = `${frame.nx},${frame.ny},${frame.nz},${frame.colorMode}`;
    if (geometry !== this.geometry) this.restart(geometry);

    const pixels = Float64Array.from(frame.data as ArrayLike<number | bigint>, Number);
    const sum = (this.sum ??= new Float64Array(pixels.length));
    for (let i = 0; i < pixels.length; i++) sum[i]! += pixels[i]!;
    this.window.push(pixels);
    // Subtracting the frame that leaves keeps the cost per frame independent of nImages.
    while (this.window.length > this.nImages) {
      const old = this.window.shift()!;
      for (let i = 0; i < old.length; i++) sum[i]! -= old[i]!;
    }

    const n = this.window.length;
    const mean = new Float64Array(sum.length);
    for (let i = 0; i < sum.length; i++) mean[i] = sum[i]! / n;
    const output = this.replaceImage(value, mean, { nx: frame.nx, ny: frame.ny, nz: frame.nz, colorMode: frame.colorMode });
    this.updateOutputChannel(output);
    this.nProcessed += 1;
    this.processingTime += (performance.now() - t0) / 1000;
    return output;
  }

  override resetStats(): void {
    this.nProcessed = 0;
    this.processingTime = 0;
  }

  override getStats(): Record<string, number> {
    return {
      nProcessed: this.nProcessed,
      nImagesAveraged: this.window.length,
      processingTime: this.processingTime,
      processingRate: this.processingTime > 0 ? this.nProcessed / this.processingTime : 0,
    };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return { nProcessed: 'uint', nImagesAveraged: 'uint', processingTime: 'double', processingRate: 'double' };
  }
}

export default MovingAverageProcessor;
