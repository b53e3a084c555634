// Image frames as the dashboard's web socket sends them, and their mapping to screen colours.
// A binary message is [uint32 LE header length][header JSON][padding to 8 bytes][pixels, little
// endian, in the header's dtype]. Pure functions (no DOM), so Node tests run them as they are.

/** Typed array of each dtype name; pvData's names and the C-style ones both work. */
const ARRAYS = {
  int8: Int8Array,
  byte: Int8Array,
  uint8: Uint8Array,
  ubyte: Uint8Array,
  int16: Int16Array,
  short: Int16Array,
  uint16: Uint16Array,
  ushort: Uint16Array,
  int32: Int32Array,
  int: Int32Array,
  uint32: Uint32Array,
  uint: Uint32Array,
  int64: BigInt64Array,
  long: BigInt64Array,
  uint64: BigUint64Array,
  ulong: BigUint64Array,
  float32: Float32Array,
  float: Float32Array,
  float64: Float64Array,
  double: Float64Array,
};

export const COLOR_MODES = ['Mono', 'RGB1', 'RGB2', 'RGB3'];

/** Whether `dtype` names a pixel type this page decodes. */
export function knownDtype(dtype) {
  return Object.prototype.hasOwnProperty.call(ARRAYS, dtype);
}

/**
 * Split a binary image message into its header and pixels.
 * @param {ArrayBuffer} buffer the whole message
 */
export function parseImageMessage(buffer) {
  if (buffer.byteLength < 4) throw new RangeError(`image message of ${buffer.byteLength} bytes has no header length`);
  const headerLength = new DataView(buffer).getUint32(0, true);
  if (4 + headerLength > buffer.byteLength) {
    throw new RangeError(`image header of ${headerLength} bytes does not fit in a ${buffer.byteLength}-byte message`);
  }
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  const Array_ = ARRAYS[header.dtype];
  if (!Array_) throw new RangeError(`image of ${header.pv}: unknown dtype "${header.dtype}"`);
  if (!COLOR_MODES.includes(header.colorMode)) throw new RangeError(`image of ${header.pv}: colour mode "${header.colorMode}" not shown`);
  const start = Math.ceil((4 + headerLength) / 8) * 8;
  const channels = header.colorMode === 'Mono' ? 1 : 3;
  const count = header.width * header.height * channels;
  if (start + count * Array_.BYTES_PER_ELEMENT > buffer.byteLength) {
    throw new RangeError(`image of ${header.pv}: ${header.width}x${header.height}x${channels} ${header.dtype} pixels do not fit`);
  }
  // Little-endian hosts (all browsers in practice) view the bytes in place.
  const pixels = new Array_(buffer, start, count);
  return { header, pixels };
}

/** Index of channel c of pixel (x, y) in the flat pixel array of a frame's colour mode. */
export function pixelIndex(colorMode, width, height, x, y, c = 0) {
  switch (colorMode) {
    case 'RGB1': // pixel-interleaved: R G B of one pixel together
      return (y * width + x) * 3 + c;
    case 'RGB2': // row-interleaved: a row of R, then of G, then of B
      return (y * 3 + c) * width + x;
    case 'RGB3': // plane-interleaved: the whole R plane, then G, then B
      return c * width * height + y * width + x;
    default:
      return y * width + x;
  }
}

/** Pixel value(s) at (x, y): a number for Mono, [r, g, b] for colour. */
export function pixelAt(frame, x, y) {
  const { header, pixels } = frame;
  const { colorMode, width, height } = header;
  if (colorMode === 'Mono') return Number(pixels[pixelIndex(colorMode, width, height, x, y)]);
  return [0, 1, 2].map((c) => Number(pixels[pixelIndex(colorMode, width, height, x, y, c)]));
}

/** Smallest and largest finite values (NaN and infinities skipped); {min: 0, max: 0} when none. */
export function valueRange(pixels) {
  let min = Infinity;
  let max = -Infinity;
  if (pixels instanceof BigInt64Array || pixels instanceof BigUint64Array) {
    for (const b of pixels) {
      const v = Number(b);
      if (v < min) min = v;
      if (v > max) max = v;
    }
  } else {
    for (let i = 0; i < pixels.length; i++) {
      const v = pixels[i];
      if (v < min) min = v; // NaN fails both comparisons
      if (v > max) max = v;
    }
  }
  if (min === Infinity || min === -Infinity) min = 0;
  if (max === -Infinity || max === Infinity) max = min;
  return { min, max };
}

