// Compressed NTNDArray payloads: encode and decode rates (MB/s of uncompressed pixels) and
// compression ratios of each codec on a 2 MiB uint16 frame (1024x1024), in one process, no
// sockets. Two images: a detector-like one (smooth background, a few bright spots, counting
// noise: what NDPluginCodec usually sees) and the simulator's uniform noise limited to 10 bits
// (`sluice sim -dt uint16 -mx 1023`). Medians of --runs runs of --ms milliseconds each.
//
//   node dist/bench/codec-ndarray.js [--runs 5] [--ms 500] [--codecs lz4,bslz4,blosc,lz4hdf5,zlib]
import { parseArgs } from 'node:util';
import { compress, decompress, CODECS } from '../src/pvdata/nt/codec/index.js';
import { Prng } from '../src/sim/frames.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    ms: { type: 'string', default: '500' },
    codecs: { type: 'string', default: CODECS.join(',') },
  },
});
const runs = Number(opts.runs);
const ms = Number(opts.ms);
const NX = 1024;
const NY = 1024;

function detectorLike(): Uint16Array {
  const rng = new Prng(7);
  const a = new Uint16Array(NX * NY);
  const spots = Array.from({ length: 40 }, () => [rng.u32() % NX, rng.u32() % NY, 200 + (rng.u32() % 3000)] as const);
  for (let y = 0; y < NY; y++) {
    for (let x = 0; x < NX; x++) {
      let v = 100 + 30 * Math.sin(x / 200) * Math.cos(y / 150);
      for (const [sx, sy, h] of spots) {
        const d2 = (x - sx) ** 2 + (y - sy) ** 2;
        if (d2 < 64) v += h * Math.exp(-d2 / 8);
      }
      // counting noise: about sqrt(v), from the sum of uniform draws
      const u = (rng.u32() / 2 ** 32 + rng.u32() / 2 ** 32 + rng.u32() / 2 ** 32 - 1.5) * 2;
      a[y * NX + x] = Math.max(0, Math.round(v + u * Math.sqrt(v)));
    }
  }
  return a;
}

function simNoise(): Uint16Array {
  const rng = new Prng(1);
  return Uint16Array.from({ length: NX * NY }, () => rng.u32() % 1024);
}

function rate(fn: () => void, bytes: number): number {
  fn(); // warm up
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      fn();
      n++;
      t = performance.now();
    }
    samples.push((n * bytes) / ((t - t0) / 1000) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}

// Machines here are shared and noisy: a plain copy of the frame, timed the same way, is the yardstick.
const frame = new Uint8Array(NX * NY * 2);
const copy = rate(() => void frame.slice(), frame.length);
console.log(`copy of the 2 MiB frame (Uint8Array.slice): ${copy.toFixed(0)} MB/s`);
const images = { 'detector-like': detectorLike(), 'sim noise 10-bit': simNoise() };
console.log(`| image | codec | ratio | encode MB/s | decode MB/s |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (const [label, data] of Object.entries(images)) {
  for (const codec of opts.codecs.split(',')) {
    const packed = compress(codec, data);
    const back = decompress(codec, packed, 'ushort', data.byteLength);
    if (Buffer.compare(Buffer.from(back.buffer, back.byteOffset, back.byteLength), Buffer.from(data.buffer)) !== 0)
      throw new Error(`${codec}: round trip differs`);
    const enc = rate(() => void compress(codec, data), data.byteLength);
    const dec = rate(() => void decompress(codec, packed, 'ushort', data.byteLength), data.byteLength);
    console.log(`| ${label} | ${codec} | ${(data.byteLength / packed.length).toFixed(2)} | ${enc.toFixed(0)} | ${dec.toFixed(0)} |`);
  }
}
