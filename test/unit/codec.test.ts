// Compressed NTNDArray payloads: golden vectors made by the reference implementations (LZ4,
// bitshuffle, c-blosc; see test/fixtures/codec/golden.json), vectors built by hand from the format
// descriptions, round trips, and hostile input that must fail with ERR_CODEC, never allocate big.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { bitshuffle, bitunshuffle, bslz4Decode, bslz4Encode, defaultBlockSize } from '../../src/pvdata/nt/codec/bitshuffle.js';
import { bloscDecode, bloscEncode } from '../../src/pvdata/nt/codec/blosc.js';
import { CODECS, compress, decompress } from '../../src/pvdata/nt/codec/index.js';
import { lz4Compress, lz4DecodeBlock } from '../../src/pvdata/nt/codec/lz4.js';
import { prng as mulberry32 } from '../helpers/random.js';

interface Golden {
  vectors: { codec: string; compressor?: string; shuffle?: number; header?: boolean; input?: string; hex: string }[];
  bitshuffle_first64: string;
}
const golden = JSON.parse(readFileSync(new URL('../../../test/fixtures/codec/golden.json', import.meta.url), 'utf8')) as Golden;
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const input = Uint16Array.from({ length: 300 }, (_, i) => ((i * 37) % 1000) + 100 * Math.floor(i / 50));
const splitInput = Uint16Array.from({ length: 1024 }, (_, i) => (i * 7) % 300);

function isCodecError(e: unknown): boolean {
  return e instanceof SluiceError && e.code === 'ERR_CODEC';
}

test('golden vectors from LZ4, bitshuffle and c-blosc decode to their input', () => {
  assert.ok(golden.vectors.length >= 8);
  for (const v of golden.vectors) {
    const want = v.input === 'split' ? splitInput : input;
    const got = decompress(v.codec, hex(v.hex), 'ushort', want.byteLength);
    assert.ok(got instanceof Uint16Array, `${v.codec} gives a Uint16Array`);
    assert.deepEqual(got, want, `${v.codec} ${v.compressor ?? ''} shuffle=${v.shuffle ?? ''} header=${v.header ?? false}`);
  }
});

test('bitshuffle matches the reference library and the bit-plane definition', () => {
  const out = new Uint8Array(296 * 2);
  bitshuffle(new Uint8Array(input.buffer), 0, out, 0, 296, 2);
  assert.equal(Buffer.from(out.subarray(0, 64)).toString('hex'), golden.bitshuffle_first64);
  const rand = mulberry32(7);
  for (const size of [1, 2, 3, 4, 8]) {
    for (const n of [8, 16, 64, 136]) {
      const src = Uint8Array.from({ length: n * size }, () => Math.floor(rand() * 256));
      // the definition: bit k of byte j of element i → plane 8j+k (n/8 bytes), byte i>>3, bit i&7
      const want = new Uint8Array(n * size);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < size; j++) {
          for (let k = 0; k < 8; k++) {
            if (((src[i * size + j] as number) >> k) & 1) want[(8 * j + k) * (n / 8) + (i >> 3)]! |= 1 << (i & 7);
          }
        }
      }
      const got = new Uint8Array(n * size);
      bitshuffle(src, 0, got, 0, n, size);
      assert.deepEqual(got, want, `size ${size} n ${n}`);
      const back = new Uint8Array(n * size);
      bitunshuffle(got, 0, back, 0, n, size);
      assert.deepEqual(back, src);
    }
  }
});

test('an LZ4 block built by hand from the format decodes', () => {
  // token 0x44: 4 literals, match 4+4; offset 4; then a last sequence of 1 literal
  const block = Uint8Array.of(0x44, 0x61, 0x62, 0x63, 0x64, 0x04, 0x00, 0x10, 0x65);
  const out = new Uint8Array(13);
  assert.equal(lz4DecodeBlock(block, 0, block.length, out, 0, 13), 13);
  assert.equal(Buffer.from(out).toString(), 'abcdabcdabcde');
  // extended lengths: 15 + 3 literals, then a run of 4 + 15 + 255 + 1 bytes at offset 1
  const lits = Array.from({ length: 18 }, () => 0x78);
  const ext = Uint8Array.of(0xff, 3, ...lits, 1, 0, 255, 1, 0x10, 0x79);
  const out2 = new Uint8Array(18 + 275 + 1);
  assert.equal(lz4DecodeBlock(ext, 0, ext.length, out2, 0, out2.length), out2.length);
  assert.ok(out2.subarray(0, 293).every((b) => b === 0x78));
  assert.equal(out2[293], 0x79);
});

