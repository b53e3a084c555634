// Which partition each value of a stream belongs to, as ktools' eve deals events to processes:
// round-robin ("dealt like cards"), contiguous blocks, or a shuffle with a fixed seed. Every
// process of a partitioned pipeline computes the same assignment on its own, so partitions are
// disjoint and together complete. Numbers are 0-based here; the CLI says P/N from 1.
import { InvalidArgumentError } from '../errors.js';

export type PartitionMode = 'round-robin' | 'block' | 'shuffle';

/**
 * A function from a value's position in the stream (0-based) to its partition (0-based).
 * `total` (the stream's value count) is needed for 'block' and 'shuffle'.
 */
export function partitioner(mode: PartitionMode, partitions: number, total = 0, seed = 0): (k: number) => number {
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new InvalidArgumentError(`partitions must be a positive integer, not ${partitions}`);
  switch (mode) {
    case 'round-robin':
      return (k) => k % partitions;
    case 'block': {
      // Sizes differ by at most one: the first (total mod N) blocks hold one more.
      const base = Math.floor(total / partitions);
      const extra = total % partitions;
      const bigEnd = extra * (base + 1);
      return (k) => (k < bigEnd ? Math.floor(k / (base + 1)) : extra + Math.floor((k - bigEnd) / Math.max(1, base)));
    }
    case 'shuffle': {
      // Fisher–Yates over the positions with mulberry32(seed); position j then goes to j mod N.
      const perm = new Uint32Array(total);
      for (let i = 0; i < total; i++) perm[i] = i;
      const rand = mulberry32(seed);
      for (let i = total - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        const t = perm[i] as number;
        perm[i] = perm[j] as number;
        perm[j] = t;
      }
      const owner = new Uint32Array(total);
      for (let j = 0; j < total; j++) owner[perm[j] as number] = j % partitions;
      return (k) => owner[k] ?? k % partitions;
    }
  }
}

/** mulberry32: a small, well-known 32-bit generator, so any language can reproduce a shuffle. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
