import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  arrayFromJSON,
  arrayToJSON,
  bitsFromText,
  bitsToText,
  entryName,
  leavesOf,
  typeFromBase64,
  typeToBase64,
  valueFromBase64,
  valueToBase64,
} from '../../src/pipeline/hdf5-layout.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import { t } from '../../src/pvdata/types.js';

test('hdf5 layout: leaves by path (frames leave out value), entry names, marks as field numbers', () => {
  const leaves = leavesOf(ntndarray.type(), 'value');
  assert.ok(!leaves.some((l) => l.path[0] === 'value'));
  const byPath = new Map(leaves.map((l) => [l.path.join('.'), l.encoding]));
  assert.equal(byPath.get('uniqueId'), 'number');
  assert.equal(byPath.get('timeStamp.secondsPastEpoch'), 'number');
  assert.equal(byPath.get('codec.name'), 'string');
  assert.equal(byPath.get('codec.parameters'), 'pva-base64');
  assert.equal(byPath.get('dimension'), 'pva-base64');
  assert.deepEqual([0, 1, 2].map(entryName), ['entry', 'entry_2', 'entry_3']);
  for (const bits of [[], [0], [1, 4, 33, 100]]) assert.deepEqual(bitsFromText(bitsToText(new BitSet(bits)), 'x'), new BitSet(bits));
  assert.equal(bitsToText(BitSet.of(1, 4)), '1,4');
  assert.throws(() => bitsFromText('1,x', 'here'), /here: bad field numbers/);
});

test('hdf5 layout: arrays through JSON keep 64-bit integers, NaN and infinities; types and values through base64', () => {
  const longs = BigInt64Array.from([-(2n ** 63n), 5n, 2n ** 62n]);
  assert.deepEqual(arrayFromJSON('long', arrayToJSON(longs), 'x'), longs);
  const doubles = Float64Array.from([NaN, Infinity, -Infinity, 0.1, 1e-300]);
  assert.deepEqual(arrayFromJSON('double', arrayToJSON(doubles), 'x'), doubles);
  assert.deepEqual(arrayFromJSON('string', arrayToJSON(['a', 'é"']), 'x'), ['a', 'é"']);
  assert.throws(() => arrayFromJSON('int', '{', 'here'), /here: not a JSON array/);
  const type = ntndarray.type();
  assert.deepEqual(typeFromBase64(typeToBase64(type), 'x'), type);
  const u = t.union([
    ['a', t.int],
    ['b', t.string],
  ]);
  assert.deepEqual(valueFromBase64(u, valueToBase64(u, { field: 'b', value: 'hi' })), { field: 'b', value: 'hi' });
});
