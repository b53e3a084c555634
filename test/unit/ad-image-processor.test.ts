// AdImageProcessor's image helpers and the image examples (rotate, split, moving average).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HpcAdImageProcessor } from '../../examples/rotate-processor.js';
import { SplitProcessor } from '../../examples/split-processor.js';
import { MovingAverageProcessor } from '../../examples/moving-average-processor.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import { AdImageProcessor } from '../../src/processing/ad-image-processor.js';
import { dimsOf } from '../../src/processing/nd-image.js';
import { t, type StructureDesc } from '../../src/pvdata/types.js';
import { decodeValue, encodeValue } from '../../src/pvdata/value-codec.js';
import type { PVStructure, PVTypedArray } from '../../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../../src/pvdata/wire.js';
import { TypeCache } from '../../src/pvdata/type-codec.js';

const helper = new AdImageProcessor();

/** A value of a pixel that tells where it is: 100·y + 10·x + c. */
const code = (x: number, y: number, c: number) => 100 * y + 10 * x + c;

/** An image in the given layout whose pixels are code(x, y, c), laid out by dimsOf()'s rules. */
function image(nx: number, ny: number, colorMode: number, nz = colorMode >= ColorMode.RGB1 ? 3 : 1): PVStructure {
  const data = new Uint16Array(nx * ny * nz);
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      for (let c = 0; c < nz; c++) {
        const i =
          colorMode === ColorMode.RGB1
            ? (y * nx + x) * nz + c
            : colorMode === ColorMode.RGB2
              ? (y * nz + c) * nx + x
              : colorMode === ColorMode.RGB3
                ? (c * ny + y) * nx + x
                : y * nx + x;
        data[i] = code(x, y, c);
      }
    }
  }
  return ntndarray.build({ data, dims: dimsOf({ nx, ny, nz, colorMode }), uniqueId: 9, colorMode });
}

/** Encode and decode a value with a type, as a client would receive it. */
function wire(type: StructureDesc, value: PVStructure): PVStructure {
  const w = new ByteWriter(true);
  encodeValue(w, type, value);
  return decodeValue(new ByteReader(Buffer.concat(w.take()), true), type, new TypeCache()) as PVStructure;
}

test('frameOf: mono shape, geometry, and no copy of the pixels', () => {
  const v = image(4, 3, ColorMode.Mono);
  const f = helper.frameOf(v);
  assert.deepEqual([f.id, f.nx, f.ny, f.nz, f.colorMode, f.dtype], [9, 4, 3, 1, ColorMode.Mono, 'ushort']);
  assert.deepEqual(f.shape, [3, 4]);
  assert.equal(f.data, v['value'].value);
  assert.equal(f.data[2 * f.strides.x + 1 * f.strides.y], code(2, 1, 0));
});

for (const [name, mode, shape] of [
  ['RGB1', ColorMode.RGB1, [5, 4, 3]],
  ['RGB2', ColorMode.RGB2, [5, 3, 4]],
  ['RGB3', ColorMode.RGB3, [3, 5, 4]],
] as const) {
  test(`frameOf: ${name} layout, shape and strides`, () => {
    const f = helper.frameOf(image(4, 5, mode));
    assert.deepEqual([f.nx, f.ny, f.nz, f.colorMode], [4, 5, 3, mode]);
    assert.deepEqual(f.shape, shape);
    for (let y = 0; y < 5; y++)
      for (let x = 0; x < 4; x++)
        for (let c = 0; c < 3; c++) assert.equal(f.data[x * f.strides.x + y * f.strides.y + c * f.strides.c], code(x, y, c));
    // Without a ColorMode attribute the layout is inferred from which dimension has size 3
    // (ambiguous when nx or ny is 3 too: then the first match, RGB1, RGB2, RGB3, wins).
    const bare = { ...image(4, 5, mode), attribute: [] };
    assert.equal(helper.frameOf(bare).colorMode, mode);
  });
}

test('frameOf: empty frames, compressed frames and inconsistent dimensions', () => {
  const empty = helper.frameOf(ntndarray.build({ data: new Uint8Array(0), dims: [], uniqueId: 0 }));
  assert.deepEqual([empty.nx, empty.ny, empty.data.length], [0, 0, 0]);
  const lz4 = ntndarray.build({ data: new Uint8Array(10), dims: [4, 4], uniqueId: 5, codec: { name: 'lz4', uncompressedType: 'ubyte' } });
  assert.throws(() => helper.frameOf(lz4), { code: 'ERR_CODEC', message: /^frame 5: lz4: / });
  const wrong = ntndarray.build({ data: new Uint8Array(10), dims: [4, 4], uniqueId: 6 });
  assert.throws(() => helper.frameOf(wrong), { code: 'ERR_PROCESSOR', message: /need 16 elements, data has 10/ });
  const yuv = ntndarray.build({ data: new Uint8Array(16), dims: [4, 4], uniqueId: 7, colorMode: ColorMode.YUV422 });
  assert.throws(() => helper.frameOf(yuv), /color mode 6 is not supported/);
});