test('bslz4 block sizes and both framings follow bitshuffle', () => {
  assert.equal(defaultBlockSize(1), 8192);
  assert.equal(defaultBlockSize(2), 4096);
  assert.equal(defaultBlockSize(8), 1024);
  assert.equal(defaultBlockSize(128), 128);
  const data = Uint16Array.from({ length: 10_003 }, (_, i) => (i * 13) % 4000);
  const bytes = new Uint8Array(data.buffer);
  for (const header of [false, true]) {
    const enc = bslz4Encode(bytes, 2, header);
    assert.equal(
      Buffer.from(enc).readUInt32BE(0) === 0,
      header,
      'the headed form starts with the 8-byte size, the bare one with a block length',
    );
    assert.deepEqual(bslz4Decode(enc, bytes.length, 2), bytes);
  }
});

test('every codec round-trips every element type, including empty and tiny arrays', () => {
  const rand = mulberry32(11);
  const makers = {
    byte: (n: number) => Int8Array.from({ length: n }, (_, i) => (i % 50) - 25),
    ubyte: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 4)),
    short: (n: number) => Int16Array.from({ length: n }, (_, i) => (i % 700) - 350),
    ushort: (n: number) => Uint16Array.from({ length: n }, (_, i) => 1000 + ((i * 3) % 64) + Math.floor(rand() * 8)),
    int: (n: number) => Int32Array.from({ length: n }, (_, i) => i * 1000),
    uint: (n: number) => Uint32Array.from({ length: n }, () => Math.floor(rand() * 2 ** 32)),
    long: (n: number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 3n),
    ulong: (n: number) => BigUint64Array.from({ length: n }, (_, i) => BigInt(i % 9)),
    float: (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i / 10)),
    double: (n: number) => Float64Array.from({ length: n }, (_, i) => i / 3),
  } as const;
  for (const codec of CODECS) {
    for (const [dtype, make] of Object.entries(makers)) {
      for (const n of [0, 1, 7, 8, 9, 1000, 20_001]) {
        const data = make(n);
        const packed = compress(codec, data);
        const back = decompress(codec, packed, dtype as keyof typeof makers, data.byteLength);
        assert.deepEqual(back, data, `${codec} ${dtype} ${n}`);
      }
    }
  }
});

test('compression works on data that compresses (ratios) and stores what does not', () => {
  const smooth = Uint16Array.from({ length: 1 << 20 }, (_, i) => 1000 + ((i % 1024) >> 4));
  for (const codec of CODECS) assert.ok(compress(codec, smooth).length < smooth.byteLength / 4, codec);
  const rand = mulberry32(3);
  const noise = Uint8Array.from({ length: 100_000 }, () => Math.floor(rand() * 256));
  const b = bloscEncode(noise, 1);
  assert.equal(b[2]! & 0x02, 0x02, 'incompressible blosc is stored');
  assert.equal(b.length, noise.length + 16);
  assert.deepEqual(bloscDecode(b, noise.length), noise);
});

test('lying sizes are refused before any allocation', () => {
  const tiny = lz4Compress(new Uint8Array(100));
  for (const codec of CODECS) {
    assert.throws(
      () => decompress(codec, tiny, 'ubyte', 1 << 30),
      (e) => isCodecError(e) && /cannot hold|limit/.test((e as Error).message),
      codec,
    );
  }
  assert.throws(() => decompress('lz4', tiny, 'ubyte', 2 ** 31), /limit/);
  assert.throws(() => decompress('lz4', tiny, 'ushort', 101), /whole number/);
  // header sizes that disagree with the frame
  const blosc = compress('blosc', new Uint16Array(500));
  assert.throws(() => decompress('blosc', blosc, 'ushort', 998), /header says 1000 uncompressed bytes/);
  const h = compress('lz4hdf5', new Uint16Array(500));
  assert.throws(() => decompress('lz4hdf5', h, 'ushort', 998), /header says 1000/);
  assert.throws(() => decompress('lz4', compress('lz4', new Uint8Array(64)), 'ubyte', 63), /larger than the declared size/);
  assert.throws(() => decompress('lz4', compress('lz4', new Uint8Array(64)), 'ubyte', 65), /decodes to 64 bytes/);
});

