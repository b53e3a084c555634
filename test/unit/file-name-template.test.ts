// File-name templates in Python's str.format() syntax, as PvaPy's file writers use them. The
// expected strings are what CPython 3.11 prints for the same format calls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileNameTemplate, formatFileName } from '../../src/processing/builtin/file-name-template.js';

test('format specs as Python formats integers', () => {
  const cases: [string, Record<string, number | string>, string][] = [
    ['{uniqueId:06}.{processorId}.tiff', { uniqueId: 7, processorId: 1 }, '000007.1.tiff'],
    ['{outputFileId:06}.{processorId}.hdf', { outputFileId: 12, processorId: 3 }, '000012.3.hdf'],
    ['{uniqueId:6d}', { uniqueId: 42 }, '    42'],
    ['{a:06}', { a: -5 }, '-00005'],
    ['{a:+08,d}|{a:#x}|{a:^9}|{a:*<7}|{a:.2f}|{a:_b}', { a: 123456 }, '+123,456|0x1e240| 123456  |123456*|123456.00|1_1110_0010_0100_0000'],
    ['{a:X}{a:#o}{a:>4}{a: d}', { a: 255 }, 'FF0o377 255 255'],
    ['{a:e}', { a: 12345 }, '1.234500e+04'],
    ['{a:03}', { a: 1234 }, '1234'],
    ['{{literal}}_{a}', { a: 1 }, '{literal}_1'],
    ['{a}{a:02}', { a: 3 }, '303'],
    ['{name:>6}|{name:.2}|{name:06}', { name: 'ab' }, '    ab|ab|ab0000'],
  ];
  for (const [template, values, expected] of cases) assert.equal(formatFileName(template, values), expected, template);
});

test('a template is checked once, when configured; placeholders it uses are listed', () => {
  const t = new FileNameTemplate('run/{uniqueId:05}_{processorId}.png', ['uniqueId', 'frameId', 'processorId']);
  assert.deepEqual(t.used, ['uniqueId', 'processorId']);
  assert.equal(t.format({ uniqueId: 9, processorId: 2 }), 'run/00009_2.png');
  const names = ['uniqueId', 'processorId'];
  const bad: [string, RegExp][] = [
    ['{nope}.tif', /unknown placeholder 'nope' \(known: uniqueId, processorId\)/],
    ['{}.tif', /positional fields \('\{\}'\) are not supported/],
    ['{0}.tif', /positional fields/],
    ['{uniqueId.real}.tif', /attribute and index access are not supported/],
    ['{uniqueId!r}.tif', /conversions \('\{uniqueId!r\}'\) are not supported/],
    ['{uniqueId:{w}}.tif', /nested fields/],
    ['{uniqueId', /'\{' at position 0 is not closed/],
    ['a}b', /single '\}' at position 1/],
    ['{uniqueId:q}', /format spec 'q' of 'uniqueId' is not valid/],
    ['{uniqueId:s}', /format 's' needs text, got a number/],
    ['{uniqueId:.3d}', /precision is not allowed with format 'd'/],
    ['', /must be a non-empty string/],
  ];
  for (const [template, re] of bad) assert.throws(() => new FileNameTemplate(template, names), re, template);
  assert.throws(() => t.format({ uniqueId: 1 }), /no value for 'processorId'/);
});
