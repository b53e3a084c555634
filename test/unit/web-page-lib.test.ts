// The dashboard page's pure modules (web/lib), run in Node as the browser loads them: image
// messages for every dtype and colour mode, the pixel-to-colour mapping, auto-contrast, the
// histogram, colour maps, and the PVWS update merging.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { colormap, COLORMAP_NAMES } from '../../web/lib/colormaps.js';
import { autoContrast, histogram, parseImageMessage, pixelAt, sourcePixel, toRGBA, valueRange } from '../../web/lib/image.js';
import { applyUpdate, decodeArray, field, mergeStructure, statusSeries, structureKind } from '../../web/lib/pvws.js';

type Typed =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A binary image message as the dashboard server frames it. */
function imageMessage(header: Record<string, unknown>, pixels: Typed): ArrayBuffer {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((4 + json.length) / 8) * 8;
  const buf = new ArrayBuffer(start + pixels.byteLength);
  new DataView(buf).setUint32(0, json.length, true);
  new Uint8Array(buf, 4).set(json);
  new Uint8Array(buf, start).set(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
  return buf;
}

const DTYPES: [string, (n: number) => Typed][] = [
  ['uint8', (n) => Uint8Array.from({ length: n }, (_, i) => i * 10)],
  ['int8', (n) => Int8Array.from({ length: n }, (_, i) => i * 10 - 100)],
  ['uint16', (n) => Uint16Array.from({ length: n }, (_, i) => i * 1000)],
  ['int16', (n) => Int16Array.from({ length: n }, (_, i) => i * 1000 - 5000)],
  ['uint32', (n) => Uint32Array.from({ length: n }, (_, i) => i * 100000)],
  ['int32', (n) => Int32Array.from({ length: n }, (_, i) => i * 100000 - 700000)],
  ['uint64', (n) => BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * 3n)],
  ['int64', (n) => BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 3n - 10n)],
  ['float32', (n) => Float32Array.from({ length: n }, (_, i) => i * 0.5 - 1)],
  ['float64', (n) => Float64Array.from({ length: n }, (_, i) => i * 1e-3)],
];

test('an image message of every dtype parses to its pixels; mono maps through the grey table over the range', () => {
  for (const [dtype, make] of DTYPES) {
    const pixels = make(12);
    const header = { type: 'image', pv: 'p', width: 4, height: 3, srcWidth: 8, srcHeight: 6, dtype, colorMode: 'Mono', uniqueId: 9 };
    const frame = parseImageMessage(imageMessage(header, pixels));
    assert.equal(frame.header.uniqueId, 9, dtype);
    assert.deepEqual(Array.from(frame.pixels, Number), Array.from(pixels as ArrayLike<number | bigint>, Number), dtype);
    const { min, max } = valueRange(frame.pixels);
    const rgba = toRGBA(frame, { min, max, lut: colormap('grey') });
    for (let i = 0; i < 12; i++) {
      const expect = Math.round(((Number(pixels[i]) - min) * 255) / (max - min));
      assert.deepEqual(Array.from(rgba.subarray(i * 4, i * 4 + 4)), [expect, expect, expect, 255], `${dtype} pixel ${i}`);
    }
    assert.equal(pixelAt(frame, 1, 2), Number(pixels[2 * 4 + 1]));
    assert.deepEqual(sourcePixel(frame.header, 1, 2), { x: 2, y: 4 });
  }
  // Binned by 3 with a partial last bin (1000 -> 334): bin 100 starts at source pixel 300.
  assert.deepEqual(sourcePixel({ width: 334, height: 10, srcWidth: 1000, srcHeight: 30, binning: 3 }, 100, 9), { x: 300, y: 27 });
});

