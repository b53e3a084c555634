// The split example and its counterpart, the stitch example: frames cut into n×m tiles, tiles of
// several frames shuffled (as several producers deliver them to a collector), stitched back into
// exactly the source frames; incomplete frames are given up and counted, in bounded memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SplitProcessor } from '../../examples/split-processor.js';
import { StitchProcessor } from '../../examples/stitch-processor.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import { TypeCache } from '../../src/pvdata/type-codec.js';
import type { ScalarType, StructureDesc } from '../../src/pvdata/types.js';
import { decodeValue, encodeValue } from '../../src/pvdata/value-codec.js';
import { TYPED_ARRAY, type PVStructure, type PVTypedArray } from '../../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../../src/pvdata/wire.js';
import type { UserDataProcessor } from '../../src/processing/user-data-processor.js';
import { prng } from '../helpers/random.js';

/** Encode and decode a value with a type, as a monitor delivers it. */
function wire(type: StructureDesc, value: PVStructure): PVStructure {
  const w = new ByteWriter(true);
  encodeValue(w, type, value);
  return decodeValue(new ByteReader(Buffer.concat(w.take()), true), type, new TypeCache()) as PVStructure;
}

function collect(p: UserDataProcessor): PVStructure[] {
  const out: PVStructure[] = [];
  p.publisher = (v) => out.push(v);
  return out;
}

function source(dtype: ScalarType, id: number, nx: number, ny: number): PVStructure {
  const Ctor = TYPED_ARRAY[dtype] as unknown as new (n: number) => PVTypedArray;
  const data = new Ctor(nx * ny);
  const rng = prng(id * 7919 + nx);
  for (let i = 0; i < data.length; i++) {
    const r = Math.floor(rng() * 60000) - 30000;
    (data as unknown as (number | bigint)[])[i] =
      dtype === 'long' || dtype === 'ulong'
        ? BigInt(Math.abs(r) * 1_000_000_007)
        : dtype === 'float' || dtype === 'double'
          ? r / 7
          : dtype === 'ubyte'
            ? r & 0xff
            : dtype === 'byte'
              ? (r & 0xff) - 128
              : dtype === 'ushort'
                ? r & 0xffff
                : r;
  }
  const frame = ntndarray.build({
    data,
    dims: [nx, ny],
    uniqueId: id,
    colorMode: ColorMode.Mono,
    dataTimeStamp: { secondsPastEpoch: 1_700_000_000n + BigInt(id), nanoseconds: id * 1000, userTag: 0 },
  });
  return wire(ntndarray.type(), frame);
}

