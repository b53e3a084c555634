// Raw binary frames and their config (PvaPy's `-cfg` keys: file_info with datatype, width,
// height, header_offset, endian, between_frames, n_images, ordered_files), in YAML and JSON.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openRaw, rawConfigOf, readRawConfig } from '../../src/formats/raw.js';
import { bytesOf } from '../helpers/image-files.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-raw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('raw: a YAML config with PvaPy keys; header, gaps between frames, big-endian data', async (t) => {
  const dir = tempDir(t);
  const cfgPath = join(dir, 'raw.yaml');
  writeFileSync(
    cfgPath,
    [
      '# as pvapy-ad-sim-server reads it',
      'file_info:',
      '  datatype: uint16',
      '  width: 5',
      '  height: 4',
      '  header_offset: 16',
      "  endian: '>'",
      '  between_frames: 6',
      '',
    ].join('\n'),
  );
  const cfg = await readRawConfig(cfgPath);
  assert.deepEqual(
    { ...cfg, source: undefined },
    {
      source: undefined,
      datatype: 'uint16',
      littleEndian: false,
      width: 5,
      height: 4,
      headerOffset: 16,
      betweenFrames: 6,
      nImages: undefined,
      orderedFiles: undefined,
    },
  );
  const frames = [0, 1, 2].map((k) => Uint16Array.from({ length: 20 }, (_, i) => k * 1000 + i * 3));
  const parts: Uint8Array[] = [new Uint8Array(16).fill(0xee)];
  frames.forEach((f, k) => parts.push(bytesOf(f, false), ...(k < 2 ? [new Uint8Array(6).fill(0xaa)] : [])));
  const data = join(dir, 'frames.bin');
  writeFileSync(data, Buffer.concat(parts));
  const f = await openRaw(data, cfg);
  assert.equal(f.format, 'raw');
  assert.deepEqual(f.layout, { dtype: 'uint16', dims: [5, 4], colorMode: 0 });
  assert.equal(f.frames, 3);
  for (let k = 0; k < 3; k++) assert.deepEqual([...(await f.read(k))], [...frames[k]!]);
  await f.close();

  // A trailing gap after the last frame is fine; anything else that is not whole frames is not.
  writeFileSync(data, Buffer.concat([...parts, new Uint8Array(6)]));
  assert.equal((await openRaw(data, cfg)).frames, 3);
  writeFileSync(data, Buffer.concat([...parts, new Uint8Array(5)]));
  await assert.rejects(
    openRaw(data, cfg),
    /frames\.bin: size mismatch: 153 bytes are not a whole number of 5x4 uint16 frames \(40 bytes each, 6 between, after a header of 16/,
  );
  // n_images: the file must hold that many, more is allowed.
  const three = rawConfigOf(
    { file_info: { datatype: '>u2', width: 5, height: 4, header_offset: 16, between_frames: 6, n_images: 2 } },
    cfgPath,
  );
  writeFileSync(data, Buffer.concat(parts));
  assert.equal((await openRaw(data, three)).frames, 2);
  const four = rawConfigOf(
    { file_info: { datatype: 'uint16', endian: 'big', width: 5, height: 4, header_offset: 16, between_frames: 6, n_images: 4 } },
    cfgPath,
  );
  await assert.rejects(openRaw(data, four), /truncated: 4 5x4 uint16 frames .* need 194 bytes, the file has 148/);
});

test('raw: JSON configs, top-level keys, NumPy type codes, colour frames, ordered_files relative to the config', async (t) => {
  const dir = tempDir(t);
  const cfgPath = join(dir, 'raw.json');
  writeFileSync(cfgPath, JSON.stringify({ datatype: '<f4', width: 3, height: 2, ordered_files: ['b.raw', 'sub/a.raw'] }));
  const cfg = await readRawConfig(cfgPath);
  assert.equal(cfg.datatype, 'float32');
  assert.equal(cfg.littleEndian, true);
  assert.deepEqual(cfg.orderedFiles, [join(dir, 'b.raw'), join(dir, 'sub/a.raw')]);
  for (const [code, dtype] of [
    ['H', 'uint16'],
    ['b', 'int8'],
    ['d', 'float64'],
    ['uint64', 'uint64'],
    ['i8', 'int64'],
    ['|u1', 'uint8'],
  ]) {
    assert.equal(rawConfigOf({ datatype: code, width: 1, height: 1 }, cfgPath).datatype, dtype, code);
  }
  const rgb = Uint8Array.from({ length: 2 * 3 * 2 * 3 }, (_, i) => i);
  const data = join(dir, 'rgb.raw');
  writeFileSync(data, rgb);
  const f = await openRaw(data, rawConfigOf({ datatype: 'uint8', width: 3, height: 2 }, cfgPath), 4);
  assert.deepEqual(f.layout, { dtype: 'uint8', dims: [3, 2, 3], colorMode: 4 });
  assert.equal(f.frames, 2);
  assert.deepEqual([...(await f.read(1))], [...rgb.subarray(18)]);
  await f.close();
});

test('raw: config mistakes and hostile sizes are clear errors naming the config', async (t) => {
  const dir = tempDir(t);
  const cfgPath = join(dir, 'c.yaml');
  const bad: [unknown, RegExp][] = [
    [{ file_info: { datatype: 'uint16', width: 4 } }, /file_info\.height is missing/],
    [{ file_info: { datatype: 'uint16', width: 4, hieght: 4 } }, /unknown key 'file_info\.hieght' \(known: datatype, width, height/],
    [{ file_info: { datatype: 'complex64', width: 4, height: 4 } }, /datatype 'complex64' is not one of/],
    [{ file_info: { datatype: 'uint16', width: -4, height: 4 } }, /width must be an integer >= 1, not -4/],
    [{ file_info: { datatype: 'uint16', width: 4, height: 4, endian: 'middle' } }, /endian must be '<' \(little\) or '>' \(big\)/],
    [{ file_info: { datatype: '<u2', width: 4, height: 4, endian: 'big' } }, /datatype '<u2' and endian 'big' disagree/],
    [{ file_info: { datatype: 'uint16', width: 4, height: 4, ordered_files: 'a.raw' } }, /ordered_files must be a list/],
    [[1, 2], /must be a mapping/],
  ];
  for (const [doc, re] of bad)
    assert.throws(
      () => rawConfigOf(doc, cfgPath),
      (err: Error & { code?: string }) => (assert.equal(err.code, 'ERR_FILE'), assert.match(err.message, re), true),
    );
  writeFileSync(cfgPath, 'file_info: [unclosed');
  await assert.rejects(readRawConfig(cfgPath), /c\.yaml: not valid YAML or JSON/);
  await assert.rejects(readRawConfig(join(dir, 'none.yaml')), /none\.yaml: no such file/);

  // 100000 x 100000 uint16 frames against a file of 10 bytes: refused by size, nothing read.
  const data = join(dir, 'small.raw');
  writeFileSync(data, new Uint8Array(10));
  await assert.rejects(
    openRaw(data, rawConfigOf({ datatype: 'uint16', width: 40000, height: 40000 }, cfgPath)),
    /size mismatch: 10 bytes are not a whole number/,
  );
  await assert.rejects(
    openRaw(data, rawConfigOf({ datatype: 'uint16', width: 100000, height: 100000 }, cfgPath)),
    /more than 2\^31 - 1 elements/,
  );
  await assert.rejects(
    openRaw(data, rawConfigOf({ datatype: 'uint8', width: 2, height: 2, header_offset: 100 }, cfgPath)),
    /size mismatch/,
  );
});