test('RGB1, RGB2 and RGB3 frames give the same colours for the same picture', () => {
  const w = 3;
  const h = 2;
  // Channel c of pixel (x, y) is 40 * c + 10 * y + x.
  const v = (x: number, y: number, c: number) => 40 * c + 10 * y + x;
  const layouts: Record<string, (x: number, y: number, c: number) => number> = {
    RGB1: (x, y, c) => (y * w + x) * 3 + c,
    RGB2: (x, y, c) => (y * 3 + c) * w + x,
    RGB3: (x, y, c) => c * w * h + y * w + x,
  };
  for (const [mode, index] of Object.entries(layouts)) {
    const pixels = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) pixels[index(x, y, c)] = v(x, y, c);
    const frame = parseImageMessage(imageMessage({ pv: 'p', width: w, height: h, dtype: 'ubyte', colorMode: mode }, pixels));
    const rgba = toRGBA(frame, { min: 0, max: 255, lut: colormap('grey') });
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        assert.deepEqual(Array.from(rgba.subarray(o, o + 4)), [v(x, y, 0), v(x, y, 1), v(x, y, 2), 255], `${mode} (${x}, ${y})`);
        assert.deepEqual(pixelAt(frame, x, y), [v(x, y, 0), v(x, y, 1), v(x, y, 2)]);
      }
    }
  }
});

test('fixed ranges clamp; NaN shows as the low end; a flat frame is all low end', () => {
  const frame = parseImageMessage(
    imageMessage({ pv: 'p', width: 4, height: 1, dtype: 'float32', colorMode: 'Mono' }, Float32Array.of(-5, 60, 500, NaN)),
  );
  const rgba = toRGBA(frame, { min: 0, max: 100, lut: colormap('grey') });
  assert.deepEqual([rgba[0], rgba[4], rgba[8], rgba[12]], [0, 153, 255, 0]);
  assert.deepEqual(valueRange(frame.pixels), { min: -5, max: 500 });
  const flat = toRGBA(frame, { min: 7, max: 7, lut: colormap('grey') });
  assert.deepEqual([flat[0], flat[4], flat[8]], [0, 0, 0]);
});

test('broken image messages are refused with the cause', () => {
  assert.throws(() => parseImageMessage(new ArrayBuffer(2)), /no header length/);
  const bad = imageMessage({ pv: 'p', width: 4, height: 4, dtype: 'uint8', colorMode: 'Mono' }, new Uint8Array(3));
  assert.throws(() => parseImageMessage(bad), /do not fit/);
  assert.throws(
    () => parseImageMessage(imageMessage({ pv: 'p', width: 1, height: 1, dtype: 'cplx', colorMode: 'Mono' }, new Uint8Array(8))),
    /dtype/,
  );
  assert.throws(
    () => parseImageMessage(imageMessage({ pv: 'p', width: 1, height: 1, dtype: 'uint8', colorMode: 'YUV' }, new Uint8Array(8))),
    /colour mode/,
  );
});

test('histogram bins over the range and auto-contrast clips the tails', () => {
  const pixels = new Uint16Array(1000);
  pixels.fill(100);
  pixels[0] = 0;
  pixels[1] = 60000;
  assert.deepEqual(Array.from(histogram(pixels, 4, 0, 400)), [1, 998, 0, 1]);
  assert.deepEqual(autoContrast(pixels, 0), { min: 0, max: 60000 });
  const clipped = autoContrast(pixels, 0.005);
  assert.ok(clipped.min <= 100 && clipped.max >= 100 && clipped.max - clipped.min < 100, JSON.stringify(clipped));
});

test('colour maps have 256 entries from the low colour to the high one', () => {
  assert.ok(COLORMAP_NAMES.includes('viridis') && COLORMAP_NAMES.includes('jet') && COLORMAP_NAMES[0] === 'grey');
  for (const name of COLORMAP_NAMES) assert.equal(colormap(name).length, 768);
  const grey = colormap('grey');
  assert.deepEqual(Array.from(grey.subarray(3 * 77, 3 * 78)), [77, 77, 77]);
  assert.deepEqual(Array.from(colormap('viridis').subarray(765)), [0xfd, 0xe7, 0x25]);
  assert.throws(() => colormap('rainbow'), /unknown colour map/);
});

