// A stream's values into one HDF5 file, in the layout of hdf5-layout.ts: frames (NTNDArray) as an
// areaDetector-like N x ny x nx dataset, written in batches as they come; the other fields (and
// the values of other types) a dataset per leaf field, one row per value, written when the run of
// values they belong to ends. A run ends at a new type, a frame of another shape or element type,
// or close(). h5wasm writes synchronously (see hdf5-writer.ts); batches keep its calls few.
import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as H5 from 'h5wasm/node';
import { FileError } from '../errors.js';
import { hdf5ErrorSummary, loadH5wasm } from '../processing/builtin/hdf5-writer.js';
import type { BitSet } from '../pvdata/bitset.js';
import { dataTypeOfUnionField } from '../pvdata/nt/ntndarray.js';
import { sameType, type ScalarType, type StructureDesc } from '../pvdata/types.js';
import { TYPED_ARRAY, type PVStructure, type PVTypedArray, type PVUnion, type PVValue } from '../pvdata/values.js';
import {
  AD_ATTRIBUTES,
  ENCODING_ATTR,
  FRAMES_DATASET,
  H5_NUMBER,
  NOTES_ATTR,
  TYPE_ATTR,
  arrayToJSON,
  bitsToText,
  entryName,
  leavesOf,
  typeToBase64,
  valueToBase64,
  type Leaf,
  type LeafEncoding,
} from './hdf5-layout.js';

type H5Module = typeof H5;

/** Frames are written in batches of about this many bytes (h5wasm's per-call cost is high). */
const BATCH_BYTES = 1 << 20;

interface FrameShape {
  member: string;
  dtype: ScalarType;
  /** HDF5 shape of one frame: the NTNDArray dims reversed (slowest first). */
  shape: number[];
  key: string;
}

interface Run {
  group: string;
  type: StructureDesc;
  leaves: Leaf[];
  columns: PVValue[][];
  changed: string[];
  overrun: string[];
  notes: [number, Record<string, unknown>][];
  rows: number;
  frames:
    | (FrameShape & { dataset: H5.Dataset; written: number; batch: PVTypedArray[]; batchBytes: number; ids: number[]; times: number[] })
    | null;
}

/** The frame layout of an NTNDArray value, or null when it is not a plain (uncompressed, numeric) frame. */
export function frameShapeOf(type: StructureDesc, value: PVStructure): FrameShape | null {
  if (!type.id.startsWith('epics:nt/NTNDArray:')) return null;
  const u = value['value'] as PVUnion | null;
  const dtype = u ? dataTypeOfUnionField(u.field) : undefined;
  const codec = (value['codec'] as PVStructure | undefined)?.['name'];
  const dims = ((value['dimension'] ?? []) as (PVStructure | null)[]).map((d) => Number(d?.['size'] ?? 0));
  if (!u || !dtype || !H5_NUMBER[dtype] || (codec !== undefined && codec !== '') || dims.length === 0) return null;
  const data = u.value as PVTypedArray;
  if (!ArrayBuffer.isView(data) || dims.reduce((a, b) => a * b, 1) !== data.length || data.length === 0) return null;
  const shape = [...dims].reverse();
  return { member: u.field, dtype, shape, key: `${u.field} ${shape.join('x')}` };
}

export class Hdf5StreamWriter {
  readonly path: string;
  readonly #h5: H5Module;
  readonly #file: H5.File;
  #run: Run | null = null;
  #runs = 0;
  #pendingNotes: Record<string, unknown>[] = [];
  #count = 0;

  private constructor(path: string, h5: H5Module, file: H5.File) {
    this.path = path;
    this.#h5 = h5;
    this.#file = file;
  }

  /** Create (or truncate) the file; its errors name the path and the cause. */
  static async create(path: string): Promise<Hdf5StreamWriter> {
    const abs = resolve(path);
    try {
      closeSync(openSync(abs, 'w')); // Node's errors (EACCES, ENOENT) are plainer than HDF5's
    } catch (e) {
      throw new FileError(path, `cannot create: ${(e as Error).message}`, { cause: e });
    }
    const h5 = await loadH5wasm();
    const file = h5call(h5, path, () => new h5.File(abs, 'w'));
    return new Hdf5StreamWriter(path, h5, file);
  }

