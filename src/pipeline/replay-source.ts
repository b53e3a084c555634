// What `sluice replay` plays back, as stream items: a stream file (or stdin), a directory of
// stream segments (`sluice save DIR`), an HDF5 file of `sluice save` (hdf5-layout.ts), or frames
// of any other HDF5, .npy or TIFF file (the readers `sluice sim` uses), as NTNDArray values.
// The kind of file is told by its first bytes, not its name.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type * as H5 from 'h5wasm/node';
import { FileError } from '../errors.js';
import type { FrameFile } from '../formats/frame-file.js';
import { readHead } from '../formats/frame-file.js';
import { isHdf5, openHdf5 } from '../formats/hdf5-read.js';
import { openNpy } from '../formats/npy.js';
import { openTiff } from '../formats/tiff-read.js';
import { loadH5wasm } from '../processing/builtin/hdf5-writer.js';
import type { BitSet } from '../pvdata/bitset.js';
import { ntndarray } from '../pvdata/nt/ntndarray.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVStructure, PVTypedArray, PVValue } from '../pvdata/values.js';
import {
  AD_ATTRIBUTES,
  ENCODING_ATTR,
  FRAMES_DATASET,
  NOTES_ATTR,
  TYPE_ATTR,
  arrayFromJSON,
  bitsFromText,
  entryName,
  leavesOf,
  typeFromBase64,
  valueFromBase64,
  type Leaf,
} from './hdf5-layout.js';
import { h5call } from './hdf5-save.js';
import { readStream } from './stdio.js';
import { STREAM_MAGIC } from './stream-format.js';

export type ReplayItem =
  | { kind: 'value'; type: StructureDesc; value: PVStructure; changed?: BitSet; overrun?: BitSet }
  | { kind: 'note'; note: Record<string, unknown> };

/** The items of `path` ('-': stdin), in order. Wrong input throws a FileError or DecodeError. */
export async function* replayItems(path: string, stdin?: NodeJS.ReadableStream): AsyncGenerator<ReplayItem> {
  if (path === '-') {
    if (stdin) yield* streamItems(stdin, 'stdin');
    return;
  }
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new FileError(path, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  if (info.isDirectory()) {
    yield* segments(path);
    return;
  }
  const head = await readHead(path, Math.min(info.size, 8));
  if (STREAM_MAGIC.every((b, i) => head[i] === b)) yield* streamItems(createReadStream(path), path);
  else if (isHdf5(head) || (info.size > 512 && isHdf5(await readHead(path, Math.min(info.size, 2056)), 512))) yield* hdf5Items(path);
  else if (head[0] === 0x93 && Buffer.from(head.subarray(1, 6)).toString('latin1') === 'NUMPY') yield* frameItems(await openNpy(path));
  else if ((head[0] === 0x49 && head[1] === 0x49) || (head[0] === 0x4d && head[1] === 0x4d)) yield* frameItems(await openTiff(path));
  else throw new FileError(path, 'not a Sluice stream, an HDF5 file, an .npy file nor a TIFF file');
}

async function* streamItems(input: NodeJS.ReadableStream, source: string): AsyncGenerator<ReplayItem> {
  for await (const item of readStream(input, { source })) {
    if (item.kind === 'value') yield { kind: 'value', type: item.type, value: item.value, changed: item.changed, overrun: item.overrun };
    else if (item.kind === 'note') yield item;
  }
}

/** The .sls segments of a directory in name order, as one stream (the output writes a type that repeats once). */
async function* segments(dir: string): AsyncGenerator<ReplayItem> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sls')).sort();
  if (names.length === 0) throw new FileError(dir, 'a directory without stream segments (*.sls)');
  for (const name of names) yield* streamItems(createReadStream(join(dir, name)), join(dir, name));
}

/** Frames of a file `sluice sim` reads, as NTNDArray values numbered 1, 2, ... */
async function* frameItems(frames: FrameFile, ids?: ArrayLike<number>): AsyncGenerator<ReplayItem> {
  const type = ntndarray.type();
  try {
    for (let i = 0; i < frames.frames; i++) {
      const data = await frames.read(i);
      const value = ntndarray.build({
        data,
        dims: [...frames.layout.dims],
        uniqueId: Number(ids?.[i] ?? i + 1),
        colorMode: frames.layout.colorMode,
      });
      yield { kind: 'value', type, value };
    }
  } finally {
    await frames.close();
  }
}

async function* hdf5Items(path: string): AsyncGenerator<ReplayItem> {
  const h5 = await loadH5wasm();
  let file: H5.File;
  try {
    file = h5call(h5, path, () => new h5.File(resolve(path), 'r'));
  } catch (e) {
    throw new FileError(path, `cannot open as HDF5: ${(e as Error).message.replace(`${path}: `, '')}`, { cause: e });
  }
  let saved = false;
  let ids: ArrayLike<number> | undefined;
  try {
    saved = h5call(h5, path, () => {
      const g = file.get(entryName(0));
      return g instanceof h5.Group && g.attrs[TYPE_ATTR] !== undefined;
    });
    if (saved) {
      yield* savedItems(h5, file, path);
      return;
    }
    // Frame ids kept beside the frames: Hdf5AdImageWriter's /uniqueIds, areaDetector's NDArrayUniqueId.
    ids = h5call(h5, path, () => {
      for (const p of ['uniqueIds', `entry/${AD_ATTRIBUTES}/NDArrayUniqueId`]) {
        const d = file.get(p);
        if (d instanceof h5.Dataset && d.metadata.shape?.length === 1) return Array.from(d.value as ArrayLike<number | bigint>, Number);
      }
      return undefined;
    });
  } finally {
    h5call(h5, path, () => file.close());
  }
  const frames = await openHdf5(path);
  yield* frameItems(frames, ids?.length === frames.frames ? ids : undefined);
}