function shuffle<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Split frames into tiles as they arrive at a collector (through the wire, with the split's output type). */
function tilesOf(frames: PVStructure[], nTilesX: number, nTilesY: number): PVStructure[] {
  const split = new SplitProcessor({ nx: nTilesX, ny: nTilesY });
  const out = collect(split);
  const type = split.getOutputType();
  for (const f of frames) split.process(f);
  return out.map((tile) => wire(type, tile));
}

function assertSameFrame(actual: PVStructure, expected: PVStructure, what: string): void {
  const a = ntndarray.read(actual);
  const e = ntndarray.read(expected);
  assert.equal(a.uniqueId, e.uniqueId, what);
  assert.deepEqual(a.dims, e.dims, what);
  assert.equal(a.dtype, e.dtype, what);
  assert.equal(a.colorMode, ColorMode.Mono, what);
  assert.deepEqual(a.dataTimeStamp, e.dataTimeStamp, what);
  assert.deepEqual(a.data, e.data, what);
}

for (const [dtype, nx, ny, tx, ty] of [
  ['ubyte', 37, 23, 3, 2],
  ['ushort', 64, 20, 4, 3],
  ['float', 17, 41, 2, 5],
  ['double', 10, 3, 3, 1],
  ['int', 9, 13, 1, 4],
  ['long', 12, 7, 5, 2],
] as const) {
  test(`split ${nx}x${ny} ${dtype} into ${tx}x${ty} tiles, shuffle 5 frames' tiles, stitch: the source exactly`, () => {
    const frames = [1, 2, 3, 4, 5].map((id) => source(dtype, id, nx, ny));
    const tiles = shuffle(tilesOf(frames, tx, ty), prng(nx * ny + tx));
    assert.equal(tiles.length, 5 * tx * ty);
    assert.ok(tiles.every((tile) => tile['nTilesX'] === tx && tile['nTilesY'] === ty));
    const stitch = new StitchProcessor({ maxPendingFrames: 5 });
    const out = collect(stitch);
    for (const tile of tiles) stitch.process(tile);
    assert.equal(out.length, 5);
    const byId = new Map(out.map((o) => [o['uniqueId'] as number, wire(stitch.getOutputType(), o)]));
    for (const f of frames) assertSameFrame(byId.get(f['uniqueId'])!, f, `frame ${f['uniqueId']} (${dtype})`);
    const s = stitch.getStats();
    assert.deepEqual(
      [s['nTilesReceived'], s['nTilesProcessed'], s['nTilesDiscarded'], s['nFramesStitched'], s['nFramesMissed'], s['nFramesPending']],
      [5 * tx * ty, 5 * tx * ty, 0, 5, 0, 0],
    );
  });
}

test('a frame with a missing tile is missed once maxPendingFrames newer frames are complete; late tiles are discarded', () => {
  const frames = [1, 2, 3, 4, 5, 6, 7].map((id) => source('ubyte', id, 8, 6));
  const tiles = tilesOf(frames, 2, 2);
  const lost = tiles.findIndex((t) => t['uniqueId'] === 2 && t['tileIndexX'] === 1 && t['tileIndexY'] === 0);
  const [late] = tiles.splice(lost, 1);
  const stitch = new StitchProcessor({ maxPendingFrames: 3 });
  const out = collect(stitch);
  const missedAfter: number[] = [];
  for (const tile of tiles) {
    stitch.process(tile);
    missedAfter.push(stitch.getStats()['nFramesMissed']!);
  }
  assert.deepEqual(
    out.map((o) => o['uniqueId']),
    [1, 3, 4, 5, 6, 7],
  );
  // Frame 2 is given up when the third newer frame (5) is complete, not before.
  const frame5Done = tiles.findLastIndex((t) => t['uniqueId'] === 5);
  assert.equal(missedAfter[frame5Done - 1], 0);
  assert.equal(missedAfter[frame5Done], 1);
  stitch.process(late!);
  stitch.process(tiles[0]!); // a tile of frame 1 again
  const s = stitch.getStats();
  assert.deepEqual(
    [s['nTilesReceived'], s['nTilesProcessed'], s['nTilesDiscarded'], s['nFramesStitched'], s['nFramesMissed'], s['nFramesPending']],
    [29, 24, 5, 6, 1, 0],
    'discarded: the 3 tiles of frame 2 given up, its late tile, a repeated tile of frame 1',
  );
  for (const o of out) assertSameFrame(o, frames[(o['uniqueId'] as number) - 1]!, `frame ${o['uniqueId']}`);
});

test('bounded memory: with every frame incomplete, at most maxPendingFrames are held; stop() gives up the rest', () => {
  const frames = Array.from({ length: 40 }, (_, i) => source('ushort', i + 1, 6, 4));
  const tiles = tilesOf(frames, 3, 1).filter((t) => t['tileIndexX'] !== 2); // every frame lacks one tile
  const stitch = new StitchProcessor({ maxPendingFrames: 4 });
  const out = collect(stitch);
  let most = 0;
  for (const tile of tiles) {
    stitch.process(tile);
    most = Math.max(most, stitch.pendingFrames);
  }
  assert.equal(most, 4);
  assert.equal(out.length, 0);
  assert.equal(stitch.getStats()['nFramesMissed'], 36);
  stitch.stop();
  const s = stitch.getStats();
  assert.deepEqual([s['nFramesMissed'], s['nFramesPending'], s['nTilesDiscarded'], s['nTilesReceived']], [40, 0, 80, 80]);
  // Shrinking the cache at run time gives up the oldest frames at once.
  const again = new StitchProcessor({ maxPendingFrames: 10 });
  for (const tile of tiles.slice(0, 12)) again.process(tile);
  assert.equal(again.pendingFrames, 6);
  again.configure({ maxPendingFrames: 2 });
  assert.equal(again.pendingFrames, 2);
  assert.equal(again.getStats()['nFramesMissed'], 4);
});

test('stitch: bad tiles are errors naming the frame; the empty initial record is ignored; stats types', () => {
  const stitch = new StitchProcessor();
  collect(stitch);
  const split = new SplitProcessor({ nx: 2, ny: 1 });
  // The initial value of the split's output PV, as a monitor first delivers it.
  stitch.process(wire(split.getOutputType(), {}));
  assert.equal(stitch.getStats()['nTilesReceived'], 0);
  const plain = source('ubyte', 3, 4, 4);
  assert.throws(
    () => stitch.process(plain),
    /tile of frame 3 has no integer field 'tileIndexX': stitching needs tiles made by examples\/split-processor\.ts/,
  );
  const [t0, t1] = tilesOf([plain], 2, 1);
  assert.throws(() => stitch.process({ ...t0!, tileIndexX: 2 }), /tile \(2, 0\) of frame 3 is outside its 2x1 tiles/);
  const shifted = { ...t1!, dimension: t1!['dimension'].map((d: PVStructure, i: number) => (i === 0 ? { ...d, offset: 3 } : d)) };
  assert.throws(() => stitch.process(shifted), /2x4 pixels at \(3, 0\) do not fit in the 4x4 frame/);
  stitch.process(t0!);
  const otherType = tilesOf([source('ushort', 3, 4, 4)], 2, 1)[1]!;
  assert.throws(() => stitch.process(otherType), /does not match the frame's other tiles/);
  assert.equal(stitch.getStats()['nTilesDiscarded'], 4);
  assert.deepEqual(Object.keys(stitch.getStatsTypes()), Object.keys(stitch.getStats()));
  assert.equal(stitch.getOutputType(), ntndarray.type());
});
