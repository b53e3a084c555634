import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CsvParser, inferColumn, isColumnPath, structureOf } from '../../src/pipeline/csv.js';
import { t } from '../../src/pvdata/types.js';

test('CsvParser: RFC 4180 cells across chunks of any size, CRLF, quotes and line breaks in cells', () => {
  const text = 'a,b.c\r\n1,"x, ""y""\nz"\r\n,\n3,last';
  const whole = new CsvParser('t');
  const rows = [...whole.push(text), ...whole.end()];
  assert.deepEqual(rows, [
    { line: 1, cells: ['a', 'b.c'] },
    { line: 2, cells: ['1', 'x, "y"\nz'] },
    { line: 4, cells: ['', ''] },
    { line: 5, cells: ['3', 'last'] },
  ]);
  const bytewise = new CsvParser('t');
  const again = [...[...text].flatMap((c) => bytewise.push(c)), ...bytewise.end()];
  assert.deepEqual(again, rows);
  assert.throws(() => new CsvParser('t').push('a,b"c\n'), /line 1: a quote inside an unquoted cell/);
  const open = new CsvParser('t');
  open.push('a\n"never');
  assert.throws(() => open.end(), /line 2: a quoted cell that never ends/);
});

test('inferColumn: int, long, double, boolean, arrays, else string; empty cells fit any type', () => {
  assert.deepEqual(inferColumn(['1', '-2', '']), t.int);
  assert.deepEqual(inferColumn(['1', '9007199254740993']), t.long);
  assert.deepEqual(inferColumn(['1', '2.5', 'NaN', '-Infinity', '1e-3']), t.double);
  assert.deepEqual(inferColumn(['true', 'false']), t.boolean);
  assert.deepEqual(inferColumn(['[1,2]', '[]']), t.array('double'));
  assert.deepEqual(inferColumn(['["a"]', '["b","c"]']), t.array('string'));
  assert.deepEqual(inferColumn(['1', 'x']), t.string);
  assert.deepEqual(inferColumn(['', '']), t.string);
});

test('structureOf: dotted columns nest, in the order they first appear; a column inside another is an error', () => {
  const s = structureOf(
    [
      { path: 'value', type: t.double },
      { path: 'timeStamp.secondsPastEpoch', type: t.long },
      { path: 'alarm.severity', type: t.int },
      { path: 'timeStamp.nanoseconds', type: t.int },
    ],
    'here',
  );
  assert.deepEqual(
    s,
    t.struct([
      ['value', t.double],
      [
        'timeStamp',
        t.struct([
          ['secondsPastEpoch', t.long],
          ['nanoseconds', t.int],
        ]),
      ],
      ['alarm', t.struct([['severity', t.int]])],
    ]),
  );
  assert.throws(
    () =>
      structureOf(
        [
          { path: 'a', type: t.int },
          { path: 'a.b', type: t.int },
        ],
        'here',
      ),
    /here: column a\.b/,
  );
  assert.ok(isColumnPath('timeStamp.nanoseconds') && !isColumnPath('1') && !isColumnPath('a b') && !isColumnPath('a.'));
});
