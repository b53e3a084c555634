// The HDF5 layout of `sluice save` (docs/pipeline.md, "save and replay"), shared by the writer
// (hdf5-save.ts) and the reader (hdf5-replay.ts). Each run of values of one type (and, for
// frames, one shape and element type) is an NXentry group, /entry, then /entry_2, ...:
//   /entry/data/data                 frames only: N x (dims reversed), e.g. N x ny x nx, as areaDetector's HDF5 plugin
//   /entry/instrument/NDAttributes/  frames only: NDArrayUniqueId, NDArrayTimeStamp, NDArrayEpicsTSSec/nSec
//   /entry/values/<a>/<b>            one dataset per leaf field a.b, one row per value
//   /entry/marks/changed, overrun    each value's marks, as field numbers ("0", "1,4", "")
//   attributes of /entry: sluice_type (the pvData type, pvAccess-serialized, base64), sluice_notes
//   (JSON [[row, note], ...]: the stream's notes and the row they came before)
// Leaves: numbers and booleans are numeric datasets (booleans uint8), strings string datasets,
// numeric arrays of one length in every row an N x L dataset, other scalar arrays JSON text
// (`json.loads` in Python), and what JSON would lose the type of (unions,
// `any`, arrays of structures) the pvAccess serialization of the field, base64 (`pva-base64`).
import { BitSet } from '../pvdata/bitset.js';
import { H5_DTYPE } from '../processing/builtin/hdf5-writer.js';
import { TypeCache, decodeType, encodeType } from '../pvdata/type-codec.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../pvdata/types.js';
import { decodeValue, encodeValue } from '../pvdata/value-codec.js';
import { TYPED_ARRAY, type PVValue } from '../pvdata/values.js';
import { ByteReader, ByteWriter } from '../pvdata/wire.js';
import { DecodeError } from '../errors.js';

export const TYPE_ATTR = 'sluice_type';
export const NOTES_ATTR = 'sluice_notes';
export const ENCODING_ATTR = 'sluice_encoding';
export const FRAMES_DATASET = 'data/data';
export const AD_ATTRIBUTES = 'instrument/NDAttributes';

/** Entry group names in order: entry, entry_2, entry_3, ... */
export const entryName = (i: number): string => (i === 0 ? 'entry' : `entry_${i + 1}`);

/** HDF5 (NumPy) type strings of pvData numbers, little-endian; booleans as bytes. */
export const H5_NUMBER: Partial<Record<ScalarType, string>> = { ...H5_DTYPE, boolean: '<B' };

/** How a leaf is stored; `array` (numeric arrays of one length in every row: an N x L dataset) is the writer's choice for `json` leaves. */
export type LeafEncoding = 'number' | 'string' | 'json' | 'array' | 'pva-base64';

export interface Leaf {
  path: string[];
  type: FieldDesc;
  encoding: LeafEncoding;
}

export function encodingOf(type: FieldDesc): LeafEncoding {
  if (type.kind === 'scalar') return type.type === 'string' ? 'string' : 'number';
  if (type.kind === 'boundedString') return 'string';
  if (type.kind === 'scalarArray') return 'json';
  return 'pva-base64';
}

/** Every leaf field of `type` (structures walked into), in type order; `skip` leaves out one top-level field. */
export function leavesOf(type: StructureDesc, skip?: string, prefix: string[] = []): Leaf[] {
  return type.fields.flatMap((m): Leaf[] => {
    if (prefix.length === 0 && m.name === skip) return [];
    const path = [...prefix, m.name];
    return m.type.kind === 'structure' ? leavesOf(m.type, undefined, path) : [{ path, type: m.type, encoding: encodingOf(m.type) }];
  });
}

export function typeToBase64(type: StructureDesc): string {
  const w = new ByteWriter(true);
  encodeType(w, type);
  return Buffer.concat(w.take()).toString('base64');
}

export function typeFromBase64(text: string, where: string): StructureDesc {
  const type = decodeType(new ByteReader(Buffer.from(text, 'base64'), true), new TypeCache());
  if (type?.kind !== 'structure') throw new DecodeError(`${where}: ${TYPE_ATTR} is not a structure type`);
  return type;
}

export function valueToBase64(type: FieldDesc, v: PVValue | undefined): string {
  const w = new ByteWriter(true);
  encodeValue(w, type, v);
  return Buffer.concat(w.take()).toString('base64');
}

export function valueFromBase64(type: FieldDesc, text: string): PVValue {
  return decodeValue(new ByteReader(Buffer.from(text, 'base64'), true), type, new TypeCache());
}

/** "0", "1,4", "" */
export function bitsToText(b: BitSet): string {
  const bits: number[] = [];
  for (let i = b.nextSetBit(0); i >= 0; i = b.nextSetBit(i + 1)) bits.push(i);
  return bits.join(',');
}

export function bitsFromText(text: string, where: string): BitSet {
  if (text === '') return new BitSet();
  const bits = text.split(',').map(Number);
  if (!bits.every((n) => Number.isSafeInteger(n) && n >= 0 && n < 1 << 24)) throw new DecodeError(`${where}: bad field numbers '${text}'`);
  return new BitSet(bits);
}

/** A scalar array as JSON text: 64-bit integers as numbers when exact, else strings; NaN and infinities as strings. */
export function arrayToJSON(v: PVValue | undefined): string {
  const items = Array.from((v ?? []) as ArrayLike<unknown>, (e) =>
    typeof e === 'bigint'
      ? Number.isSafeInteger(Number(e))
        ? Number(e)
        : e.toString()
      : typeof e === 'number' && !Number.isFinite(e)
        ? String(e)
        : e,
  );
  return JSON.stringify(items);
}

export function arrayFromJSON(type: ScalarType, text: string, where: string): PVValue {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    items = null;
  }
  if (!Array.isArray(items)) throw new DecodeError(`${where}: not a JSON array`);
  const C = TYPED_ARRAY[type];
  if (!C) return type === 'boolean' ? items.map(Boolean) : items.map(String);
  const big = type === 'long' || type === 'ulong';
  try {
    return (C as unknown as { from(a: unknown[]): PVValue }).from(items.map((e) => (big ? BigInt(e as string) : Number(e))));
  } catch {
    throw new DecodeError(`${where}: not an array of ${type}`);
  }
}