async function* savedItems(h5: typeof H5, file: H5.File, path: string): AsyncGenerator<ReplayItem> {
  for (let e = 0; ; e++) {
    const group = entryName(e);
    const where = `${path}: /${group}`;
    const run = h5call(h5, path, () => {
      const g = file.get(group);
      if (!(g instanceof h5.Group)) return null;
      const attr = (name: string): string | undefined => g.attrs[name]?.value as string | undefined;
      const typeText = attr(TYPE_ATTR);
      if (typeof typeText !== 'string') throw new FileError(path, `/${group} has no ${TYPE_ATTR} attribute`);
      const type = typeFromBase64(typeText, where);
      const notes = JSON.parse(attr(NOTES_ATTR) ?? '[]') as [number, Record<string, unknown>][];
      const framesDs = file.get(`${group}/${FRAMES_DATASET}`);
      const frames = framesDs instanceof h5.Dataset ? framesDs : null;
      const member = frames?.attrs['sluice_member']?.value as string | undefined;
      const leaves = leavesOf(type, frames ? 'value' : undefined);
      const changed = dataset(h5, file, `${group}/marks/changed`, where) as string[];
      const overrun = dataset(h5, file, `${group}/marks/overrun`, where) as string[];
      const rows = changed.length;
      const columns = leaves.map((leaf) => {
        const name = `${group}/values/${leaf.path.join('/')}`;
        const ds = file.get(name);
        const enc = ds instanceof h5.Dataset ? ds.attrs[ENCODING_ATTR]?.value : undefined;
        let col = dataset(h5, file, name, where) as ArrayLike<unknown>;
        if (enc === 'array' && leaf.encoding === 'json') {
          // N x L numbers: row i is elements [i L, (i + 1) L).
          const flat = col as PVTypedArray;
          const length = (ds as H5.Dataset).shape?.[1] ?? 0;
          if ((ds as H5.Dataset).shape?.length !== 2) throw new FileError(path, `/${name}: an array column must be 2-d`);
          col = Array.from({ length: flat.length / Math.max(1, length) }, (_, i) => ({ array: flat.slice(i * length, (i + 1) * length) }));
        } else if (enc !== leaf.encoding) {
          throw new FileError(path, `/${name}: encoding ${String(enc)}, ${leaf.encoding} expected`);
        }
        if (col.length !== rows) throw new FileError(path, `/${name} has ${col.length} rows, the marks ${rows}`);
        return col;
      });
      if (frames && (frames.shape?.[0] ?? 0) < rows) throw new FileError(path, `/${group}/${FRAMES_DATASET} has fewer frames than rows`);
      return { type, notes, frames, member, leaves, changed, overrun, rows, columns };
    });
    if (!run) {
      if (e === 0) throw new FileError(path, 'no /entry group');
      return;
    }
    let n = 0;
    for (let i = 0; i <= run.rows; i++) {
      while (n < run.notes.length && (run.notes[n] as [number, unknown])[0] <= i)
        yield { kind: 'note', note: (run.notes[n++] as [number, Record<string, unknown>])[1] };
      if (i === run.rows) break;
      const value = skeleton(run.type);
      run.leaves.forEach((leaf, k) => setAt(value, leaf.path, cell(leaf, (run.columns[k] as ArrayLike<unknown>)[i], `${where} row ${i}`)));
      if (run.frames) {
        const frames = run.frames;
        const rank = frames.shape?.length ?? 1;
        const data = h5call(h5, path, () => frames.slice([[i, i + 1], ...Array.from({ length: rank - 1 }, () => [] as [])]));
        value['value'] = { field: run.member ?? 'ubyteValue', value: data as PVTypedArray };
      }
      const changed = bitsFromText(run.changed[i] as string, where);
      const overrun = bitsFromText(run.overrun[i] as string, where);
      yield { kind: 'value', type: run.type, value, changed, overrun };
    }
  }
}

function dataset(h5: typeof H5, file: H5.File, name: string, where: string): unknown {
  const d = file.get(name);
  if (!(d instanceof h5.Dataset)) throw new FileError(where.split(': ')[0] as string, `no dataset /${name}`);
  return d.value;
}

function cell(leaf: Leaf, v: unknown, where: string): PVValue {
  const t = leaf.type;
  switch (leaf.encoding) {
    case 'number':
      return t.kind === 'scalar' && t.type === 'boolean' ? Boolean(v) : (v as number | bigint);
    case 'string':
      return String(v);
    case 'json':
      if (typeof v === 'object' && v !== null && 'array' in v) return (v as { array: PVTypedArray }).array;
      return arrayFromJSON(t.kind === 'scalarArray' ? t.type : 'string', String(v), where);
    case 'pva-base64':
      return valueFromBase64(t, String(v));
    case 'array':
      return v as PVTypedArray;
  }
}

function skeleton(type: StructureDesc): PVStructure {
  const v: PVStructure = {};
  for (const m of type.fields) if (m.type.kind === 'structure') v[m.name] = skeleton(m.type);
  return v;
}

function setAt(v: PVStructure, path: string[], x: PVValue): void {
  let o = v;
  for (let i = 0; i < path.length - 1; i++) o = o[path[i] as string] as PVStructure;
  o[path[path.length - 1] as string] = x;
}
