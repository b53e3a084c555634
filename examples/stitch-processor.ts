// Puts frames cut by examples/split-processor.ts together again (PvaPy's
// stitchAdImageProcessorExample.py): the collector-side counterpart of the split example.
// Tiles of one frame share its uniqueId; each says where it goes (tileIndexX/tileIndexY of
// nTilesX × nTilesY, and its `dimension` offset and fullSize), so nothing needs configuring.
// Each tile is copied into its frame's image as it arrives; when the last one is in, the frame is
// published as one plain NTNDArray with the original uniqueId and dataTimeStamp.
//
//   sluice collector --input-channel 'split:*:output' --producer-id-list 1,2 \
//     --output-channel 'stitch:*:output' --processor-file examples/stitch-processor.ts
//
// At most `maxPendingFrames` incomplete frames are kept (default 8, reconfigurable). A frame is
// given up, counted in nFramesMissed with its tiles in nTilesDiscarded, once maxPendingFrames
// newer frames have been completed, or when a new frame needs its place in the full cache, or at
// stop(). Tiles that come for a frame already published or given up, and repeated tiles, are
// discarded. Mono frames only, like the split example.
import {
  AdImageProcessor,
  TYPED_ARRAY,
  ntndarray,
  type PVStructure,
  type PVTypedArray,
  type ProcessorConfig,
  type ScalarType,
  type StructureDesc,
  type ToNtNdArrayOptions,
} from 'sluice';

/** One frame being put together. */
interface PendingFrame {
  id: number;
  nTilesX: number;
  nTilesY: number;
  nx: number;
  ny: number;
  dtype: ScalarType;
  image: PVTypedArray;
  /** 1 for each tile (y * nTilesX + x) received. */
  have: Uint8Array;
  nReceived: number;
  /** Pixels covered so far: must reach nx * ny with the last tile. */
  covered: number;
  dataTimeStamp: ToNtNdArrayOptions['dataTimeStamp'];
  /** Frames with a larger id completed since this one started. */
  overtakenBy: number;
}

/** Where one tile goes, read from its extra fields and dimensions. */
interface TileGeometry {
  tx: number;
  ty: number;
  nTilesX: number;
  nTilesY: number;
  x0: number;
  y0: number;
  nx: number;
  ny: number;
}

function intField(value: PVStructure, name: string, id: number): number {
  const v = value[name];
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new Error(`tile of frame ${id} has no integer field '${name}': stitching needs tiles made by examples/split-processor.ts`);
  }
  return v;
}

