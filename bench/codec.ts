// Micro-benchmark of the value codec on NTNDArray frames: encode (as the server does for each
// monitor update) and decode (as the client does), in one process, no sockets.
//
//   node dist/bench/codec.js [--n 200000] [--nx 128 --ny 128]
import { parseArgs } from 'node:util';
import { BitSet } from '../src/pvdata/bitset.js';
import { ntndarray } from '../src/pvdata/nt/index.js';
import { TypeCache } from '../src/pvdata/type-codec.js';
import { decodeBitSet, decodePartial, encodeBitSet, encodePartial } from '../src/pvdata/value-codec.js';
import type { PVStructure } from '../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../src/pvdata/wire.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '200000' }, nx: { type: 'string', default: '128' }, ny: { type: 'string', default: '128' } },
});
const n = Number(values.n);
const nx = Number(values.nx);
const ny = Number(values.ny);
const type = ntndarray.type();
const frame = ntndarray.build({ data: new Uint8Array(nx * ny), dims: [nx, ny], uniqueId: 1, colorMode: 0 });
const all = BitSet.of(0);

function encodeOnce(w: ByteWriter, v: PVStructure): void {
  encodeBitSet(w, all);
  encodePartial(w, type, v, all);
  encodeBitSet(w, new BitSet());
}

// encode
const w = new ByteWriter();
let t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  encodeOnce(w, { ...frame, uniqueId: i });
  w.take();
}
const encNs = Number(process.hrtime.bigint() - t0) / n;

// decode: one contiguous message, as when it arrives in one chunk
encodeOnce(w, frame);
const chunks = w.take();
const msg = Buffer.concat(chunks);
const cache = new TypeCache();
const base = ntndarray.build({ data: new Uint8Array(0), dims: [], uniqueId: 0 });
let sink = 0;
t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const r = new ByteReader(msg, true);
  const bits = decodeBitSet(r);
  const v = decodePartial(r, type, base, bits, cache);
  decodeBitSet(r);
  sink += v['uniqueId'] as number;
}
const decNs = Number(process.hrtime.bigint() - t0) / n;
console.log(
  `NTNDArray ${nx}x${ny} ubyte: encode ${(encNs / 1000).toFixed(2)} us/frame, decode ${(decNs / 1000).toFixed(2)} us/frame (${msg.length} bytes, check ${sink > 0})`,
);