/**
 * Counts of values in `bins` equal bins over [min, max]; values outside are clamped into the end
 * bins, NaN is skipped.
 * @returns {Uint32Array}
 */
export function histogram(pixels, bins, min, max) {
  const counts = new Uint32Array(bins);
  const span = max - min;
  const scale = span > 0 ? bins / span : 0;
  const big = pixels instanceof BigInt64Array || pixels instanceof BigUint64Array;
  for (let i = 0; i < pixels.length; i++) {
    const v = big ? Number(pixels[i]) : pixels[i];
    if (v !== v) continue;
    let b = Math.floor((v - min) * scale);
    if (b < 0) b = 0;
    else if (b >= bins) b = bins - 1;
    counts[b]++;
  }
  return counts;
}

/**
 * Auto-contrast: the range holding all but `clip` of the values at each end (0 gives the full
 * range), from a fine histogram so it costs two passes whatever the dtype.
 */
export function autoContrast(pixels, clip = 0) {
  const full = valueRange(pixels);
  if (clip <= 0 || full.max <= full.min) return full;
  const bins = 4096;
  const counts = histogram(pixels, bins, full.min, full.max);
  let total = 0;
  for (const c of counts) total += c;
  const cut = total * clip;
  const width = (full.max - full.min) / bins;
  let lo = 0;
  for (let seen = 0; lo < bins - 1 && seen + counts[lo] <= cut; lo++) seen += counts[lo];
  let hi = bins - 1;
  for (let seen = 0; hi > lo && seen + counts[hi] <= cut; hi--) seen += counts[hi];
  return { min: full.min + lo * width, max: full.min + (hi + 1) * width };
}

/**
 * Map a frame to RGBA bytes (x fastest, row 0 at the top). Mono values go through the colour
 * map's table over [min, max]; colour frames scale each channel linearly over [min, max].
 * @param {{header: any, pixels: any}} frame
 * @param {{min: number, max: number, lut: Uint8Array}} mapping
 * @param {Uint8ClampedArray} [out] reused when it has the right length
 */
export function toRGBA(frame, mapping, out) {
  const { header, pixels } = frame;
  const { width, height, colorMode } = header;
  const n = width * height;
  const rgba = out && out.length === n * 4 ? out : new Uint8ClampedArray(n * 4);
  const { min, max, lut } = mapping;
  const scale = max > min ? 255 / (max - min) : 0;
  const big = pixels instanceof BigInt64Array || pixels instanceof BigUint64Array;
  // Level 0..255 of one value; NaN shows as the low end.
  const level = (v) => {
    const l = Math.round((v - min) * scale);
    return l > 255 ? 255 : l >= 0 ? l : 0;
  };
  if (colorMode === 'Mono') {
    for (let i = 0; i < n; i++) {
      const l = level(big ? Number(pixels[i]) : pixels[i]) * 3;
      const o = i * 4;
      rgba[o] = lut[l];
      rgba[o + 1] = lut[l + 1];
      rgba[o + 2] = lut[l + 2];
      rgba[o + 3] = 255;
    }
    return rgba;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const v = pixels[pixelIndex(colorMode, width, height, x, y, c)];
        rgba[o + c] = level(big ? Number(v) : v);
      }
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}

/**
 * Source-image coordinates of displayed pixel (x, y) of a binned frame: the first source pixel of
 * its bin (bins are `binning` source pixels wide; the last ones may be partial).
 */
export function sourcePixel(header, x, y) {
  if (header.binning >= 1) return { x: x * header.binning, y: y * header.binning };
  const sx = header.srcWidth && header.width ? header.srcWidth / header.width : 1;
  const sy = header.srcHeight && header.height ? header.srcHeight / header.height : 1;
  return { x: Math.floor(x * sx), y: Math.floor(y * sy) };
}
