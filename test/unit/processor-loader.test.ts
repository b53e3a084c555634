// Loading user processors: .ts files without a build step, .js/.mjs/.cjs files, module
// specifiers resolved from the working directory, the config merge order, and one clear
// ERR_PROCESSOR message per failure. Fixtures are loaded from the source tree (see their README).
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '../../src/errors.js';
import { AdImageProcessor } from '../../src/processing/ad-image-processor.js';
import { loadProcessor, processorConfig, sluiceResolvesFrom } from '../../src/processing/loader.js';
import { adaptProcessor, ProcessorAdapter } from '../../src/processing/processor-adapter.js';
import type { ProcessorContext } from '../../src/processing/processor-context.js';
import { UserDataProcessor, type ProcessorLogger } from '../../src/processing/user-data-processor.js';
import type { PVStructure } from '../../src/pvdata/values.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(root, 'test', 'fixtures', 'processors');
const fx = (name: string) => join(fixtures, name);

/** Assert an ERR_PROCESSOR whose message matches every pattern. */
async function rejectsWith(p: Promise<unknown>, ...patterns: RegExp[]): Promise<SluiceError> {
  const e = await p.then(
    () => assert.fail('expected the load to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof SluiceError, `not a SluiceError: ${String(e)}`);
  assert.equal(e.code, 'ERR_PROCESSOR');
  for (const re of patterns) assert.match(e.message, re);
  return e;
}

test('no file and no class: the passthrough UserDataProcessor', async () => {
  const p = await loadProcessor({ system: { processorId: 4 } });
  assert.ok(p instanceof UserDataProcessor);
  assert.equal(p.constructor, UserDataProcessor);
  assert.equal(p.processorId, 4);
  const published: PVStructure[] = [];
  p.publisher = (v) => published.push(v);
  p.process({ uniqueId: 1 });
  assert.deepEqual(published, [{ uniqueId: 1 }]);
});

test('a .ts file is transpiled on load; its only class is used; .js imports find .ts siblings', async () => {
  const p = await loadProcessor({ file: fx('doubling-processor.ts'), args: { factor: 3 } });
  assert.equal(p.constructor.name, 'DoublingProcessor');
  // `sluice` inside the package is this very build: same classes as the framework's.
  assert.ok(p instanceof UserDataProcessor);
  const out = p.process({ value: new Float64Array([1, 2]) }) as PVStructure;
  assert.deepEqual([...(out['value'] as Float64Array)], [3, 6]);
});

test('a .ts file with a class name, relative to cwd', async () => {
  const p = await loadProcessor({ file: 'doubling-processor.ts', className: 'DoublingProcessor', cwd: fixtures });
  assert.equal(p.constructor.name, 'DoublingProcessor');
});

test('default export: without a class name, and with the default class named', async () => {
  const a = await loadProcessor({ file: fx('default-export.ts') });
  assert.equal(a.constructor.name, 'DefaultProcessor');
  const b = await loadProcessor({ file: fx('default-export.ts'), className: 'DefaultProcessor' });
  assert.equal(b.constructor.name, 'DefaultProcessor');
});

test('a JavaScript class that does not extend UserDataProcessor is loaded as it is and runs from its context', async () => {
  const p = await loadProcessor({ file: fx('plain.js'), className: 'PlainProcessor', system: { processorId: 7 } });
  assert.equal(p.constructor.name, 'PlainProcessor');
  assert.deepEqual(Object.keys(p).sort(), ['config', 'seen'], 'the loader added nothing');
  assert.deepEqual(Object.getOwnPropertyNames(Object.getPrototypeOf(p)).sort(), ['constructor', 'process', 'start']);
  const adapted = adaptProcessor(p);
  assert.ok(adapted instanceof ProcessorAdapter);
  assert.deepEqual(adapted.getStats(), {});
  assert.deepEqual(adapted.getStatsTypes(), {});
  const logs: string[] = [];
  const published: PVStructure[] = [];
  const logger: ProcessorLogger = { debug() {}, info: (m) => logs.push(m), warn() {}, error() {} };
  await adapted.start({ logger, publish: (v: PVStructure) => void published.push(v) } as unknown as ProcessorContext);
  adapted.process({ uniqueId: 5 });
  assert.deepEqual(published, [{ uniqueId: 5 }]);
  assert.deepEqual(logs, ['object 5']);
  assert.deepEqual(Object.keys(p).sort(), ['config', 'seen']);
  assert.equal((p as unknown as { seen: number }).seen, 1);
});

test('a UserDataProcessor is its own adapter', async () => {
  const p = await loadProcessor({ file: fx('doubling-processor.ts') });
  assert.equal(adaptProcessor(p), p);
});

test('.mjs importing the package by name, and .cjs with module.exports = class', async () => {
  const m = await loadProcessor({ file: fx('image-processor.mjs') });
  assert.ok(m instanceof AdImageProcessor);
  const c = await loadProcessor({ file: fx('commonjs.cjs'), className: 'CjsProcessor' });
  assert.equal(c.constructor.name, 'CjsProcessor');
});

test('module specifier form: ./relative.js:Class, package:Class, built-in names', async () => {
  const rel = await loadProcessor({ className: './test/fixtures/processors/plain.js:PlainProcessor', cwd: root });
  assert.equal(rel.constructor.name, 'PlainProcessor');
  const pkg = await loadProcessor({ className: 'sluice:AdImageProcessor', cwd: root });
  assert.ok(pkg instanceof AdImageProcessor);
  const named = await loadProcessor({ className: 'AdImageProcessor' });
  assert.equal(named.constructor, AdImageProcessor);
  await rejectsWith(loadProcessor({ className: 'NoSuchProcessor' }), /'NoSuchProcessor' is not a built-in processor/, /UserDataProcessor/);
});

test('config: processor args first, system keys override them, undefined system keys do not', async () => {
  const p = await loadProcessor({
    file: fx('default-export.ts'),
    args: '{"x": 1, "processorId": 99, "objectIdOffset": 5, "inputChannel": "mine"}',
    system: { processorId: 2, objectIdOffset: 1, inputChannel: undefined, outputChannel: 'out' },
  });
  assert.ok(p instanceof UserDataProcessor);
  assert.deepEqual(p.config, { x: 1, processorId: 2, objectIdOffset: 1, inputChannel: 'mine', outputChannel: 'out' });
  assert.equal(p.processorId, 2);
  assert.deepEqual(processorConfig(null), {});
  assert.throws(() => processorConfig('{"x":'), /not valid JSON/);
  assert.throws(() => processorConfig('[1]'), /must be a JSON object/);
});

test('errors: file not found, unsupported extension, class not exported, ambiguous classes', async () => {
  await rejectsWith(loadProcessor({ file: 'missing.ts', cwd: fixtures }), /processor file 'missing.ts' not found/);
  await rejectsWith(loadProcessor({ file: fx('README.md') }), /unsupported extension/, /\.ts, \.mts/);
  await rejectsWith(
    loadProcessor({ file: fx('default-export.ts'), className: 'Nope' }),
    /does not export 'Nope'/,
    /it exports: default, label|it exports: label, default/,
  );
  await rejectsWith(loadProcessor({ file: fx('multi.ts') }), /several classes \(FirstProcessor, SecondProcessor\)/);
  const second = await loadProcessor({ file: fx('multi.ts'), className: 'SecondProcessor' });
  assert.equal(second.constructor.name, 'SecondProcessor');
});

test('errors: syntax errors in .ts and .js name the file and line', async () => {
  await rejectsWith(
    loadProcessor({ file: fx('syntax-error.mts') }),
    /'.*syntax-error\.mts' does not compile/,
    /syntax-error\.mts:6:\d+: Expression expected/,
  );
  await rejectsWith(loadProcessor({ file: fx('syntax-error.js') }), /has a syntax error/, /syntax-error\.js:4:\d+/);
});

test('errors: not a class, constructor throws, no process()', async () => {
  await rejectsWith(
    loadProcessor({ file: fx('not-a-class.ts'), className: 'NotAClass' }),
    /'NotAClass' exported by .* is not a class \(it is a number\)/,
  );
  await rejectsWith(loadProcessor({ file: fx('not-a-class.ts'), className: 'arrowFunction' }), /cannot be called with new/);
  await rejectsWith(loadProcessor({ file: fx('not-a-class.ts') }), /'default' exported by .* is not a class \(it is an object\)/);
  const e = await rejectsWith(
    loadProcessor({ file: fx('throws-in-constructor.ts') }),
    /constructing 'ThrowsInConstructor' from processor file '.*throws-in-constructor\.ts' failed: refusing to start/,
  );
  assert.ok(e.cause instanceof Error);
  const ok = await loadProcessor({ file: fx('throws-in-constructor.ts'), args: { allowed: true } });
  assert.equal(ok.constructor.name, 'ThrowsInConstructor');
  await rejectsWith(loadProcessor({ file: fx('no-process.ts') }), /'NoProcess' from .* has no process\(\) method/);
  const bad = await loadProcessor({ file: fx('throws-in-process.ts') });
  assert.throws(() => bad.process({ uniqueId: 3 }), /cannot process object 3/);
});

// Files outside the package: `sluice` must still resolve (to the running build), a package in a
// node_modules next to the working directory must resolve by its ESM exports.
let outside = '';
before(async () => {
  outside = await mkdtemp(join(tmpdir(), 'sluice-proc-'));
  await writeFile(join(outside, 'util.ts'), 'export const twice = (n: number): number => 2 * n;\n');
  await writeFile(
    join(outside, 'outside.ts'),
    [
      "import { AdImageProcessor, type PVStructure } from 'sluice';",
      "import { twice } from './util.js';",
      'export class OutsideProcessor extends AdImageProcessor {',
      '  override process(v: PVStructure): number { return twice(v["uniqueId"] as number); }',
      '}',
    ].join('\n'),
  );
  const pkg = join(outside, 'node_modules', 'esm-only-proc');
  await mkdir(join(pkg, 'lib'), { recursive: true });
  await writeFile(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'esm-only-proc', type: 'module', exports: { './filters': { import: './lib/filters.js' } } }),
  );
  await writeFile(join(pkg, 'lib', 'filters.js'), 'export class Filter { process(v) { return v; } }\n');
});
after(async () => {
  await rm(outside, { recursive: true, force: true });
});