test('PVWS updates merge: metadata kept, base64 arrays decoded, structure leaves merged', () => {
  const b64 = Buffer.from(new Float64Array([1.5, -2]).buffer).toString('base64');
  let s = applyUpdate(undefined, { type: 'update', pv: 'a', vtype: 'VDoubleArray', units: 'mm', b64dbl: b64 });
  assert.deepEqual(Array.from(s.value), [1.5, -2]);
  s = applyUpdate(s, { type: 'update', pv: 'a', b64dbl: Buffer.from(new Float64Array([3]).buffer).toString('base64') });
  assert.equal(s.units, 'mm');
  assert.deepEqual(Array.from(s.value), [3]);
  assert.equal(s.updates, 2);
  assert.deepEqual(Array.from(decodeArray({ b64int: Buffer.from(new Int32Array([7, -7]).buffer).toString('base64') }) ?? []), [7, -7]);
  assert.deepEqual(Array.from(decodeArray({ b64byt: Buffer.from(new Int8Array([-1]).buffer).toString('base64') }) ?? []), [-1]);

  const first = { consumerId: 1, processorStats: { nProcessed: 1, processedRate: 2 }, queueStats: { nQueued: 0 } };
  let st = applyUpdate(undefined, { type: 'update', pv: 's', vtype: 'VStructure', value: first });
  st = applyUpdate(st, { type: 'update', pv: 's', value: { processorStats: { nProcessed: 5 } } });
  assert.deepEqual(st.value, { consumerId: 1, processorStats: { nProcessed: 5, processedRate: 2 }, queueStats: { nQueued: 0 } });
  assert.deepEqual(first.processorStats, { nProcessed: 1, processedRate: 2 }, 'the first value is not changed in place');
  assert.equal(field(st.value, 'processorStats.nProcessed'), 5);
  assert.equal(field(st.value, 'nothing.here'), undefined);
  assert.deepEqual(mergeStructure({ a: { b: 1 } }, { a: 2 }), { a: 2 });
});

test('structures are told apart: control, status and other values; status series found', () => {
  assert.equal(structureKind({ consumerId: 1, command: '', args: '', statusMessage: '' }), 'control');
  const status = {
    consumerId: 1,
    objectTimestamp: { secondsPastEpoch: 1, nanoseconds: 2 },
    receiverStats: { nReceived: 3, receivedRate: 1, nRejected: 0, rejectedRate: 0, nOverruns: 0 },
    queueStats: { nReceived: 3, nRejected: 0, nQueued: 2 },
    processorStats: { nProcessed: 3, processedRate: 1, nMissed: 0, missedRate: 0 },
  };
  assert.equal(structureKind(status), 'status');
  assert.equal(structureKind({ value: 1, alarm: { severity: 0 } }), 'value');
  assert.equal(structureKind(3), 'value');
  assert.deepEqual(
    statusSeries(status).map((s) => `${s.kind}:${s.key}`),
    [
      'rate:receiverStats.receivedRate',
      'missed:receiverStats.nOverruns',
      'queue:queueStats.nQueued',
      'rate:processorStats.processedRate',
      'missed:processorStats.nMissed',
      'rate:processorStats.missedRate',
    ],
  );
  // A collector's producers: groups inside groups.
  const collector = {
    collectorId: 1,
    collectorStats: { nCollected: 4, collectedRate: 2, nMissed: 0 },
    producerStats_1: { producerId: 1, channel: 'a', receiverStats: { receivedRate: 1 }, queueStats: { nQueued: 3 } },
  };
  assert.equal(structureKind(collector), 'status');
  assert.deepEqual(
    statusSeries(collector).map((s) => `${s.kind}:${s.key}`),
    [
      'rate:collectorStats.collectedRate',
      'missed:collectorStats.nMissed',
      'rate:producerStats_1.receiverStats.receivedRate',
      'queue:producerStats_1.queueStats.nQueued',
    ],
  );
  assert.equal(field(collector, 'producerStats_1.queueStats.nQueued'), 3);
});

test("the simulator's status PV (sluice sim --status-channel): its rate, losses and queue fill are plotted", () => {
  const sim = {
    channelName: 'pvapy:image',
    objectId: 3,
    objectTime: 1.5,
    objectTimestamp: { secondsPastEpoch: 1, nanoseconds: 500_000_000 },
    simStats: { nPublished: 40, publishedRate: 20, frameRate: 20, nClients: 1, nOverruns: 2, nQueued: 5, runtime: 2 },
  };
  assert.equal(structureKind(sim), 'status');
  assert.deepEqual(
    statusSeries(sim).map((s) => `${s.kind}:${s.key}`),
    ['rate:simStats.publishedRate', 'rate:simStats.frameRate', 'missed:simStats.nOverruns', 'queue:simStats.nQueued'],
  );
});