  /** Values written so far. */
  get count(): number {
    return this.#count;
  }

  note(note: Record<string, unknown>): void {
    if (this.#run) this.#run.notes.push([this.#run.rows, note]);
    else this.#pendingNotes.push(note);
  }

  value(type: StructureDesc, value: PVStructure, changed: BitSet, overrun: BitSet): void {
    const shape = frameShapeOf(type, value);
    let run = this.#run;
    if (run && run.type !== type && sameType(run.type, type)) run.type = type; // the same type again (merged streams)
    if (run && (run.type !== type || (run.frames?.key ?? null) !== (shape?.key ?? null))) {
      this.#closeRun();
      run = null;
    }
    run ??= this.#openRun(type, shape);
    for (let i = 0; i < run.leaves.length; i++) (run.columns[i] as PVValue[]).push(at(value, (run.leaves[i] as Leaf).path));
    run.changed.push(bitsToText(changed));
    run.overrun.push(bitsToText(overrun));
    const f = run.frames;
    if (f) {
      const data = (value['value'] as PVUnion).value as PVTypedArray;
      f.batch.push(data);
      f.batchBytes += data.byteLength;
      f.ids.push(Number(value['uniqueId'] ?? 0));
      const ts = value['timeStamp'] as PVStructure | undefined;
      f.times.push(ts ? Number(ts['secondsPastEpoch']) + Number(ts['nanoseconds']) / 1e9 : 0);
      if (f.batchBytes >= BATCH_BYTES) this.#flushFrames(f);
    }
    run.rows++;
    this.#count++;
  }

  /** Write what is pending and close the file. */
  close(): void {
    try {
      if (this.#run) this.#closeRun();
      else if (this.#pendingNotes.length) this.#file.create_attribute(NOTES_ATTR, JSON.stringify(this.#pendingNotes.map((n) => [0, n])));
    } finally {
      h5call(this.#h5, this.path, () => this.#file.close());
    }
  }

  #openRun(type: StructureDesc, shape: FrameShape | null): Run {
    const group = entryName(this.#runs++);
    const leaves = leavesOf(type, shape ? 'value' : undefined);
    const notes = this.#pendingNotes.map((n): [number, Record<string, unknown>] => [0, n]);
    this.#pendingNotes = [];
    const run: Run = { group, type, leaves, columns: leaves.map(() => []), changed: [], overrun: [], notes, rows: 0, frames: null };
    h5call(this.#h5, this.path, () => {
      const g = this.#file.create_group(group);
      g.create_attribute('NX_class', 'NXentry');
      g.create_attribute(TYPE_ATTR, typeToBase64(type));
      if (!shape) return;
      const data = this.#file.create_group(`${group}/data`);
      data.create_attribute('NX_class', 'NXdata');
      data.create_attribute('signal', 'data');
      const C = TYPED_ARRAY[shape.dtype] as unknown as new (n: number) => PVTypedArray;
      const dataset = this.#file.create_dataset({
        name: `${group}/${FRAMES_DATASET}`,
        data: new C(0),
        shape: [0, ...shape.shape],
        maxshape: [null, ...shape.shape],
        chunks: [1, ...shape.shape],
        dtype: H5_NUMBER[shape.dtype] as string,
      });
      dataset.create_attribute('sluice_member', shape.member);
      run.frames = { ...shape, dataset, written: 0, batch: [], batchBytes: 0, ids: [], times: [] };
    });
    this.#run = run;
    return run;
  }

  #flushFrames(f: NonNullable<Run['frames']>): void {
    if (f.batch.length === 0) return;
    const first = f.batch[0] as PVTypedArray;
    const all = new (first.constructor as new (n: number) => PVTypedArray)(first.length * f.batch.length);
    f.batch.forEach((d, i) => (all as Uint8Array).set(d as Uint8Array, i * first.length));
    const from = f.written;
    const to = from + f.batch.length;
    h5call(this.#h5, this.path, () => {
      f.dataset.resize([to, ...f.shape]);
      f.dataset.write_slice([[from, to]], all);
    });
    f.written = to;
    f.batch = [];
    f.batchBytes = 0;
  }

  #closeRun(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = null;
    const file = this.#file;
    const base = run.group;
    if (run.frames) this.#flushFrames(run.frames);
    h5call(this.#h5, this.path, () => {
      const g = file.get(base) as H5.Group;
      if (run.notes.length) g.create_attribute(NOTES_ATTR, JSON.stringify(run.notes));
      ensureGroup(file, `${base}/values`);
      run.leaves.forEach((leaf, i) => {
        const name = `${base}/values/${leaf.path.join('/')}`;
        ensureGroup(file, name.slice(0, name.lastIndexOf('/')));
        const { encoding, ...data } = columnData(leaf, run.columns[i] as PVValue[]);
        const ds = file.create_dataset({ name, ...data });
        ds.create_attribute(ENCODING_ATTR, encoding);
      });
      ensureGroup(file, `${base}/marks`);
      file.create_dataset({ name: `${base}/marks/changed`, data: run.changed });
      file.create_dataset({ name: `${base}/marks/overrun`, data: run.overrun });
      const f = run.frames;
      if (f) {
        ensureGroup(file, `${base}/${AD_ATTRIBUTES}`);
        (file.get(`${base}/instrument`) as H5.Group).create_attribute('NX_class', 'NXinstrument');
        file.create_dataset({ name: `${base}/${AD_ATTRIBUTES}/NDArrayUniqueId`, data: Int32Array.from(f.ids), dtype: '<i' });
        file.create_dataset({ name: `${base}/${AD_ATTRIBUTES}/NDArrayTimeStamp`, data: Float64Array.from(f.times), dtype: '<d' });
      }
    });
  }
}

