// Seeded randomness for tests: the same seed gives the same bytes and split points on every run,
// so a failure can be reproduced exactly (the seed is part of every assertion message).

/** mulberry32: a tiny, fast 32-bit PRNG; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi]. */
export function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function randomBytes(rng: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

/**
 * Views of `data` cut at random points. Chunk sizes mix tiny (1..16 bytes, to split headers and
 * scalars) and large (up to maxChunk) so both kinds of boundary are exercised.
 */
export function randomSplits(data: Uint8Array, rng: () => number, maxChunk = 65536): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < data.length) {
    const r = rng();
    const n = r < 0.5 ? randInt(rng, 1, 16) : r < 0.8 ? randInt(rng, 17, 1500) : randInt(rng, 1501, maxChunk);
    out.push(data.subarray(pos, Math.min(data.length, pos + n)));
    pos += n;
  }
  return out;
}

/** Every byte as its own chunk. */
export function byteChunks(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data.subarray(i, i + 1);
  return out;
}
