// The pvget printer of the CLI: numbers as C++ streams print them, strings quoted as pvData
// quotes them, arrays in full or cut by -#, pvget's spacing of the NT form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatArray, formatG, formatNT, formatRaw, maybeQuote } from '../../src/cli/format.js';
import { ntscalar, nttable } from '../../src/pvdata/nt/index.js';

test('formatG prints as printf %g with 6 digits, like pvget', () => {
  const cases: [number, string][] = [
    [1.5, '1.5'],
    [0, '0'],
    [-0, '-0'],
    [100000, '100000'],
    [1000000, '1e+06'],
    [123456789, '1.23457e+08'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1 / 3, '0.333333'],
    [-2.5e-300, '-2.5e-300'],
    [1e100, '1e+100'],
    [0.1, '0.1'],
    [999999.5, '1e+06'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ];
  for (const [v, s] of cases) assert.equal(formatG(v), s, String(v));
});

test('strings are quoted and escaped only when pvData would', () => {
  assert.equal(maybeQuote('plain'), 'plain');
  assert.equal(maybeQuote(''), '');
  assert.equal(maybeQuote('a b'), '"a b"');
  assert.equal(maybeQuote('say "hi"\n'), '"say \\"hi\\"\\n"');
  assert.equal(maybeQuote('bell\x07'), '"bell\\a"');
  assert.equal(maybeQuote('x\x01'), '"x\\x01"');
});

test('arrays print in full; a limit keeps the first elements and "..."', () => {
  const a = Float64Array.from({ length: 25 }, (_, i) => i / 2);
  assert.equal(formatArray('double', a), `[${Array.from(a, (v) => String(v)).join(',')}]`);
  assert.equal(formatArray('double', a, 3), '[0,0.5,1,...]');
  assert.equal(formatArray('string', ['a', 'b c', 'd'], 2), '[a, "b c", ...]');
  assert.equal(formatArray('int', new Int32Array(0)), '[]');
});

test('the NT form and the raw form have pvget spacing', () => {
  const s = ntscalar.create('double', 2.5);
  s.value['timeStamp'] = { secondsPastEpoch: 0, nanoseconds: 0, userTag: 0 };
  s.value['alarm'] = { severity: 2, status: 1, message: 'high' };
  assert.equal(formatNT(s.type, s.value), `${'<undefined>'.padEnd(24)} 2.5 MAJOR DEVICE high `);
  s.value['timeStamp'] = { secondsPastEpoch: 0, nanoseconds: 0, userTag: 7 };
  assert.equal(formatNT(s.type, s.value), `${'<undefined>'.padEnd(24)} 7 2.5 MAJOR DEVICE high `);
  const raw = formatRaw(s.type, s.value).split('\n');
  assert.equal(raw[0], 'epics:nt/NTScalar:1.0 ');
  assert.equal(raw[1], '    double value 2.5');
  assert.equal(raw[2], '    alarm_t alarm MAJOR DEVICE high ');
  const tab = nttable.create({ n: new Int32Array([1, 22]), s: ['x,y', 'q"'] });
  assert.equal(formatNT(tab.type, tab.value), [' n     s', ' 1 "x,y"', '22 "q"""'].join('\n'));
});

test('a table of a million rows prints without overflowing the stack', () => {
  const n = 1_000_000;
  const tab = nttable.create({ i: Int32Array.from({ length: n }, (_, k) => k) });
  const text = formatNT(tab.type, tab.value, { arrayLimit: 2 }) ?? '';
  assert.deepEqual(text.split('\n'), ['i', '0', '1', '...']);
  assert.equal((formatNT(tab.type, tab.value) ?? '').split('\n').length, n + 1);
});