test('a .ts file outside the package imports sluice and its .ts sibling', async () => {
  const p = await loadProcessor({ file: 'outside.ts', cwd: outside });
  assert.ok(p instanceof AdImageProcessor);
  assert.equal(p.process({ uniqueId: 21 }), 42);
});

test('a package specifier resolves from the working directory with ESM exports', async () => {
  const p = await loadProcessor({ className: 'esm-only-proc/filters:Filter', cwd: outside });
  assert.equal(p.constructor.name, 'Filter');
  await rejectsWith(
    loadProcessor({ className: 'esm-only-proc/nothing:Filter', cwd: outside }),
    /processor module 'esm-only-proc\/nothing' cannot be resolved/,
  );
  await rejectsWith(
    loadProcessor({ className: 'no-such-package:X', cwd: outside }),
    /processor module 'no-such-package' cannot be resolved/,
  );
});

test('a JavaScript processor loads without the module hooks only where Node itself finds `sluice`', async () => {
  // Inside Sluice's package (it imports itself by name), under a node_modules/sluice, or neither.
  assert.equal(await sluiceResolvesFrom(join(root, 'bench', 'pipeline-cpu.mjs')), true);
  const where = await mkdtemp(join(tmpdir(), 'sluice-resolves-'));
  try {
    const file = join(where, 'app', 'src', 'proc.mjs');
    await mkdir(join(where, 'app', 'src'), { recursive: true });
    assert.equal(await sluiceResolvesFrom(file), false);
    await writeFile(join(where, 'app', 'package.json'), JSON.stringify({ name: 'sluice', version: '0.0.0' }));
    assert.equal(await sluiceResolvesFrom(file), false, 'a package named sluice without exports cannot import itself');
    await writeFile(join(where, 'app', 'package.json'), JSON.stringify({ name: 'app', exports: './x.js' }));
    assert.equal(await sluiceResolvesFrom(file), false);
    await mkdir(join(where, 'node_modules', 'sluice'), { recursive: true });
    await writeFile(join(where, 'node_modules', 'sluice', 'package.json'), '{}');
    assert.equal(await sluiceResolvesFrom(file), true, 'node_modules above the package count too');
  } finally {
    await rm(where, { recursive: true, force: true });
  }
});
