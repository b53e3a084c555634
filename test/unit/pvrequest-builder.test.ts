// The pvRequest builder gives exactly the structure the parser gives for the equivalent text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../src/errors.js';
import { parsePVRequest, readPVRequest, type PVRequest } from '../../src/pvdata/pvrequest.js';
import { pvRequest } from '../../src/pvdata/pvrequest-builder.js';
import { encodeType } from '../../src/pvdata/type-codec.js';
import { t } from '../../src/pvdata/types.js';
import { encodeValue } from '../../src/pvdata/value-codec.js';
import { ByteWriter } from '../../src/pvdata/wire.js';

/** Same type (member order included) and value, compared as the bytes sent on the wire. */
function wire(r: PVRequest): string {
  const w = new ByteWriter(true);
  encodeType(w, r.type);
  encodeValue(w, r.type, r.value);
  return Buffer.concat(w.take()).toString('hex');
}

function assertSameRequest(built: PVRequest, text: string): void {
  const parsed = parsePVRequest(text);
  assert.deepEqual(built.value, parsed.value, text);
  assert.equal(wire(built), wire(parsed), text);
}

const isPVRequestError = (e: unknown) => e instanceof SluiceError && e.code === 'ERR_PVREQUEST';

test('an empty builder is the empty request', () => {
  assertSameRequest(pvRequest().build(), '');
  assertSameRequest(pvRequest('').build(), '');
});

test('field lists and nested fields', () => {
  assertSameRequest(pvRequest().field('value').field('alarm').build(), 'field(value,alarm)');
  assertSameRequest(pvRequest().field('a').field('b.c').build(), 'field(a,b.c)');
  assertSameRequest(
    pvRequest().field('alarm.severity').field('alarm.status').field('value').build(),
    'field(alarm{severity,status},value)',
  );
  assertSameRequest(pvRequest().field('a.b.c').field('a.d').build(), 'field(a{b.c,d})');
  assertSameRequest(pvRequest().getField('value').putField('value').field('x').build(), 'putField(value)field(x)getField(value)');
});

test('record options, in the order given, a value set again keeping its place', () => {
  assertSameRequest(pvRequest().record({ queueSize: 4, pipeline: true }).build(), 'record[queueSize=4,pipeline=true]');
  assertSameRequest(
    pvRequest().record({ queueSize: 4 }).field('value').record({ pipeline: false, queueSize: 8 }).build(),
    'field(value)record[queueSize=8,pipeline=false]',
  );
  assertSameRequest(pvRequest().record({ queueSize: undefined, pipeline: true }).build(), 'record[pipeline=true]');
  assertSameRequest(pvRequest().record({ n: 5n }).build(), 'record[n=5]');
});

test('field options and plugin options', () => {
  assertSameRequest(pvRequest().field('value', { q: 1 }).field('b.c', { x: 'y' }).build(), 'field(value[q=1],b.c[x=y])');
  assertSameRequest(
    pvRequest().plugin('pydistributor', { group: 'g', set: 's', updates: 3, trigger: 'uniqueId' }).build(),
    'field(_[pydistributor=group:g;set:s;updates:3;trigger:uniqueId])',
  );
  assertSameRequest(pvRequest().plugin('distributor', { group: undefined, updates: 1 }).build(), 'field(_[distributor=updates:1])');
  assertSameRequest(
    pvRequest().plugin('pydistributor', 'set:A').record({ queueSize: 10 }).build(),
    'record[queueSize=10]field(_[pydistributor=set:A])',
  );
  // the server reads it as a whole-structure plugin option
  const r = pvRequest().plugin('pydistributor', { updates: 2 }).build();
  assert.deepEqual(readPVRequest(r.type, r.value).fieldOptions, { '': { pydistributor: 'updates:2' } });
});

test('merging a user request: its options replace values of the same name, in place', () => {
  assertSameRequest(
    pvRequest().record({ queueSize: 4 }).merge('field(value)record[pipeline=true]').build(),
    'record[queueSize=4,pipeline=true]field(value)',
  );
  assertSameRequest(
    pvRequest().record({ queueSize: 4, pipeline: true }).merge('record[queueSize=2]').build(),
    'record[queueSize=4,pipeline=true,queueSize=2]',
  );
  assertSameRequest(pvRequest('field(a{b,c})').field('a.d').field('e').build(), 'field(a{b,c,d},e)');
  // from a structure, e.g. one parsed before or received from a peer
  assertSameRequest(
    pvRequest(parsePVRequest('field(value[x=1],alarm)record[queueSize=3]')).build(),
    'field(value[x=1],alarm)record[queueSize=3]',
  );
  const typed = {
    type: t.struct({ record: t.struct({ _options: t.struct({ queueSize: t.int, pipeline: t.boolean }) }), value: t.struct({}) }),
    value: { record: { _options: { queueSize: 4, pipeline: true } }, value: {} },
  };
  assertSameRequest(pvRequest(typed).build(), 'record[queueSize=4,pipeline=true]field(value)');
  // merging does not tie the two builders together
  const base = pvRequest().field('a');
  const other = pvRequest().merge(base).field('b');
  assertSameRequest(base.build(), 'field(a)');
  assertSameRequest(other.build(), 'field(a,b)');
});

test('has, selectsFields and the canonical text', () => {
  const b = pvRequest('field(value,alarm.severity)');
  assert.equal(b.has('value'), true);
  assert.equal(b.has('alarm'), true);
  assert.equal(b.has('alarm.severity'), true);
  assert.equal(b.has('timeStamp'), false);
  assert.equal(b.has('value', 'getField'), false);
  assert.equal(b.selectsFields(), true);
  assert.equal(pvRequest('field()').selectsFields(), false);
  assert.equal(pvRequest('record[queueSize=1]').selectsFields(), false);
  assert.equal(b.record({ queueSize: 4 }).toString(), 'record[queueSize=4]field(value,alarm.severity)');
});

test('what the text form cannot carry is refused', () => {
  assert.throws(() => pvRequest().field('a b'), isPVRequestError);
  assert.throws(() => pvRequest().field('a..b'), isPVRequestError);
  assert.throws(() => pvRequest().field('_options'), isPVRequestError);
  assert.throws(() => pvRequest().record({ 'bad-name': 1 }), isPVRequestError);
  assert.throws(() => pvRequest().record({ q: 'a,b' }), isPVRequestError);
  assert.throws(() => pvRequest().record({ q: 'a]' }), isPVRequestError);
  assert.throws(() => pvRequest().record({ q: 'a b' }), isPVRequestError);
  assert.throws(() => pvRequest().plugin('pydistributor', { set: 'a;b' }), isPVRequestError);
  assert.throws(() => pvRequest('field(a'), isPVRequestError);
  // a refused call changes nothing
  const b = pvRequest().field('a');
  assert.throws(() => b.field('x.y', { q: 'a b' }), isPVRequestError);
  assert.throws(() => b.record({ ok: 1, bad: 'a,b' }), isPVRequestError);
  assert.throws(() => b.field('x..y'), isPVRequestError);
  assertSameRequest(b.build(), 'field(a)');
});