test('unknown codecs are named in the error', () => {
  assert.throws(
    () => decompress('jpeg', new Uint8Array(4), 'ubyte', 4),
    (e) => isCodecError(e) && /jpeg is lossy/.test((e as Error).message),
  );
  assert.throws(
    () => decompress('snappy', new Uint8Array(4), 'ubyte', 4),
    /codec 'snappy' is not supported; supported: lz4, lz4hdf5, bslz4, blosc, zlib/,
  );
  assert.throws(() => decompress('lz4', new Uint8Array(4), 'string' as never, 4), /element type 'string'/);
  assert.throws(() => compress('jpeg', new Uint8Array(4)), isCodecError);
});

test('hand-made hostile payloads fail with ERR_CODEC', () => {
  const cases: [string, Uint8Array, number][] = [
    ['lz4', Uint8Array.of(0x04, 0x00, 0x00), 8], // match offset 0
    ['lz4', Uint8Array.of(0x14, 0x61, 0x05, 0x00, 0x10, 0x62), 10], // offset before the start
    ['lz4', Uint8Array.of(0xf0), 20], // truncated literal length
    ['lz4', Uint8Array.of(0x50, 0x61), 5], // literals past the end
    ['lz4', Uint8Array.of(0x14, 0x61, 0x01, 0x00), 6], // ends on a match
    ['bslz4', Uint8Array.of(0, 0, 0, 99, 1, 2, 3), 16], // block claims more than remains
    ['bslz4', Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 16), 16], // header, then nothing
    ['blosc', Uint8Array.of(2, 1, 0x21, 2, 16, 0, 0, 0, 16, 0, 0, 0, 200, 0, 0, 0), 16], // cbytes > length
    ['blosc', Uint8Array.of(2, 1, 0x21, 2, 16, 0, 0, 0, 16, 0, 0, 0, 20, 0, 0, 0, 99, 0, 0, 0), 16], // block start outside
    ['blosc', Uint8Array.of(3, 1, 0x21, 2, 16, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0), 16], // future format
    ['blosc', Uint8Array.of(2, 1, 0x41, 2, 16, 0, 0, 0, 16, 0, 0, 0, 24, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0), 16], // snappy
    ['zlib', Uint8Array.of(0x78, 0x9c, 1, 2, 3), 16],
    ['lz4hdf5', Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0), 16], // block size 0
  ];
  for (const [codec, payload, n] of cases) {
    assert.throws(() => decompress(codec, payload, 'ubyte', n), isCodecError, `${codec} ${Buffer.from(payload).toString('hex')}`);
  }
});

test('mutated and truncated payloads either decode or fail with ERR_CODEC', () => {
  const rand = mulberry32(99);
  const data = Uint16Array.from({ length: 3000 }, (_, i) => 200 + ((i * 5) % 97));
  const samples = [
    ...CODECS.map((c) => [c, compress(c, data), data.byteLength] as const),
    ...golden.vectors.filter((v) => !v.input).map((v) => [v.codec, hex(v.hex), input.byteLength] as const),
  ];
  let failures = 0;
  for (const [codec, good, size] of samples) {
    for (let k = 0; k < 300; k++) {
      const bad = good.slice(0, k % 3 === 0 ? Math.floor(rand() * good.length) : good.length);
      for (let m = 0; m < 1 + Math.floor(rand() * 4); m++) if (bad.length) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
      try {
        decompress(codec, bad, 'ushort', size);
      } catch (e) {
        if (!isCodecError(e)) throw new Error(`${codec}: ${String(e)}`);
        failures++;
      }
    }
  }
  assert.ok(failures > 100, `most damaged payloads fail (${failures})`);
});