test('toNtNdArray round trip through ntndarray.read, with extra fields in the output type', () => {
  const data = new Float32Array([1, 2, 3, 4, 5, 6]);
  const v = helper.toNtNdArray(data, { nx: 3, ny: 2, uniqueId: 12, extra: { tileIndexX: 1, tileIndexY: 0 } });
  const back = ntndarray.read(v);
  assert.deepEqual([back.dtype, back.dims, back.uniqueId, back.colorMode, back.codec], ['float', [3, 2], 12, ColorMode.Mono, '']);
  assert.equal(back.data, data);
  assert.equal(back.uncompressedSize, 24);
  const type = helper.outputTypeWith({ tileIndexX: t.int, tileIndexY: t.int });
  assert.equal(type, helper.outputTypeWith({ tileIndexX: t.int, tileIndexY: t.int }), 'cached');
  assert.equal(type.id, ntndarray.id);
  const received = wire(type, v);
  assert.deepEqual([received['tileIndexX'], received['tileIndexY']], [1, 0]);
  assert.deepEqual(helper.frameOf(received).shape, [2, 3]);
  assert.throws(() => helper.toNtNdArray(data, { nx: 4, ny: 2, uniqueId: 1 }), /need 8 elements/);
  assert.throws(() => helper.outputTypeWith({ uniqueId: t.int }), /would replace an NTNDArray field/);
  const rgb = helper.toNtNdArray(new Uint8Array(24), { nx: 4, ny: 2, colorMode: ColorMode.RGB1, uniqueId: 1 });
  assert.deepEqual(ntndarray.read(rgb).dims, [3, 4, 2]);
});

test('replaceImage keeps the other fields and leaves the input alone; input type is NTNDArray', () => {
  const v = image(4, 3, ColorMode.Mono);
  const out = helper.replaceImage(v, new Float64Array(12), [3, 4]);
  assert.equal(out['dataTimeStamp'], v['dataTimeStamp']);
  assert.equal(out['attribute'], v['attribute']);
  assert.deepEqual(ntndarray.read(out).dims, [3, 4]);
  assert.equal(ntndarray.read(out).dtype, 'double');
  assert.deepEqual(ntndarray.read(v).dims, [4, 3]);
  assert.ok(wire(ntndarray.type(), out));
  assert.equal(helper.getInputType(), ntndarray.type());
});

function collect(p: AdImageProcessor): PVStructure[] {
  const out: PVStructure[] = [];
  p.publisher = (v) => out.push(v);
  return out;
}

test('rotate example: output is the transposed image, in mono and RGB1; stats and configure', () => {
  const p = new HpcAdImageProcessor({ processorId: 1 });
  const out = collect(p);
  for (const mode of [ColorMode.Mono, ColorMode.RGB1, ColorMode.RGB3]) {
    p.process(image(4, 3, mode));
    const f = p.frameOf(out.at(-1)!);
    assert.deepEqual([f.nx, f.ny, f.colorMode], [3, 4, mode]);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 3; x++)
        for (let c = 0; c < f.nz; c++) assert.equal(f.data[x * f.strides.x + y * f.strides.y + c * f.strides.c], code(y, x, c));
  }
  const stats = p.getStats();
  assert.equal(stats['nProcessed'], 3);
  assert.ok(stats['processingTime']! > 0 && stats['processingRate']! > 0);
  assert.deepEqual(Object.keys(p.getStatsTypes()).sort(), Object.keys(stats).sort());
  p.configure({ transpose: false, somethingElse: 1 });
  const v = image(4, 3, ColorMode.Mono);
  p.process(v);
  assert.equal(out.at(-1), v);
  p.resetStats();
  assert.equal(p.getStats()['nProcessed'], 0);
});

test('split example: nx × ny tiles with the frame id and tile indices, fitting the declared type', () => {
  const p = new SplitProcessor({ nx: 2, ny: 2 });
  const out = collect(p);
  const v = image(5, 4, ColorMode.Mono);
  const type = p.getOutputType();
  p.process(v);
  assert.equal(out.length, 4);
  const widths = [2, 3];
  for (const tile of out) {
    const received = wire(type, tile);
    const [tx, ty] = [received['tileIndexX'] as number, received['tileIndexY'] as number];
    const f = p.frameOf(received);
    assert.equal(f.id, 9);
    assert.deepEqual([f.nx, f.ny], [widths[tx], 2]);
    const x0 = tx === 0 ? 0 : 2;
    for (let y = 0; y < f.ny; y++) for (let x = 0; x < f.nx; x++) assert.equal(f.data[y * f.nx + x], code(x0 + x, ty * 2 + y, 0));
  }
  assert.deepEqual(p.getStats(), { nFramesSplit: 1, nTilesPublished: 4 });
  assert.throws(() => p.process(image(4, 3, ColorMode.RGB1)), /only mono frames/);
});

test('moving average example: mean of the last nImages frames, reconfigurable', () => {
  const p = new MovingAverageProcessor({ nImages: 2 });
  const out = collect(p);
  const frame = (fill: number): PVStructure =>
    ntndarray.build({ data: new Uint8Array(6).fill(fill), dims: [3, 2], uniqueId: fill, colorMode: ColorMode.Mono });
  const last = () => [...(p.frameOf(out.at(-1)!).data as PVTypedArray as Float64Array)];
  p.process(frame(2));
  assert.deepEqual(last(), [2, 2, 2, 2, 2, 2]);
  p.process(frame(4));
  assert.deepEqual(last(), [3, 3, 3, 3, 3, 3]);
  p.process(frame(10));
  assert.deepEqual(last(), [7, 7, 7, 7, 7, 7]);
  p.configure({ nImages: 3 });
  p.process(frame(1));
  assert.deepEqual(last(), [1, 1, 1, 1, 1, 1]);
  assert.equal(p.getStats()['nImagesAveraged'], 1);
});
