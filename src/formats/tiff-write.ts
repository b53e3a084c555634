// Baseline TIFF 6.0 writer: one uncompressed image, little-endian, chunky (pixel-interleaved)
// samples in a few strips, grey (BlackIsZero) or RGB, 8/16/32-bit integers (signed or not) and
// 32/64-bit floats through the SampleFormat tag. What ImageJ/Fiji, tifffile, PIL and libtiff read.
//
// Layout: the 8-byte header, the IFD right after it, the values that do not fit an IFD entry,
// then the pixels in one block that the strips divide. The pixels are the caller's own bytes
// (no copy on a little-endian host): tiffParts() returns them as a separate part so that a file
// can be written with writev(), header and pixels side by side.
import { InvalidArgumentError } from '../errors.js';
import { checkRaster, sampleBytes, sampleFormatOf, type RasterImage } from './raster-image.js';

export interface TiffOptions {
  /** Rows per strip (default: as many as fit 256 KiB, at least one). */
  rowsPerStrip?: number;
  /** The Software tag (default "Sluice"); empty for none. */
  software?: string;
  /** An ImageDescription tag (ASCII), if given. */
  description?: string;
}

const STRIP_BYTES = 256 * 1024;

// Field types.
const ASCII = 2;
const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;
const TYPE_SIZE: Record<number, number> = { [ASCII]: 1, [SHORT]: 2, [LONG]: 4, [RATIONAL]: 8 };

interface Entry {
  tag: number;
  type: number;
  /** Numbers for SHORT and LONG, [numerator, denominator] pairs flattened for RATIONAL, bytes for ASCII. */
  values: number[] | Uint8Array;
}

function ascii(text: string): Uint8Array {
  if (!/^[\x20-\x7e\t\n\r]*$/.test(text)) throw new InvalidArgumentError('TIFF text tags must be printable ASCII');
  return Buffer.from(text + '\0', 'latin1');
}

/** The file as parts to write one after the other: [header and IFD, pixels]. */
export function tiffParts(img: RasterImage, opts: TiffOptions = {}): Uint8Array[] {
  checkRaster(img, 'TIFF', [1, 3]);
  const { bits, format } = sampleFormatOf(img.data);
  const { width, height, samples } = img;
  const rowBytes = width * samples * (bits / 8);
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(opts.rowsPerStrip ?? STRIP_BYTES / rowBytes) || 1));
  const nStrips = Math.ceil(height / rowsPerStrip);
  const imageBytes = rowBytes * height;

  const perSample = (v: number) => new Array<number>(samples).fill(v);
  const entries: Entry[] = [
    { tag: 256, type: LONG, values: [width] }, // ImageWidth
    { tag: 257, type: LONG, values: [height] }, // ImageLength
    { tag: 258, type: SHORT, values: perSample(bits) }, // BitsPerSample
    { tag: 259, type: SHORT, values: [1] }, // Compression: none
    { tag: 262, type: SHORT, values: [samples === 3 ? 2 : 1] }, // Photometric: RGB or BlackIsZero
    ...(opts.description ? [{ tag: 270, type: ASCII, values: ascii(opts.description) }] : []), // ImageDescription
    { tag: 273, type: LONG, values: new Array<number>(nStrips).fill(0) }, // StripOffsets (set below)
    { tag: 277, type: SHORT, values: [samples] }, // SamplesPerPixel
    { tag: 278, type: LONG, values: [rowsPerStrip] }, // RowsPerStrip
    {
      tag: 279,
      type: LONG,
      values: Array.from({ length: nStrips }, (_, i) => Math.min(rowsPerStrip, height - i * rowsPerStrip) * rowBytes),
    }, // StripByteCounts
    { tag: 282, type: RATIONAL, values: [1, 1] }, // XResolution
    { tag: 283, type: RATIONAL, values: [1, 1] }, // YResolution
    { tag: 284, type: SHORT, values: [1] }, // PlanarConfiguration: chunky
    { tag: 296, type: SHORT, values: [1] }, // ResolutionUnit: none
    ...((opts.software ?? 'Sluice') ? [{ tag: 305, type: ASCII, values: ascii(opts.software ?? 'Sluice') }] : []), // Software
    { tag: 339, type: SHORT, values: perSample(format === 'uint' ? 1 : format === 'int' ? 2 : 3) }, // SampleFormat
  ];

  // Offsets: header, IFD, out-of-line values (each at an even offset), pixels (16-byte aligned).
  const ifdSize = 2 + entries.length * 12 + 4;
  let end = 8 + ifdSize;
  const outOfLine = new Map<Entry, number>();
  for (const e of entries) {
    const size = (e.values.length * (TYPE_SIZE[e.type] as number)) / (e.type === RATIONAL ? 2 : 1);
    if (size > 4) {
      end += end & 1;
      outOfLine.set(e, end);
      end += size;
    }
  }
  const pixelOffset = (end + 15) & ~15;
  if (pixelOffset + imageBytes > 0xffffffff) {
    throw new InvalidArgumentError(`TIFF: a ${width}x${height}x${samples} ${bits}-bit image does not fit the 4 GiB of a classic TIFF file`);
  }
  const offsets = entries.find((e) => e.tag === 273) as Entry;
  offsets.values = Array.from({ length: nStrips }, (_, i) => pixelOffset + i * rowsPerStrip * rowBytes);

  const head = new Uint8Array(pixelOffset);
  const dv = new DataView(head.buffer);
  head[0] = head[1] = 0x49; // "II": little-endian
  dv.setUint16(2, 42, true);
  dv.setUint32(4, 8, true); // first IFD
  dv.setUint16(8, entries.length, true);
  const put = (at: number, type: number, values: number[] | Uint8Array) => {
    if (values instanceof Uint8Array) head.set(values, at);
    else
      for (let i = 0; i < values.length; i++) {
        const v = values[i] as number;
        if (type === SHORT) dv.setUint16(at + 2 * i, v, true);
        else dv.setUint32(at + 4 * i, v, true); // LONG, and RATIONAL as pairs of LONGs
      }
  };
  entries.forEach((e, i) => {
    const at = 10 + i * 12;
    const count = e.type === RATIONAL ? e.values.length / 2 : e.values.length;
    dv.setUint16(at, e.tag, true);
    dv.setUint16(at + 2, e.type, true);
    dv.setUint32(at + 4, count, true);
    const where = outOfLine.get(e);
    if (where === undefined) put(at + 8, e.type, e.values);
    else {
      dv.setUint32(at + 8, where, true);
      put(where, e.type, e.values);
    }
  });
  dv.setUint32(10 + entries.length * 12, 0, true); // no next IFD
  return [head, sampleBytes(img.data, true)];
}

/** The whole file in one buffer. */
export function encodeTiff(img: RasterImage, opts: TiffOptions = {}): Buffer {
  return Buffer.concat(tiffParts(img, opts));
}
