// The package's two entries: `sluice` (the public API) leaves the wire layer out, `sluice/internal`
// has it; both resolve through package.json "exports" (the package's self-reference) to the
// built files, and a processor file outside the package gets both from the running Sluice.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as publicEntry from '../../src/index.js';
import * as internalEntry from '../../src/internal.js';
import { loadProcessor } from '../../src/processing/loader.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The wire layer: only tools, tests and benchmarks need it. */
const WIRE = [
  'ByteReader',
  'ByteWriter',
  'TypeCache',
  'encodeType',
  'decodeType',
  'encodeValue',
  'decodeValue',
  'encodePartial',
  'decodePartial',
  'encodeBitSet',
  'decodeBitSet',
  'Framer',
  'MessageWriter',
  'CaFramer',
  'encodeDbr',
  'decodeDbr',
];

/** What an application needs, by kind: values, protocols, PV hub, processors, systems, access, errors. */
const PUBLIC = [
  't',
  'BitSet',
  'ntndarray',
  'ntscalar',
  'parsePVRequest',
  'pvRequest',
  'SharedPV',
  'CaClient',
  'CaServer',
  'CaSubscription',
  'UserDataProcessor',
  'AdImageProcessor',
  'BUILTIN_PROCESSORS',
  'DataConsumer',
  'DataCollector',
  'MirrorServer',
  'AdSimServer',
  'openFileFrames',
  'AccessPolicy',
  'SluiceError',
];

test('the public entry has what applications need and none of the wire layer', () => {
  const names = new Set(Object.keys(publicEntry));
  assert.deepEqual(
    WIRE.filter((n) => names.has(n)),
    [],
  );
  assert.deepEqual(
    PUBLIC.filter((n) => !names.has(n)),
    [],
  );
});

test('sluice/internal has the wire layer, and only it', () => {
  const names = new Set(Object.keys(internalEntry));
  assert.deepEqual(
    WIRE.filter((n) => !names.has(n)),
    [],
  );
  const both = Object.keys(internalEntry).filter((n) => n in publicEntry);
  assert.deepEqual(both, [], 'names in both entries');
  // Its codec works on its own: a value written with it reads back.
  const { ByteReader, ByteWriter, TypeCache, encodeType, decodeType } = internalEntry;
  const w = new ByteWriter(true);
  const type = publicEntry.t.struct({ value: publicEntry.t.double });
  encodeType(w, type);
  const back = decodeType(new ByteReader(Buffer.concat(w.take()), true), new TypeCache());
  assert.ok(back && publicEntry.sameType(back, type));
});

test('package.json "exports" names both entries, and each resolves to its built file', async () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, { types: string; default: string }>;
  };
  assert.deepEqual(Object.keys(pkg.exports), ['.', './internal']);
  for (const [entry, { types, default: js }] of Object.entries(pkg.exports)) {
    assert.ok(existsSync(join(root, types)), `${entry}: ${types}`);
    assert.ok(existsSync(join(root, js)), `${entry}: ${js}`);
  }
  // The self-reference goes through "exports": the same module instances as the paths above.
  assert.equal(await import(pkg.name), publicEntry);
  assert.equal(await import(`${pkg.name}/internal`), internalEntry);
  await assert.rejects(import(`${pkg.name}/dist/src/pvdata/wire.js`), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});

test('a processor file outside the package imports sluice and sluice/internal from the running Sluice', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-entries-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'sized.ts'),
    [
      "import { UserDataProcessor, type PVStructure } from 'sluice';",
      "import { ByteWriter, encodeValue } from 'sluice/internal';",
      "import { t } from 'sluice';",
      'export class SizedProcessor extends UserDataProcessor {',
      '  override process(v: PVStructure): number {',
      '    const w = new ByteWriter(true);',
      '    encodeValue(w, t.struct({ uniqueId: t.int }), v);',
      '    return w.take().reduce((n, b) => n + b.length, 0);',
      '  }',
      '}',
    ].join('\n'),
  );
  const p = await loadProcessor({ file: 'sized.ts', cwd: dir });
  assert.ok(p instanceof publicEntry.UserDataProcessor);
  assert.equal(p.process({ uniqueId: 7 }), 4);
});
