// The floors of docs/architecture.md: every import in src goes to a lower floor, or within its
// own folder, or along one of the few same-floor paths listed here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

const FLOORS: Record<string, number> = {
  'errors.ts': -1,
  'version.ts': -1,
  pvdata: 0,
  pv: 1,
  access: 1,
  net: 1,
  pva: 2,
  ca: 2,
  formats: 3,
  processing: 3,
  runtime: 3,
  rpc: 3,
  consumer: 4,
  collector: 4,
  mirror: 4,
  sim: 4,
  streams: 4,
  pipeline: 4,
  channels: 4,
  dashboard: 4,
  cli: 5,
  'index.ts': 5,
  'internal.ts': 5,
};

/** Same-floor imports that are part of the design (the user's processor contract reads files). */
const SIDEWAYS = new Set(['processing->formats', 'runtime->processing', 'runtime->formats']);

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* files(join(dir, e.name));
    else if (e.name.endsWith('.ts')) yield join(dir, e.name);
  }
}

const topOf = (path: string): string => relative(SRC, path).split('/')[0] as string;

test('every import in src goes down the floors of docs/architecture.md', () => {
  const wrong: string[] = [];
  for (const file of files(SRC)) {
    const from = topOf(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = normalize(join(dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
      const to = topOf(target);
      if (to === from) continue;
      const a = FLOORS[from];
      const b = FLOORS[to];
      assert.ok(a !== undefined && b !== undefined, `${relative(SRC, file)}: folder ${a === undefined ? from : to} has no floor`);
      if (b < a || SIDEWAYS.has(`${from}->${to}`)) continue;
      wrong.push(`${relative(SRC, file)} imports ${m[1]} (${from}, floor ${a} -> ${to}, floor ${b})`);
    }
  }
  assert.deepEqual(wrong, []);
});
