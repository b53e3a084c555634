// What a processor ported from PvaPy meets: PvaPy's class paths for the built-in processors
// (--processor-class pvapy.hpc.adImageProcessor.AdImageProcessor), and PvaPy's method names on
// UserDataProcessor and AdImageProcessor, overridable and callable.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeLogger } from '../../src/runtime/logger.js';
import { SluiceError } from '../../src/errors.js';
import * as sluice from '../../src/index.js';
import { AdImageProcessor } from '../../src/processing/ad-image-processor.js';
import { loadProcessor } from '../../src/processing/loader.js';
import { adaptProcessor } from '../../src/processing/processor-adapter.js';
import { UserDataProcessor } from '../../src/processing/user-data-processor.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import { formatType, t } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';

async function rejectsWith(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  const e = await p.then(
    () => assert.fail('expected the load to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof SluiceError && e.code === 'ERR_PROCESSOR', String(e));
  for (const re of patterns) assert.match(e.message, re);
}

test("PvaPy's class paths of its built-in processors load Sluice's", async () => {
  const names = [
    'UserDataProcessor',
    'AdImageProcessor',
    'AdOutputFileProcessor',
    'Hdf5AdImageWriter',
    'DataEncryptor',
    'AdImageDataEncryptor',
    'DataDecryptor',
    'AdImageDataDecryptor',
  ];
  for (const name of names) {
    const path = `pvapy.hpc.${name[0]!.toLowerCase()}${name.slice(1)}.${name}`;
    // The crypto processors need a key: their construction may fail, but on our class.
    const p = await loadProcessor({ className: path }).catch((e: Error) => e);
    if (p instanceof Error) assert.match(p.message, new RegExp(`constructing '${name}' from sluice`), `${path}: ${p.message}`);
    else assert.equal(p.constructor, (sluice as Record<string, unknown>)[name], path);
  }
});

test('other PvaPy and Python class paths: errors that say what to do', async () => {
  await rejectsWith(
    loadProcessor({ className: 'pvapy.hpc.userMpDataProcessor.UserMpDataProcessor' }),
    /not one of the PvaPy processors Sluice has built in/,
    /pvapy\.hpc\.adImageProcessor\.AdImageProcessor/,
  );
  await rejectsWith(loadProcessor({ className: 'pvapy.hpc.adImage.AdImageProcessor' }), /not one of the PvaPy processors/);
  await rejectsWith(loadProcessor({ className: 'mylab.rotate.RotateProcessor' }), /looks like a Python class path/, /--processor-file/);
});

test("PvaPy's method names: overriding them is what the framework sees", () => {
  class Stats extends UserDataProcessor {
    override getStatsPvaTypes() {
      return { nProcessed: 'uint' as const };
    }
    override getInputPvObjectType() {
      return t.struct({ x: t.int });
    }
  }
  const s = new Stats();
  assert.deepEqual(s.getStatsTypes(), { nProcessed: 'uint' });
  assert.equal(formatType(s.getInputType()!), formatType(t.struct({ x: t.int })));

  const first: PVStructure = { a: 1 };
  const inputType = t.struct({ a: t.int });
  assert.equal(new UserDataProcessor().getOutputType(first, inputType), inputType, 'default: the input type');
  const declared = t.struct({ b: t.double });
  class Typed extends UserDataProcessor {
    override getOutputPvObjectType() {
      return declared;
    }
  }
  assert.equal(new Typed().getOutputType(first, inputType), declared);
  class Template extends UserDataProcessor {
    override getOutputPvObjectType() {
      return { name: 'x', count: 2.5 };
    }
  }
  assert.equal(formatType(new Template().getOutputType(first, inputType)!), formatType(t.struct({ name: t.string, count: t.double })));
  class NoOutput extends UserDataProcessor {
    override getOutputPvObjectType() {
      return null;
    }
  }
  assert.equal(new NoOutput().getOutputType(first, inputType), null);
  const p = new UserDataProcessor();
  assert.equal(p.pvaServer, null);
  assert.equal(
    formatType(new AdImageProcessor().getInputType()!),
    formatType(ntndarray.type()),
    'AdImageProcessor hosts NTNDArray in pvas mode',
  );
});

test('a plain JavaScript class with PvaPy method names gets them called', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-pvapy-'));
  try {
    const file = join(dir, 'py-style.mjs');
    await writeFile(file, 'export class PyStyle { process(v) { return v; } getStatsPvaTypes() { return { nFrames: "uint" }; } }\n');
    const p = adaptProcessor(await loadProcessor({ file }));
    assert.deepEqual(p.getStatsTypes(), { nFrames: 'uint' });
    assert.equal(p.getInputType(), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("AdImageProcessor: PvaPy's reshapeNtNdArray, getNtNdArrayDataFieldKey, generateNtNdArray2D, replaceNtNdArrayImage2D", () => {
  const p = new AdImageProcessor();
  const pixels = Uint16Array.from({ length: 6 }, (_, i) => i);
  const frame = p.generateNtNdArray2D(7, pixels, 3, 2, undefined, null, { tileIndexX: 1 });
  const nd = ntndarray.read(frame);
  assert.equal(nd.uniqueId, 7);
  assert.deepEqual(nd.dims, [3, 2]);
  assert.equal(nd.data, pixels, 'not copied');
  assert.equal(frame['tileIndexX'], 1);
  assert.deepEqual(p.reshapeNtNdArray(frame), [7, pixels, 3, 2, null, ColorMode.Mono, 'ushortValue']);
  assert.equal(p.getNtNdArrayDataFieldKey(new Float32Array(1)), 'floatValue');
  assert.deepEqual(p.reshapeNtNdArray(ntndarray.build({ data: new Uint8Array(0), dims: [], uniqueId: 0 })), [
    0,
    null,
    null,
    null,
    null,
    null,
    null,
  ]);

  const rgb = ntndarray.build({ data: new Uint8Array(12), dims: [3, 2, 2], uniqueId: 3, colorMode: ColorMode.RGB1 });
  assert.deepEqual(p.reshapeNtNdArray(rgb).slice(2), [2, 2, 3, ColorMode.RGB1, 'ubyteValue']);

  // Same size: the dimensions stay; { data, nx, ny }: new ones (a transposed image).
  const same = p.replaceNtNdArrayImage2D(
    frame,
    8,
    pixels.map((v) => v * 2),
  );
  assert.equal(same['uniqueId'], 8);
  assert.deepEqual(ntndarray.read(same).dims, [3, 2]);
  assert.deepEqual([...(ntndarray.read(same).data as Uint16Array)], [0, 2, 4, 6, 8, 10]);
  assert.equal(frame['uniqueId'], 7, 'the input is left alone');
  const transposed = p.replaceNtNdArrayImage2D(frame, 9, { data: pixels, nx: 2, ny: 3 }, { tileIndexX: 2 });
  assert.deepEqual(ntndarray.read(transposed).dims, [2, 3]);
  assert.equal(transposed['tileIndexX'], 2);
  assert.throws(() => p.replaceNtNdArrayImage2D(frame, 9, new Uint16Array(5)), /need 6 elements/);
  assert.throws(() => p.generateNtNdArray2D(1, pixels), /give nx and ny/);
  assert.throws(() => p.generateNtNdArray2D(1, pixels, 3, 2, 'uint16', 'lz4'), /compressed images \(lz4\) are not supported/);
});

test("the framework's loggers have Python logging's warning() and critical()", async () => {
  const p = new UserDataProcessor();
  p.logger.warning?.('silent until the framework sets a logger');
  assert.equal(typeof p.logger.warning, 'function');
  const dir = await mkdtemp(join(tmpdir(), 'sluice-log-'));
  try {
    const file = join(dir, 'log.txt');
    const logger = makeLogger('consumer-1', 'warning', file);
    logger.info('not shown');
    logger.warning?.('low on disk');
    logger.critical?.('out of disk');
    const text = await readFile(file, 'utf8');
    assert.match(text, /consumer-1 WARNING: low on disk\n/);
    assert.match(text, /consumer-1 CRITICAL: out of disk\n/);
    assert.doesNotMatch(text, /not shown/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
