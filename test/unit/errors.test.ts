// Every error code is documented in docs/errors.md, and the doc lists no code that does not exist;
// every code is made somewhere in src, and no error is made without one unless a comment says why.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { sep } from 'node:path';
import { test } from 'node:test';
import { jsonOption } from '../../src/cli/framework-options.js';
import { parseReportGroups } from '../../src/runtime/report-lines.js';
import { ERROR_CODES, SluiceError } from '../../src/errors.js';
import { parsePyLiteral } from '../../src/formats/npy.js';

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

// ---- every code is produced somewhere, and nothing is thrown without one -------------------------

const srcDir = new URL('../../../src/', import.meta.url);
const sources = (readdirSync(srcDir, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f.split(sep).join('/'), text: readFileSync(new URL(f.split(sep).join('/'), srcDir), 'utf8') }));

/** Error classes whose constructor fixes the code (`class DecodeError … super('ERR_DECODE'`). */
function fixedCodeClasses(): Map<string, string> {
  const classes = new Map<string, string>();
  for (const { text } of sources) {
    for (const chunk of text.split(/^(?=(?:export )?class )/m)) {
      const m = /^(?:export )?class (\w+) extends \w+[\s\S]*?super\(\s*'(ERR_[A-Z_]+)'/.exec(chunk);
      if (m) classes.set(m[1] as string, m[2] as string);
    }
  }
  return classes;
}

test('every code of ERROR_CODES is constructed somewhere in src besides errors.ts', () => {
  const classes = fixedCodeClasses();
  const produced = new Map<string, string[]>();
  const note = (code: string, file: string) => produced.set(code, [...(produced.get(code) ?? []), file]);
  for (const { file, text } of sources) {
    if (file === 'errors.ts') continue;
    for (const m of text.matchAll(/new (\w+)\(\s*'(ERR_[A-Z_]+)'/g)) note(m[2] as string, file);
    for (const m of text.matchAll(/new (\w+)\(/g)) {
      const code = classes.get(m[1] as string);
      if (code) note(code, file);
    }
  }
  const missing = ERROR_CODES.filter((c) => !produced.has(c));
  assert.deepEqual(missing, [], `codes never constructed: ${missing.join(', ')}`);
  for (const code of produced.keys()) assert.ok((ERROR_CODES as readonly string[]).includes(code), `${code} is not in ERROR_CODES`);
});

test("no plain Error is made in src unless a '// plain Error:' comment says why", () => {
  const bare: string[] = [];
  for (const { file, text } of sources) {
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (!/new (?:Range|Type|Syntax|Reference)?Error\(/.test(line)) return;
      if (/\/\/ plain Error:/.test(line) || /\/\/ plain Error:/.test(lines[i - 1] ?? '')) return;
      bare.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(bare, []);
});

test('errors made by the replaced sites carry their codes', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as SluiceError).code;
    }
    return 'no error';
  };
  assert.equal(
    code(() => parseReportGroups('receiver,bogus')),
    'ERR_USAGE',
  );
  assert.equal(
    code(() => parsePyLiteral("{'a': 1")),
    'ERR_FILE',
  );
  assert.equal(
    code(() => jsonOption('[1]', 'input-args')),
    'ERR_USAGE',
  );
  assert.throws(() => jsonOption('[1]', 'input-args'), /--input-args is not a JSON dictionary: not a JSON object/);
  assert.throws(() => jsonOption('{', 'input-args'), /--input-args is not a JSON dictionary: /);
});
