// Splits every mono frame into nx × ny tiles and publishes each tile as its own NTNDArray
// (PvaPy's splitAdImageProcessorExample.py). Tiles keep the frame's uniqueId and carry extra
// top-level fields: tileIndexX and tileIndexY (column and row of the tile), and
// nTilesX and nTilesY (how many tiles the frame was cut into); the output type declares them
// (getOutputType), otherwise they would not be published. Each tile's `dimension` entries say
// where it lies in the frame, as areaDetector describes a region: `offset` is the tile's first
// column (x) or row (y), `fullSize` the frame's width or height. With these, a collector running
// examples/stitch-processor.ts puts the frames together again without being told their size.
//
//   sluice consumer --input-channel pvapy:image --output-channel 'split:*:output' \
//     --processor-file examples/split-processor.ts --processor-args '{"nx": 2, "ny": 2}'
// Tile boundaries are at floor(i * size / n), so tiles cover the image exactly and differ in size
// by at most one pixel when the size is not a multiple of n.
import {
  AdImageProcessor,
  TYPED_ARRAY,
  t,
  type ProcessorConfig,
  type PVStructure,
  type PVTypedArray,
  type ScalarType,
  type StructureDesc,
} from 'sluice';

const TILE_FIELDS = { tileIndexX: t.int, tileIndexY: t.int, nTilesX: t.int, nTilesY: t.int };

export class SplitProcessor extends AdImageProcessor {
  /** Number of tiles across (x) and down (y). */
  private nx = 2;
  private ny = 2;
  private nFrames = 0;
  private nTiles = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.applyConfig(config);
  }

  override configure(config: Record<string, unknown>): void {
    this.logger.info(`configuration update: ${JSON.stringify(config)}`);
    this.applyConfig(config);
  }

  private applyConfig(config: Record<string, unknown>): void {
    for (const key of ['nx', 'ny'] as const) {
      const v = config[key];
      if (v === undefined) continue;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1) this[key] = v;
      else this.logger.warn(`${key} must be a positive integer, not ${JSON.stringify(v)}`);
    }
  }

  /** Every published object is a tile: NTNDArray plus the tile indices. */
  override getOutputType(): StructureDesc {
    return this.outputTypeWith(TILE_FIELDS);
  }

  override process(value: PVStructure): void {
    const frame = this.frameOf(value);
    if (frame.nx === 0) return;
    if (frame.nz !== 1) throw new Error(`frame ${frame.id}: only mono frames can be split (color mode ${frame.colorMode})`);
    const { data, nx, ny } = frame;
    const Ctor = TYPED_ARRAY[frame.dtype] as unknown as new (n: number) => PVTypedArray;
    for (let ty = 0; ty < this.ny; ty++) {
      const y0 = Math.floor((ty * ny) / this.ny);
      const y1 = Math.floor(((ty + 1) * ny) / this.ny);
      for (let tx = 0; tx < this.nx; tx++) {
        const x0 = Math.floor((tx * nx) / this.nx);
        const x1 = Math.floor(((tx + 1) * nx) / this.nx);
        const w = x1 - x0;
        const tile = new Ctor(w * (y1 - y0));
        // Rows are contiguous in a mono frame: copy them whole.
        for (let y = y0; y < y1; y++) {
          (tile as Uint8Array).set((data as Uint8Array).subarray(y * nx + x0, y * nx + x1), (y - y0) * w);
        }
        const out = this.toNtNdArray(tile, {
          nx: w,
          ny: y1 - y0,
          uniqueId: frame.id,
          // The frame's own time, so that tiles of one frame stay recognisably together.
          dataTimeStamp: value['dataTimeStamp'],
          extra: { tileIndexX: tx, tileIndexY: ty, nTilesX: this.nx, nTilesY: this.ny },
        });
        out['dimension'] = [
          { size: w, offset: x0, fullSize: nx, binning: 1, reverse: false },
          { size: y1 - y0, offset: y0, fullSize: ny, binning: 1, reverse: false },
        ];
        this.updateOutputChannel(out);
        this.nTiles += 1;
      }
    }
    this.nFrames += 1;
  }

  override resetStats(): void {
    this.nFrames = 0;
    this.nTiles = 0;
  }

  override getStats(): Record<string, number> {
    return { nFramesSplit: this.nFrames, nTilesPublished: this.nTiles };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return { nFramesSplit: 'uint', nTilesPublished: 'uint' };
  }
}

export default SplitProcessor;
