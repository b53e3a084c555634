// The simulator's compressor: frames as NDPluginCodec publishes them, cached frames compressed
// once, streamed frames as they come, and every one decoding to the frame it replaces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameOf } from '../../src/processing/nd-image.js';
import { t } from '../../src/pvdata/types.js';
import type { PVTypedArray } from '../../src/pvdata/values.js';
import { CompressedFrames } from '../../src/sim/compressed-frames.js';
import { FrameCache } from '../../src/sim/frame-cache.js';

const spec = { nx: 40, ny: 30, datatype: 'int16' as const, colorMode: 0, minimum: -50, maximum: 50 };

test('cached frames are compressed once, up front, and decode to the originals', () => {
  const source = new FrameCache({ frame: spec, nFrames: 3, seed: 1 });
  const z = new CompressedFrames(source, 'blosc');
  assert.equal(z.compressedFrames, 3, 'compressed before publishing');
  for (let i = 0; i < 6; i++) {
    const v = z.frame(i);
    assert.equal(v, z.frame(i + 3), 'recycled, not recompressed');
    assert.equal(v['codec'].name, 'blosc');
    assert.deepEqual(v['codec'].parameters, { type: t.int, value: 2 }, 'pvShort');
    assert.equal(v['uncompressedSize'], 2400n);
    assert.equal(v['compressedSize'], BigInt((v['value'].value as Uint8Array).length));
    assert.deepEqual(frameOf(v).data, (source.frame(i)['value'] as { value: PVTypedArray }).value);
  }
  assert.equal(z.compressedFrames, 3);
  assert.equal(z.initial(), z.frame(0));
});

test('streamed frames are compressed as they are taken', () => {
  const z = new CompressedFrames(new FrameCache({ frame: spec, nFrames: 5, cacheSize: 2, seed: 2 }), 'bslz4');
  assert.ok(z.streaming);
  assert.equal(z.compressedFrames, 0);
  for (let i = 0; i < 5; i++) assert.equal(frameOf(z.frame(i)).data.length, 1200);
  assert.equal(z.compressedFrames, 5);
});

test('an unknown compressor is refused', () => {
  assert.throws(
    () => new CompressedFrames(new FrameCache({ frame: spec, nFrames: 1 }), 'snappy'),
    /compressor 'snappy' is not supported; use one of lz4, lz4hdf5, bslz4, blosc, zlib/,
  );
});
