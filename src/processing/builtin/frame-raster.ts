// A frame's pixels as a row-major, pixel-interleaved raster ([ny, nx] or [ny, nx, nz], x then
// colour fastest), the layout image files and HDF5 datasets of images use. Mono, Bayer and RGB1
// frames are already laid out so and are returned without a copy; RGB2 (row-interleaved) and
// RGB3 (planar) frames are reordered into a new array.
import type { PVTypedArray } from '../../pvdata/values.js';
import type { Frame } from '../nd-image.js';

export interface InterleavedFrame {
  data: PVTypedArray;
  nx: number;
  ny: number;
  /** 1 for mono and Bayer, the colour components otherwise. */
  nz: number;
}

export function interleaved(frame: Frame): InterleavedFrame {
  const { nx, ny, nz, strides } = frame;
  if (nz === 1 || (strides.c === 1 && strides.x === nz && strides.y === nz * nx)) return { data: frame.data, nx, ny, nz };
  const src = frame.data;
  const out = new (src.constructor as new (n: number) => PVTypedArray)(src.length);
  // Written as plain index loops over the one array type at hand: bigint and number arrays alike.
  const from = src as unknown as ArrayLike<number> & { [i: number]: number };
  const to = out as unknown as { [i: number]: number };
  let o = 0;
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const base = x * strides.x + y * strides.y;
      for (let c = 0; c < nz; c++) to[o++] = from[base + c * strides.c] as number;
    }
  }
  return { data: out, nx, ny, nz };
}
