// The pipeline's files: save to HDF5 or a directory and replay back (byte for byte), replay of
// other HDF5 frame files and its pacing, from-csv and the tables of to-json/from-json, wrong
// input, and the examples/pipeline scripts, all through real pipes of the real CLI.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openHdf5 } from '../../src/formats/hdf5-read.js';
import { StreamEncoder } from '../../src/pipeline/stream-format.js';
import { loadH5wasm } from '../../src/processing/builtin/hdf5-writer.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { nttable } from '../../src/pvdata/nt/nttable.js';
import { ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import { t as types } from '../../src/pvdata/types.js';
import { completeStructure, type PVStructure } from '../../src/pvdata/values.js';
import { CLI } from '../helpers/cli.js';
import { bash, idStream, idsIn, S, tempDir } from '../helpers/pipeline.js';

const env = { ...process.env };

/** `n` 4 x 3 ushort frames, a note first, one value with marks of its own; then, with `more`, frames of another size. */
function frameStream(path: string, n: number, more = 0): Uint16Array[] {
  const e = new StreamEncoder();
  const type = ntndarray.type();
  const chunks = [e.header(), e.note({ source: 'test' })];
  const frames: Uint16Array[] = [];
  for (let i = 1; i <= n + more; i++) {
    const [nx, ny] = i <= n ? [4, 3] : [2, 2];
    const data = Uint16Array.from({ length: nx * ny }, (_, k) => (k * i) % 65536);
    frames.push(data);
    const v = ntndarray.build({ data, dims: [nx, ny], uniqueId: i, attributes: [{ name: 'gain', value: 1.5 * i }], colorMode: 0 });
    chunks.push(e.value(type, v, i === 3 ? { changed: BitSet.of(1, 5), overrun: BitSet.of(2) } : undefined));
  }
  chunks.push(e.note({ done: true }), e.end());
  writeFileSync(path, Buffer.concat(chunks.flat()));
  return frames;
}

/** Values of many kinds of field, and a second type after them. */
function mixedStream(path: string): void {
  const e = new StreamEncoder();
  const type = types.struct([
    ['l', types.long],
    ['u', types.ulong],
    ['b', types.boolean],
    ['f', types.float],
    ['s', types.string],
    ['d', types.array('double')],
    ['w', types.array('short')],
    ['names', types.array('string')],
    ['nested', types.struct([['x', types.byte]])],
    [
      'choice',
      types.union([
        ['i', types.int],
        ['s', types.string],
      ]),
    ],
    ['anything', types.any],
    ['list', types.structArray(types.struct([['k', types.int]]))],
  ]);
  const chunks = [e.header()];
  for (let i = 0; i < 5; i++) {
    const v: PVStructure = {
      l: -(2n ** 62n) + BigInt(i),
      u: 2n ** 64n - 1n - BigInt(i),
      b: i % 2 === 0,
      f: 0.1 * i,
      s: `é,"${i}"\n`,
      d: Float64Array.from({ length: i }, (_, k) => (k === 1 ? NaN : k / 3)),
      w: Int16Array.from([i, -i, 2 * i, 3]),
      names: ['a', `b${i}`],
      nested: { x: -i },
      choice: i % 2 ? { field: 'i', value: i } : { field: 's', value: `s${i}` },
      anything: { type: i % 2 ? types.short : types.string, value: i % 2 ? i : 'x' },
      list: [{ k: i }, { k: i + 1 }],
    };
    chunks.push(e.value(type, v));
  }
  const other = types.struct([['value', types.double]], 'epics:nt/NTScalar:1.0');
  chunks.push(e.value(other, { value: 2.5 }), e.end());
  writeFileSync(path, Buffer.concat(chunks.flat()));
}

test('save | replay: HDF5 and directories give back the stream saved, byte for byte', async (t) => {
  const dir = tempDir(t);
  const frames = join(dir, 'frames.sls');
  const data = frameStream(frames, 7, 2);
  const mixed = join(dir, 'mixed.sls');
  mixedStream(mixed);
  for (const input of [frames, mixed]) {
    const name = input.endsWith('frames.sls') ? 'frames' : 'mixed';
    const h5 = await bash(`${S} save "${dir}/${name}.h5" < "${input}" && ${S} replay "${dir}/${name}.h5"`, env);
    assert.deepEqual(h5.status, [0], h5.stderr);
    assert.match(h5.stderr, new RegExp(`^sluice save: ${name === 'frames' ? 9 : 6} values saved to `));
    assert.ok(h5.stdout.equals(readFileSync(input)), `${name}: HDF5 round trip`);
    const segs = await bash(`${S} save --segment 2 "${dir}/${name}-dir" "${input}" && ${S} replay "${dir}/${name}-dir"`, env);
    assert.deepEqual(segs.status, [0], segs.stderr);
    assert.ok(segs.stdout.equals(readFileSync(input)), `${name}: directory round trip`);
  }
  assert.deepEqual(readdirSync(join(dir, 'frames-dir')), ['000001.sls', '000002.sls', '000003.sls', '000004.sls', '000005.sls']);

  // The frames are an areaDetector dataset that sluice sim's reader (and h5py) takes: N x ny x nx.
  const ff = await openHdf5(join(dir, 'frames.h5'));
  assert.equal(ff.detail, '/entry/data/data');
  assert.equal(ff.frames, 7);
  assert.deepEqual(ff.layout.dims, [4, 3]);
  assert.deepEqual(await ff.read(6), data[6]);
  await ff.close();
  const h5 = await loadH5wasm();
  const f = new h5.File(join(dir, 'frames.h5'), 'r');
  try {
    const ids = f.get('entry/instrument/NDAttributes/NDArrayUniqueId') as InstanceType<typeof h5.Dataset>;
    assert.deepEqual(Array.from(ids.value as Int32Array), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual((f.get('entry_2/data/data') as InstanceType<typeof h5.Dataset>).shape, [2, 2, 2], 'other frame sizes: a second entry');
    const u = f.get('entry/values/uniqueId') as InstanceType<typeof h5.Dataset>;
    assert.equal(u.shape?.[0], 7);
  } finally {
    f.close();
  }
  const m = new h5.File(join(dir, 'mixed.h5'), 'r');
  try {
    const w = m.get('entry/values/w') as InstanceType<typeof h5.Dataset>;
    assert.deepEqual(w.shape, [5, 4], 'arrays of one length: an N x L dataset');
    assert.deepEqual(Array.from(w.value as Int16Array).slice(4, 8), [1, -1, 2, 3]);
    const d = m.get('entry/values/d') as InstanceType<typeof h5.Dataset>;
    assert.equal(
      JSON.stringify(d.value),
      JSON.stringify(['[]', '[0]', '[0,"NaN"]', '[0,"NaN",0.6666666666666666]', '[0,"NaN",0.6666666666666666,1]']),
    );
    assert.equal((m.get('entry/values/nested/x') as InstanceType<typeof h5.Dataset>).dtype, '<b');
  } finally {
    m.close();
  }

  // An existing directory of segments is not overwritten.
  const again = await bash(`${S} save "${dir}/frames-dir" < "${frames}"`, env);
  assert.deepEqual(again.status, [1]);
  assert.match(again.stderr, /holds stream segments \(\*\.sls\) already/);
});

test('replay: frames of another HDF5 file with their ids, -n with --loop, pacing at -fps', async (t) => {
  const dir = tempDir(t);
  const h5 = await loadH5wasm();
  const path = join(dir, 'foreign.h5');
  const f = new h5.File(path, 'w');
  f.create_dataset({ name: 'images', data: Uint8Array.from({ length: 24 }, (_, i) => i), shape: [2, 3, 4], dtype: '<B' });
  f.create_dataset({ name: 'uniqueIds', data: Int32Array.from([41, 42]) });
  f.close();
  const r = await bash(`${S} replay --loop -n 5 "${path}"`, env);
  assert.deepEqual(r.status, [0], r.stderr);
  assert.deepEqual(idsIn(r.stdout), [41, 42, 41, 42, 41]);

  // 10 values at 50 per second: value k leaves at start + k/50, so the last no sooner than 180 ms after the first.
  const file = join(dir, 'ids.sls');
  idStream(file, 10);
  const started = performance.now();
  const paced = await bash(`${S} replay -fps 50 "${file}" > "${dir}/out.sls"`, env);
  assert.deepEqual(paced.status, [0], paced.stderr);
  assert.ok(performance.now() - started >= 180);
  assert.deepEqual(
    idsIn(readFileSync(join(dir, 'out.sls'))),
    Array.from({ length: 10 }, (_, i) => i + 1),
  );
});

test('from-csv: to-csv | from-csv round trips, inferred or with --type-from; tables both ways, in CSV and JSON', async (t) => {
  const dir = tempDir(t);
  const lines = [
    '{"x": 1, "name": "a,b", "t": {"s": 5}}',
    '{"x": 2, "name": "say \\"hi\\"", "t": {"s": 6}}',
    '{"x": 2.5, "name": "c", "v": [1, 2]}',
  ];
  writeFileSync(join(dir, 'in.jsonl'), lines.join('\n') + '\n');
  const csv = await bash(`${S} from-json "${dir}/in.jsonl" | ${S} to-csv | tee "${dir}/a.csv" | ${S} from-csv | ${S} to-json`, env);
  assert.deepEqual(csv.status, [0, 0, 0, 0, 0], csv.stderr);
  assert.deepEqual(
    csv.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown),
    lines.map((l) => JSON.parse(l) as unknown),
  );
  assert.match(readFileSync(join(dir, 'a.csv'), 'utf8'), /^x,name,t\.s\n1,"a,b",5\n/);

  // With --type-from: the exact types, so the very bytes (without the note, which CSV does not carry).
  const file = join(dir, 'ids.sls');
  idStream(file, 5);
  const exact = await bash(`${S} to-csv "${file}" | ${S} from-csv --type-from "${file}"`, env);
  assert.deepEqual(exact.status, [0, 0], exact.stderr);
  const e = new StreamEncoder();
  const type = types.struct([['uniqueId', types.int]]);
  const expected = Buffer.concat([e.header(), ...[1, 2, 3, 4, 5].map((i) => e.value(type, { uniqueId: i })), e.end()].flat());
  assert.ok(exact.stdout.equals(expected), 'the stream without its note');

  const table = nttable.type([
    ['id', 'int'],
    ['label', 'string'],
  ]);
  const tv = completeStructure(table, { labels: ['id', 'label'], value: { id: Int32Array.from([7, 8]), label: ['x, y', 'z'] } });
  const te = new StreamEncoder();
  const tfile = join(dir, 'table.sls');
  writeFileSync(tfile, Buffer.concat([te.header(), te.value(table, tv), te.end()].flat()));
  for (const chain of [
    `${S} to-csv "${tfile}" | ${S} from-csv --table`,
    `${S} to-csv "${tfile}" | ${S} from-csv --table --type-from "${tfile}"`,
    `${S} to-json "${tfile}" | ${S} from-json`,
    `${S} to-json --table "${tfile}" | ${S} from-json --table`,
  ]) {
    const r = await bash(chain, env);
    assert.deepEqual(r.status, [0, 0], `${chain}: ${r.stderr}`);
    assert.ok(r.stdout.equals(readFileSync(tfile)), chain);
  }
  const rows = await bash(`${S} to-json --table "${tfile}"`, env);
  assert.equal(rows.stdout.toString(), '{"id":7,"label":"x, y"}\n{"id":8,"label":"z"}\n');
});

test('save, replay, from-csv: wrong input is one line naming the cause, exit status 1', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'text.h5'), 'not hdf5 at all\n');
  writeFileSync(
    join(dir, 'broken.h5'),
    Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]),
  );
  const frames = join(dir, 'frames.sls');
  frameStream(frames, 3);
  const cases: [string, RegExp][] = [
    [`${S} replay "${dir}/text.h5"`, /^sluice replay: .*text\.h5: not a Sluice stream, an HDF5 file, an \.npy file nor a TIFF file$/],
    [`${S} replay "${dir}/broken.h5"`, /^sluice replay: .*broken\.h5: cannot open as HDF5: /],
    [`${S} replay "${dir}/missing.h5"`, /^sluice replay: .*missing\.h5: cannot read: ENOENT/],
    [`head -c 200 "${frames}" | ${S} save "${dir}/cut.h5"`, /^sluice save: stdin: truncated.*; 0 values saved to .*cut\.h5$/],
    [`${S} save "${dir}/no/such/dir/x.h5" < "${frames}"`, /^sluice save: .*x\.h5: cannot create: ENOENT/],
    [`printf 'a,b\\n1,2,3\\n' | ${S} from-csv`, /^sluice from-csv: stdin line 2: 3 cells, the header has 2$/],
    [`printf 'a,b\\n1,"2\\n' | ${S} from-csv`, /^sluice from-csv: stdin line 2: a quoted cell that never ends$/],
    [`printf 'a b,c\\n1,2\\n' | ${S} from-csv`, /^sluice from-csv: stdin line 1: 'a b' is not a column name/],
    [`printf 'uniqueId\\nx\\n' | ${S} from-csv --type-from "${frames}"`, /^sluice from-csv: stdin line 2, column uniqueId: cannot use/],
  ];
  for (const [script, re] of cases) {
    const r = await bash(script, env);
    assert.equal(r.status.at(-1), 1, `${script}: ${r.stderr}`);
    assert.match(r.stderr.trim(), re, script);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${script}: one line`);
  }
});

test('examples/pipeline: straight through, multiple outputs over named pipes, partitions merged', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'frames.sls');
  frameStream(input, 12);
  const examples = fileURLToPath(new URL('../../../examples/pipeline/', import.meta.url));
  // Word-split by the scripts (as SLUICE="npx sluice" is): paths without blanks.
  const withCli = { ...env, SLUICE: `${process.execPath} ${CLI}` };
  const stats =
    ['uniqueId,mean,max', ...Array.from({ length: 12 }, (_, i) => `${i + 1},${(11 * (i + 1)) / 2},${11 * (i + 1)}`)].join('\n') + '\n';

  const one = await bash(`sh "${examples}straight-through.sh" "${input}" "${dir}/a"`, withCli);
  assert.deepEqual(one.status, [0], one.stderr);
  assert.equal(readFileSync(join(dir, 'a', 'stats.csv'), 'utf8'), stats);

  const multi = await bash(`sh "${examples}multiple-outputs.sh" "${input}" "${dir}/b"`, withCli);
  assert.deepEqual(multi.status, [0], multi.stderr);
  assert.equal(readFileSync(join(dir, 'b', 'stats.csv'), 'utf8'), stats);
  const ids = readFileSync(join(dir, 'b', 'ids.jsonl'), 'utf8')
    .trim()
    .split('\n');
  assert.deepEqual(
    ids.map((l) => (JSON.parse(l) as { uniqueId: number }).uniqueId),
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
  const back = await bash(`${S} replay "${dir}/b/frames.h5"`, env);
  assert.ok(back.stdout.equals(readFileSync(input)), 'the saved copy replays as the input');

  const parts = await bash(`sh "${examples}partitions.sh" "${input}" "${dir}/c" 3`, withCli);
  assert.deepEqual(parts.status, [0], parts.stderr);
  assert.match(parts.stderr, /3 partitions merged give the same 12 rows as one pipeline/);
  assert.equal(readFileSync(join(dir, 'c', 'merged.csv'), 'utf8'), stats);
});
