// Colour maps for mono images: 256-entry RGB lookup tables built from a few control colours
// (linear interpolation between them), so no large tables ship with the page.

/** Control colours, evenly spaced from the low end (first) to the high end (last). */
const STOPS = {
  grey: ['#000000', '#ffffff'],
  viridis: ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'],
  inferno: ['#000004', '#1b0c41', '#4a0c6b', '#781c6d', '#a52c60', '#cf4446', '#ed6925', '#fb9b06', '#f7d13d', '#fcffa4'],
  magma: ['#000004', '#180f3d', '#440f76', '#721f81', '#9e2f7f', '#cd4071', '#f1605d', '#fd9668', '#feca8d', '#fcfdbf'],
  // Jet: dark blue, blue, cyan, yellow, red, dark red.
  jet: ['#000080', '#0000ff', '#0080ff', '#00ffff', '#80ff80', '#ffff00', '#ff8000', '#ff0000', '#800000'],
};

/** Names of the colour maps, the default first. */
export const COLORMAP_NAMES = Object.keys(STOPS);

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const cache = new Map();

/**
 * The lookup table of a colour map: 256 * 3 bytes, entry i (R, G, B) at 3i.
 * @param {string} name one of COLORMAP_NAMES
 * @returns {Uint8Array}
 */
export function colormap(name) {
  const stops = STOPS[name];
  if (!stops) throw new RangeError(`unknown colour map "${name}" (one of ${COLORMAP_NAMES.join(', ')})`);
  let lut = cache.get(name);
  if (lut) return lut;
  const colours = stops.map(rgb);
  lut = new Uint8Array(256 * 3);
  const segments = colours.length - 1;
  for (let i = 0; i < 256; i++) {
    const pos = (i / 255) * segments;
    const k = Math.min(Math.floor(pos), segments - 1);
    const f = pos - k;
    const a = colours[k];
    const b = colours[k + 1];
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(a[c] + (b[c] - a[c]) * f);
  }
  cache.set(name, lut);
  return lut;
}
