// The consumer's output publisher: an object that does not fit the output type is a publisher
// error (said once, with the expected type and why), never counted as published.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PvaClient } from '../../src/pva/client/client.js';
import { PvaServer } from '../../src/pva/server/server.js';
import { Publisher } from '../../src/runtime/io.js';
import { describeType, mismatch } from '../../src/pvdata/conform.js';
import { ntndarray, ntscalar } from '../../src/pvdata/nt/index.js';

test('mismatch: field names, shapes and union members; scalars convert as the encoder does', () => {
  const scalar = ntscalar.type('double');
  assert.equal(mismatch(scalar, { value: 1.5 }), null);
  assert.equal(mismatch(scalar, { value: '1.5', alarm: { severity: 1 } }), null);
  assert.equal(mismatch(scalar, { value: new Uint8Array(4) }), "field 'value' is a Uint8Array where the type has double");
  assert.equal(mismatch(scalar, { uniqueId: 3 }), "field 'uniqueId' is not in the type");
  assert.equal(mismatch(scalar, { alarm: 3 }), "field 'alarm' is a number where the type has structure alarm_t");
  assert.equal(mismatch(scalar, { alarm: { nonsense: 1 } }), "field 'alarm.nonsense' is not in the type");
  assert.equal(mismatch(scalar, [1, 2]), 'the value is an array, not a structure');
  const nd = ntndarray.type();
  assert.equal(mismatch(nd, { value: { field: 'ubyteValue', value: new Uint8Array(2) }, uniqueId: 1 }), null);
  assert.match(mismatch(nd, { value: { field: 'pixels', value: new Uint8Array(2) } }) ?? '', /selects union member 'pixels'/);
  assert.equal(mismatch(nd, { value: 2.5 }), "field 'value' is a number where the type has union (give {field, value})");
  assert.equal(mismatch(nd, { value: null }), null);
  assert.equal(describeType(scalar), 'epics:nt/NTScalar:1.0');
});

test('publisher: wrong-typed objects are errors, warned about once, and not published', () => {
  const server = new PvaServer({ env: {} });
  const warnings: string[] = [];
  const p = new Publisher('pvas', 'out', ntscalar.type('double'), server, {} as PvaClient, undefined, (m) => warnings.push(m));
  for (let i = 0; i < 120; i++) p.publish({ value: new Uint8Array(16), uniqueId: i });
  p.publish({ value: 2.5 });
  assert.deepEqual(p.stats, { nPublished: 1, nErrors: 120 });
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(
    warnings[0] as string,
    /^output out: object does not match the output type epics:nt\/NTScalar:1.0: field 'value' is a Uint8Array where the type has double; such objects are counted as publisher errors, not published$/,
  );
  assert.equal(server.lookup('out')?.value?.['value'], 2.5);
});