/** A leaf's rows as the data, shape and dtype of its dataset, and how they are encoded. */
function columnData(
  leaf: Leaf,
  rows: PVValue[],
): { data: PVTypedArray | string[]; shape?: number[]; dtype?: string; encoding: LeafEncoding } {
  const t = leaf.type;
  const encoding = leaf.encoding;
  if (encoding === 'number' && t.kind === 'scalar') {
    if (t.type === 'boolean') return { data: Uint8Array.from(rows, (v) => (v ? 1 : 0)), dtype: '<B', encoding };
    const C = TYPED_ARRAY[t.type] as unknown as { from(a: unknown[]): PVTypedArray };
    return { data: C.from(rows), dtype: H5_NUMBER[t.type] as string, encoding };
  }
  if (encoding === 'string') return { data: rows.map((v) => String(v ?? '')), encoding };
  if (encoding === 'json' && t.kind === 'scalarArray') {
    // Numbers of one length in every row (a waveform): an N x L dataset, as h5py users expect.
    const C = TYPED_ARRAY[t.type] as unknown as (new (n: number) => PVTypedArray) | undefined;
    const length = (rows[0] as ArrayLike<unknown> | undefined)?.length ?? 0;
    if (C && length > 0 && rows.every((r) => ArrayBuffer.isView(r) && (r as PVTypedArray).length === length)) {
      const all = new C(rows.length * length);
      rows.forEach((r, i) => (all as Uint8Array).set(r as Uint8Array, i * length));
      return { data: all, shape: [rows.length, length], dtype: H5_NUMBER[t.type] as string, encoding: 'array' };
    }
    return { data: rows.map(arrayToJSON), encoding };
  }
  return { data: rows.map((v) => valueToBase64(t, v)), encoding };
}

function ensureGroup(file: H5.File, path: string): void {
  const parts = path.split('/').filter((p) => p);
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (file.get(p) === null) file.create_group(p);
  }
}

function at(v: PVStructure, path: string[]): PVValue {
  let x: unknown = v;
  for (const p of path) x = (x as PVStructure | undefined)?.[p];
  return x as PVValue;
}

/** HDF5 calls with errors thrown (not printed), as FileErrors naming the file. */
export function h5call<T>(h5: H5Module, path: string, f: () => T): T {
  h5.Module.activate_throwing_error_handler();
  try {
    return f();
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(path, hdf5ErrorSummary(e), { cause: e });
  } finally {
    h5.Module.deactivate_throwing_error_handler();
  }
}
