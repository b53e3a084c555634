// Frames for the file-writer tests: an image given pixel-interleaved ([ny, nx, nz], what files
// and HDF5 datasets hold) laid out in any areaDetector colour mode, and temporary directories.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ColorMode } from '../../src/pvdata/nt/ntndarray.js';
import { toNtNdArray } from '../../src/processing/nd-image.js';
import type { PVStructure, PVTypedArray } from '../../src/pvdata/values.js';

type NumberArray = Exclude<PVTypedArray, BigInt64Array | BigUint64Array>;

/** `pixels` ([ny, nx, nz], colour fastest) rearranged into `colorMode`'s layout, as an NTNDArray. */
export function frameFrom(pixels: NumberArray, nx: number, ny: number, nz: number, colorMode: number, uniqueId: number): PVStructure {
  const data = new (pixels.constructor as new (n: number) => NumberArray)(pixels.length);
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
        data[i] = pixels[(y * nx + x) * nz + c] as number;
      }
    }
  }
  return toNtNdArray(data, { nx, ny, nz, colorMode, uniqueId });
}

/** Pixels that differ everywhere and fill the type's range: a wrong order, byte order or depth shows. */
export function pattern<T extends NumberArray>(ctor: new (n: number) => T, n: number, seed = 1): T {
  const out = new ctor(n);
  const big = out.BYTES_PER_ELEMENT >= 2 ? 65_521 : 251;
  for (let i = 0; i < n; i++)
    out[i] = ((i * 7919 + seed * 104_729) % big) - (out instanceof Int8Array || out instanceof Int16Array ? big >> 1 : 0);
  if (out instanceof Float32Array || out instanceof Float64Array) for (let i = 0; i < n; i++) out[i] = (out[i] as number) / 7 - 1234.5;
  return out;
}

/** A new empty directory under the system's temporary one, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'sluice-files-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