export class StitchProcessor extends AdImageProcessor {
  maxPendingFrames = 8;
  readonly #pending = new Map<number, PendingFrame>();
  /** Ids of frames recently published or given up, oldest first (bounded), to recognise late tiles. */
  readonly #closed = new Set<number>();
  private nTilesReceived = 0;
  private nTilesProcessed = 0;
  private nTilesDiscarded = 0;
  private nFramesStitched = 0;
  private nFramesMissed = 0;
  private processingTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.applyConfig(config);
  }

  override configure(config: Record<string, unknown>): void {
    this.logger.info(`configuration update: ${JSON.stringify(config)}`);
    this.applyConfig(config);
  }

  private applyConfig(config: Record<string, unknown>): void {
    const n = config['maxPendingFrames'];
    if (n === undefined) return;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      this.logger.warn(`maxPendingFrames must be a positive integer, not ${JSON.stringify(n)}; keeping ${this.maxPendingFrames}`);
      return;
    }
    this.maxPendingFrames = n;
    while (this.#pending.size > n) this.giveUp(this.oldestPending());
  }

  /** Stitched frames are plain NTNDArrays (no tile fields). */
  override getOutputType(): StructureDesc {
    return ntndarray.type();
  }

  /** Incomplete frames held right now (never more than maxPendingFrames). */
  get pendingFrames(): number {
    return this.#pending.size;
  }

  override process(value: PVStructure): void {
    const t0 = performance.now();
    try {
      this.addTile(value);
    } finally {
      this.processingTime += (performance.now() - t0) / 1000;
    }
  }

  private addTile(value: PVStructure): void {
    const tile = this.frameOf(value);
    // The initial value of a split processor's output PV: no dimensions at all (not a tile).
    if (tile.data.length === 0 && ((value['dimension'] as unknown[] | undefined) ?? []).length === 0) return;
    const id = tile.id;
    if (tile.nz !== 1) throw new Error(`tile of frame ${id}: only mono tiles can be stitched (color mode ${tile.colorMode})`);
    this.nTilesReceived += 1;
    let g: TileGeometry;
    try {
      g = this.geometryOf(value, id, tile.nx, tile.ny);
    } catch (e) {
      this.nTilesDiscarded += 1;
      throw e;
    }
    if (this.#closed.has(id)) {
      this.nTilesDiscarded += 1; // its frame was published or given up already
      return;
    }
    let p = this.#pending.get(id);
    if (!p) {
      if (this.#pending.size >= this.maxPendingFrames) {
        const oldest = this.oldestPending();
        if (id < oldest.id) {
          // Older than every frame held while the cache is full: too late to wait for.
          this.nTilesDiscarded += 1;
          this.nFramesMissed += 1;
          this.close(id);
          return;
        }
        this.giveUp(oldest);
      }
      const Ctor = TYPED_ARRAY[tile.dtype] as unknown as new (n: number) => PVTypedArray;
      p = {
        id,
        nTilesX: g.nTilesX,
        nTilesY: g.nTilesY,
        nx: g.nx,
        ny: g.ny,
        dtype: tile.dtype,
        image: new Ctor(g.nx * g.ny),
        have: new Uint8Array(g.nTilesX * g.nTilesY),
        nReceived: 0,
        covered: 0,
        dataTimeStamp: value['dataTimeStamp'] as ToNtNdArrayOptions['dataTimeStamp'],
        overtakenBy: 0,
      };
      this.#pending.set(id, p);
    } else if (p.nTilesX !== g.nTilesX || p.nTilesY !== g.nTilesY || p.nx !== g.nx || p.ny !== g.ny || p.dtype !== tile.dtype) {
      this.nTilesDiscarded += 1;
      throw new Error(
        `tile (${g.tx}, ${g.ty}) of frame ${id} (${g.nTilesX}x${g.nTilesY} tiles of a ${g.nx}x${g.ny} ${tile.dtype} frame) ` +
          `does not match the frame's other tiles (${p.nTilesX}x${p.nTilesY} tiles of a ${p.nx}x${p.ny} ${p.dtype} frame)`,
      );
    }
    const index = g.ty * g.nTilesX + g.tx;
    if (p.have[index]) {
      this.nTilesDiscarded += 1; // the same tile twice
      return;
    }
    // Copy row by row into the frame: the tile's array belongs to the input object.
    const src = tile.data as Uint8Array;
    const dst = p.image as Uint8Array;
    for (let y = 0; y < tile.ny; y++) {
      dst.set(src.subarray(y * tile.nx, (y + 1) * tile.nx), (g.y0 + y) * p.nx + g.x0);
    }
    p.have[index] = 1;
    p.nReceived += 1;
    p.covered += tile.nx * tile.ny;
    if (p.nReceived === p.have.length) this.complete(p);
  }

  private geometryOf(value: PVStructure, id: number, w: number, h: number): TileGeometry {
    const tx = intField(value, 'tileIndexX', id);
    const ty = intField(value, 'tileIndexY', id);
    const nTilesX = intField(value, 'nTilesX', id);
    const nTilesY = intField(value, 'nTilesY', id);
    if (nTilesX < 1 || nTilesY < 1 || tx < 0 || ty < 0 || tx >= nTilesX || ty >= nTilesY) {
      throw new Error(`tile (${tx}, ${ty}) of frame ${id} is outside its ${nTilesX}x${nTilesY} tiles`);
    }
    const dims = value['dimension'] as { offset: number; fullSize: number }[];
    const [dx, dy] = [dims[0]!, dims[1]!];
    if (dx.offset < 0 || dy.offset < 0 || dx.offset + w > dx.fullSize || dy.offset + h > dy.fullSize) {
      throw new Error(
        `tile (${tx}, ${ty}) of frame ${id}: ${w}x${h} pixels at (${dx.offset}, ${dy.offset}) do not fit in the ${dx.fullSize}x${dy.fullSize} frame`,
      );
    }
    return { tx, ty, nTilesX, nTilesY, x0: dx.offset, y0: dy.offset, nx: dx.fullSize, ny: dy.fullSize };
  }

  private complete(p: PendingFrame): void {
    this.#pending.delete(p.id);
    this.close(p.id);
    if (p.covered !== p.nx * p.ny) {
      this.nTilesDiscarded += p.nReceived;
      this.nFramesMissed += 1;
      throw new Error(`the ${p.nReceived} tiles of frame ${p.id} cover ${p.covered} of its ${p.nx * p.ny} pixels: not published`);
    }
    const out = this.toNtNdArray(p.image, {
      nx: p.nx,
      ny: p.ny,
      uniqueId: p.id,
      ...(p.dataTimeStamp ? { dataTimeStamp: p.dataTimeStamp } : {}),
    });
    this.updateOutputChannel(out);
    this.nFramesStitched += 1;
    this.nTilesProcessed += p.nReceived;
    // Frames older than this one that are still incomplete fall behind; give up on those that
    // maxPendingFrames newer frames have overtaken.
    for (const q of [...this.#pending.values()]) {
      if (q.id < p.id && ++q.overtakenBy >= this.maxPendingFrames) this.giveUp(q);
    }
  }

  private oldestPending(): PendingFrame {
    let oldest: PendingFrame | null = null;
    for (const q of this.#pending.values()) if (!oldest || q.id < oldest.id) oldest = q;
    return oldest!;
  }

  /** An incomplete frame leaves the cache: missed, its tiles discarded. */
  private giveUp(p: PendingFrame): void {
    this.#pending.delete(p.id);
    this.close(p.id);
    this.nFramesMissed += 1;
    this.nTilesDiscarded += p.nReceived;
    this.logger.debug(`frame ${p.id} missed: ${p.nReceived} of ${p.have.length} tiles arrived`);
  }

  private close(id: number): void {
    this.#closed.add(id);
    const limit = Math.max(64, 4 * this.maxPendingFrames);
    while (this.#closed.size > limit) this.#closed.delete(this.#closed.values().next().value as number);
  }

  /** Frames still incomplete at the end are missed. */
  override stop(): void {
    for (const p of [...this.#pending.values()]) this.giveUp(p);
  }

  override resetStats(): void {
    this.nTilesReceived = this.nTilesProcessed = this.nTilesDiscarded = 0;
    this.nFramesStitched = this.nFramesMissed = 0;
    this.processingTime = 0;
  }

  override getStats(): Record<string, number> {
    const t = this.processingTime;
    return {
      nTilesReceived: this.nTilesReceived,
      nTilesProcessed: this.nTilesProcessed,
      nTilesDiscarded: this.nTilesDiscarded,
      nFramesStitched: this.nFramesStitched,
      nFramesMissed: this.nFramesMissed,
      nFramesPending: this.#pending.size,
      processingTime: t,
      tileProcessingRate: t > 0 ? this.nTilesReceived / t : 0,
      frameStitchingRate: t > 0 ? this.nFramesStitched / t : 0,
    };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return {
      nTilesReceived: 'uint',
      nTilesProcessed: 'uint',
      nTilesDiscarded: 'uint',
      nFramesStitched: 'uint',
      nFramesMissed: 'uint',
      nFramesPending: 'uint',
      processingTime: 'double',
      tileProcessingRate: 'double',
      frameStitchingRate: 'double',
    };
  }
}

export default StitchProcessor;
