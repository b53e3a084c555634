// Compressed NTNDArrays reach processors decoded: frameOf() decompresses NDPluginCodec payloads
// (element type from codec.parameters, size from the dimensions) and checks uncompressedSize.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compress, CODECS } from '../../src/pvdata/nt/codec/index.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import { t } from '../../src/pvdata/types.js';
import { frameOf } from '../../src/processing/nd-image.js';

const nx = 64;
const ny = 48;
const pixels = Uint16Array.from({ length: nx * ny }, (_, i) => (i * 31) % 4096);

function compressedFrame(codec: string, id = 1) {
  return ntndarray.build({
    data: compress(codec, pixels),
    dims: [nx, ny],
    uniqueId: id,
    colorMode: ColorMode.Mono,
    codec: { name: codec, uncompressedType: 'ushort' },
  });
}

test('frameOf decodes every codec to the uncompressed pixels', () => {
  for (const codec of CODECS) {
    const v = compressedFrame(codec);
    assert.equal(v['codec'].name, codec);
    assert.deepEqual(v['codec'].parameters, { type: t.int, value: 6 }, 'pvUShort, as NDPluginCodec sets it');
    assert.equal(v['uncompressedSize'], BigInt(pixels.byteLength));
    assert.equal(v['value'].field, 'ubyteValue');
    const f = frameOf(v);
    assert.equal(f.dtype, 'ushort');
    assert.deepEqual([f.nx, f.ny, f.nz], [nx, ny, 1]);
    assert.deepEqual(f.data, pixels, codec);
    assert.equal(frameOf(v).data, f.data, 'decoded once per frame');
  }
});

test('RGB frames decode with their layout', () => {
  const rgb = Uint8Array.from({ length: 3 * 8 * 4 }, (_, i) => i);
  const v = ntndarray.build({
    data: compress('bslz4', rgb),
    dims: [3, 8, 4],
    uniqueId: 2,
    colorMode: ColorMode.RGB1,
    codec: { name: 'bslz4', uncompressedType: 'ubyte' },
  });
  const f = frameOf(v);
  assert.deepEqual([f.nx, f.ny, f.nz, f.shape], [8, 4, 3, [4, 8, 3]]);
  assert.deepEqual(f.data, rgb);
});

test('compressed frames that lie are refused with ERR_CODEC naming the frame', () => {
  const v = compressedFrame('lz4', 9);
  assert.throws(() => frameOf({ ...v, uncompressedSize: 100n }), {
    code: 'ERR_CODEC',
    message: /^frame 9: uncompressedSize 100 disagrees with dimensions \[64, 48\] of ushort \(6144 bytes\)/,
  });
  const huge = {
    ...v,
    value: { ...v['value'] },
    dimension: [
      { size: 100000, offset: 0, fullSize: 100000, binning: 1, reverse: false },
      { size: 100000, offset: 0, fullSize: 100000, binning: 1, reverse: false },
    ],
    uncompressedSize: 0n,
  };
  assert.throws(() => frameOf(huge), { code: 'ERR_CODEC', message: /^frame 9: lz4: .*limit/ });
  const small = {
    ...v,
    value: { ...v['value'] },
    dimension: [
      { size: 640, offset: 0, fullSize: 640, binning: 1, reverse: false },
      { size: 480, offset: 0, fullSize: 480, binning: 1, reverse: false },
    ],
    uncompressedSize: 0n,
  };
  assert.throws(() => frameOf(small), { code: 'ERR_CODEC', message: /cannot hold|declared size|decodes/ });
  const unknown = { ...v, value: { ...v['value'] }, codec: { name: 'jpeg', parameters: { type: t.int, value: 6 } } };
  assert.throws(() => frameOf(unknown), { code: 'ERR_CODEC', message: /frame 9: codec 'jpeg' is not supported \(jpeg is lossy/ });
  const truncated = { ...v, value: { field: 'ubyteValue', value: (v['value'].value as Uint8Array).subarray(0, 100) } };
  assert.throws(() => frameOf(truncated), { code: 'ERR_CODEC' });
});
