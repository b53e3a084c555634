// Every error code is documented in docs/errors.md, and the doc lists no code that does not exist.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, SluiceError } from '../../src/errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

test('docs/errors.md lists exactly the codes of src/errors.ts', () => {
  const documented = [...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...documented].sort(), [...ERROR_CODES].sort());
});

test('errors carry their code and cause', () => {
  const cause = new Error('inner');
  const e = new SluiceError('ERR_TIMEOUT', 'outer', { cause });
  assert.equal(e.code, 'ERR_TIMEOUT');
  assert.equal(e.cause, cause);
  assert.ok(e instanceof Error);
});
