import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../src/errors.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import {
  formatPVRequest,
  optionBool,
  optionInt,
  parsePVRequest,
  readPVRequest,
  requestOption,
  selectFields,
} from '../../src/pvdata/pvrequest.js';
import { decodeType, encodeType, TypeCache } from '../../src/pvdata/type-codec.js';
import { formatType, sameType, t, type StructureDesc } from '../../src/pvdata/types.js';
import { decodePartial, decodeValue, encodePartial } from '../../src/pvdata/value-codec.js';
import { defaultValue, type PVStructure } from '../../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../../src/pvdata/wire.js';

const E = t.struct({});
const S = (fields: Record<string, StructureDesc>) => t.struct(fields);

function isPVRequestError(what: RegExp) {
  return (e: unknown) => e instanceof SluiceError && e.code === 'ERR_PVREQUEST' && what.test(e.message);
}

function bytes(w: ByteWriter): Buffer {
  return Buffer.concat(w.take());
}

test('empty request and field() follow pvDataCPP', () => {
  for (const text of ['', '   ']) {
    const r = parsePVRequest(text);
    assert.equal(r.type.fields.length, 0);
    assert.deepEqual(r.value, {});
  }
  const w = new ByteWriter(true);
  encodeType(w, parsePVRequest('').type);
  assert.deepEqual([...bytes(w)], [0x80, 0x00, 0x00]); // what pvget sends (capture: fd 02 00 80 00 00)
  const f = parsePVRequest('field()');
  assert.ok(sameType(f.type, S({ field: E })));
  assert.deepEqual(f.value, { field: {} });
});

test('bare field lists mean field(...)', () => {
  assert.ok(sameType(parsePVRequest('value').type, S({ field: S({ value: E }) })));
  const r = parsePVRequest('value,alarm');
  assert.ok(sameType(r.type, S({ field: S({ value: E, alarm: E }) })));
  assert.deepEqual(r.value, { field: { value: {}, alarm: {} } });
  assert.ok(sameType(parsePVRequest('a{b{c{d}}}').type, S({ field: S({ a: S({ b: S({ c: S({ d: E }) }) }) }) })));
});

test('nested fields', () => {
  const r = parsePVRequest('field(value,alarm.severity)');
  assert.ok(sameType(r.type, S({ field: S({ value: E, alarm: S({ severity: E }) }) })));
  assert.equal(formatType(r.type).split('\n').length, 5);
  assert.deepEqual(parsePVRequest('alarm,timeStamp,power.value').value, {
    field: { alarm: {}, timeStamp: {}, power: { value: {} } },
  });
});

test('record options are strings under record._options', () => {
  const r = parsePVRequest('record[queueSize=4,pipeline=true]');
  const opts = t.struct({ queueSize: t.string, pipeline: t.string });
  assert.ok(sameType(r.type, t.struct({ record: t.struct({ _options: opts }) })));
  assert.deepEqual(r.value, { record: { _options: { queueSize: '4', pipeline: 'true' } } });
  // record[] adds nothing (pvDataCPP)
  assert.ok(sameType(parsePVRequest('record[]field()').type, S({ field: E })));
});

test('sections are ordered record, field, getField, putField whatever the text order', () => {
  const r = parsePVRequest('field(a)record[x=1]');
  assert.deepEqual(
    r.type.fields.map((m) => m.name),
    ['record', 'field'],
  );
  assert.deepEqual(r.value, { record: { _options: { x: '1' } }, field: { a: {} } });
  const pg = parsePVRequest('putField(power.value),getField(alarm,power{value,alarm})');
  assert.deepEqual(
    pg.type.fields.map((m) => m.name),
    ['getField', 'putField'],
  );
  assert.deepEqual(pg.value['getField'], { alarm: {}, power: { value: {}, alarm: {} } });
});

test('per-field options come first in their structure', () => {
  const r = parsePVRequest('field(value[opt=1])');
  assert.deepEqual(r.value, { field: { value: { _options: { opt: '1' } } } });
  const n = parsePVRequest('field(a.b[x=y]{c.d[x=y]})');
  const b = n.type.fields[0]!.type as StructureDesc;
  const bb = (b.fields[0]!.type as StructureDesc).fields[0]!.type as StructureDesc;
  assert.deepEqual(
    bb.fields.map((m) => m.name),
    ['_options', 'c'],
  );
  assert.deepEqual(n.value, { field: { a: { b: { _options: { x: 'y' }, c: { d: { _options: { x: 'y' } } } } } } });
  const ts = parsePVRequest('record[process=true]field(alarm,timeStamp[algorithm=onChange,causeMonitor=false],power{value,alarm})');
  assert.deepEqual(ts.value['field']['timeStamp'], { _options: { algorithm: 'onChange', causeMonitor: 'false' } });
});

test('plugin options on the whole structure: field(_[...])', () => {
  const r = parsePVRequest('field(_[pydistributor=group:g;set:s;updates:3;trigger:uniqueId])');
  const opt = t.struct({ _options: t.struct({ pydistributor: t.string }) });
  assert.ok(sameType(r.type, S({ field: S({ _: opt }) })));
  assert.equal(r.value['field']['_']['_options']['pydistributor'], 'group:g;set:s;updates:3;trigger:uniqueId');
  const info = readPVRequest(r.type, r.value);
  assert.deepEqual(info.fields, []);
  assert.deepEqual(info.fieldOptions, { '': { pydistributor: 'group:g;set:s;updates:3;trigger:uniqueId' } });
});

test('repeated names merge (PVXS does, pvDataCPP rejects)', () => {
  const r = parsePVRequest('field(alarm.severity,alarm.status,value)');
  assert.ok(sameType(r.type, S({ field: S({ alarm: S({ severity: E, status: E }), value: E }) })));
});

test('blanks are ignored, option values lose them', () => {
  const r = parsePVRequest('  field( value , alarm )  record[ queueSize = 4 , a = b c ] ');
  assert.deepEqual(r.value, { record: { _options: { queueSize: '4', a: 'bc' } }, field: { value: {}, alarm: {} } });
});

test('malformed text is ERR_PVREQUEST naming the position', () => {
  const cases: [string, RegExp][] = [
    ['field(value', /missing '\)' at position 11/],
    ['field(value))', /expected a field name, found '\)' at position 12/],
    ['field(a,,b)', /expected a field name, found ',' at position 8/],
    ['field(a.)', /found '\)' at position 8/],
    ['record[queueSize]', /expected '=' after option 'queueSize' at position 16/],
    ['record[=4]', /expected an option name, found '=' at position 7/],
    ['record[a=1', /missing '\]' at position 9/],
    ['field(value)%%', /found '%' at position 12/],
    ['field(a{})', /empty \{\} at position 8/],
    ['field(value[])', /empty \[\] at position 12/],
    ['3abc', /found '3' at position 0/],
    ['field(a{b)', /expected ',' or '\}', found '\)' at position 9/],
  ];
  for (const [text, re] of cases) assert.throws(() => parsePVRequest(text), isPVRequestError(re), text);
});

test('format gives canonical text that parses back to the same request', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['field()', 'field()'],
    ['value , alarm', 'field(value,alarm)'],
    ['field(value,alarm.severity)', 'field(value,alarm.severity)'],
    ['field(a)record[queueSize=4,pipeline=true]', 'record[queueSize=4,pipeline=true]field(a)'],
    ['field(a.b[x=y]{c.d[x=y]})', 'field(a.b[x=y].c.d[x=y])'],
    ['record[a=b,c=d] field(a.a[a=b]{a.a[a=b]},b.a[a=b]{a,b})', 'record[a=b,c=d]field(a.a[a=b].a.a[a=b],b.a[a=b]{a,b})'],
    ['field(_[pydistributor=group:g;updates:3])', 'field(_[pydistributor=group:g;updates:3])'],
    ['putField(value)getField(alarm{severity,status})', 'getField(alarm{severity,status})putField(value)'],
  ];
  for (const [text, canon] of cases) {
    const r = parsePVRequest(text);
    const f = formatPVRequest(r);
    assert.equal(f, canon, text);
    const back = parsePVRequest(f);
    assert.ok(sameType(back.type, r.type), text);
    assert.deepEqual(back.value, r.value, text);
  }
});

test('readPVRequest: fields, options and field options', () => {
  const r = parsePVRequest('field(value[opt=1],alarm.severity,timeStamp)record[queueSize=4,pipeline=true]');
  const info = readPVRequest(r.type, r.value);
  assert.deepEqual(info.fields, ['value', 'alarm.severity', 'timeStamp']);
  assert.deepEqual(info.options, { queueSize: '4', pipeline: 'true' });
  assert.deepEqual(info.fieldOptions, { value: { opt: '1' } });
  assert.equal(requestOption(info, 'queueSize'), '4');
  assert.equal(requestOption(info, 'toString'), undefined);
  assert.deepEqual(readPVRequest(null, null), { fields: [], options: {}, fieldOptions: {} });
  assert.deepEqual(readPVRequest(t.int, 3).fields, []);
  const pg = parsePVRequest('putField(value)getField(alarm)');
  assert.deepEqual(readPVRequest(pg.type, pg.value, 'putField').fields, ['value']);
  assert.deepEqual(readPVRequest(pg.type, pg.value).fields, []);
});

test('readPVRequest converts non-string option values (PVXS record() API)', () => {
  const type = t.struct({
    field: t.struct({ value: E }),
    record: t.struct({ _options: t.struct({ queueSize: t.long, pipeline: t.boolean, wait: t.any, rate: t.double }) }),
  });
  const value: PVStructure = {
    field: { value: {} },
    record: { _options: { queueSize: 4n, pipeline: true, wait: { type: t.int, value: 1 }, rate: 2.5 } },
  };
  const info = readPVRequest(type, value);
  assert.deepEqual(info.options, { queueSize: '4', pipeline: 'true', wait: '1', rate: '2.5' });
});

test('readPVRequest on requests captured from real clients', () => {
  // PVXS client, monitor field(value)record[pipeline=true,queueSize=4]
  const pvxs = Buffer.from(
    '800002056669656c648000010576616c7565800000067265636f7264800001085f6f7074696f6e73' +
      '80000208706970656c696e656009717565756553697a6560' +
      '04747275650134',
    'hex',
  );
  let r = new ByteReader(pvxs, true);
  const cache = new TypeCache();
  let type = decodeType(r, cache);
  let info = readPVRequest(type, decodeValue(r, type!, cache));
  assert.equal(r.remaining, 0);
  assert.deepEqual(info.fields, ['value']);
  assert.deepEqual(info.options, { pipeline: 'true', queueSize: '4' });
  assert.equal(optionBool(requestOption(info, 'pipeline')), true);
  assert.equal(optionInt(requestOption(info, 'queueSize')), 4);
  // pvAccessCPP client, field(dimension,attribute,uniqueId) using the type cache (fd/fe)
  const pvacpp = Buffer.from(
    'fd0200800001056669656c64fd03008000030964696d656e73696f6efd040080000009617474726962757465fe040008756e697175654964fe0400',
    'hex',
  );
  r = new ByteReader(pvacpp, true);
  type = decodeType(r, new TypeCache());
  info = readPVRequest(type, defaultValue(type!));
  assert.deepEqual(info.fields, ['dimension', 'attribute', 'uniqueId']);
});

test('option helpers', () => {
  assert.equal(optionBool('true'), true);
  assert.equal(optionBool(' YES '), true);
  assert.equal(optionBool('1'), true);
  assert.equal(optionBool('false'), false);
  assert.equal(optionBool('0'), false);
  assert.equal(optionBool('maybe'), undefined);
  assert.equal(optionBool(undefined), undefined);
  assert.equal(optionInt('42'), 42);
  assert.equal(optionInt(' -3 '), -3);
  assert.equal(optionInt('4.5'), undefined);
  assert.equal(optionInt('x'), undefined);
  assert.equal(optionInt(undefined), undefined);
});

// ---- selection ------------------------------------------------------------------------------

const alarmT = t.struct({ severity: t.int, status: t.int, message: t.string }, 'alarm_t');
const timeT = t.struct({ secondsPastEpoch: t.long, nanoseconds: t.int, userTag: t.int }, 'time_t');
// bits: 0 top, 1 value, 2 alarm, 3 severity, 4 status, 5 message, 6 timeStamp, 7 secs, 8 ns, 9 userTag, 10 arr
const full = t.struct({ value: t.double, alarm: alarmT, timeStamp: timeT, arr: t.array('ubyte') }, 'epics:nt/NTScalar:1.0');
const fullValue = (): PVStructure => ({
  value: 1.5,
  alarm: { severity: 1, status: 2, message: 'm' },
  timeStamp: { secondsPastEpoch: 10n, nanoseconds: 20, userTag: 0 },
  arr: new Uint8Array([1, 2, 3]),
});
const bits = (...b: number[]) => new BitSet(b);

test('no fields: the identity selection', () => {
  const sel = selectFields(full, []);
  assert.equal(sel.type, full);
  const v = fullValue();
  assert.equal(sel.project(v), v);
  assert.deepEqual(sel.mapBits(bits(0, 3)).toArray(), [0, 3]);
  assert.deepEqual(sel.unmapBits(bits(2)).toArray(), [2]);
  // everything named explicitly is the identity too (type id kept)
  assert.equal(selectFields(full, ['value', 'alarm', 'timeStamp', 'arr']).type, full);
  assert.equal(
    selectFields(full, ['value', 'alarm', 'timeStamp.secondsPastEpoch', 'timeStamp.nanoseconds', 'timeStamp.userTag', 'arr']).type,
    full,
  );
});

test('reduced type: whole structures keep their id, partial ones lose it', () => {
  const sel = selectFields(full, ['value', 'alarm.severity', 'bogus']);
  assert.ok(sameType(sel.type, t.struct({ value: t.double, alarm: t.struct({ severity: t.int }) })));
  assert.equal(sel.type.id, '');
  const whole = selectFields(full, ['timeStamp', 'alarm']);
  assert.deepEqual(
    whole.type.fields.map((m) => m.name),
    ['alarm', 'timeStamp'],
  ); // full type's order
  assert.equal(whole.type.fields[0]!.type, alarmT);
  const all3 = selectFields(full, ['alarm.message', 'alarm.severity', 'alarm.status']);
  assert.equal(all3.type.fields[0]!.type, alarmT);
  assert.ok(sameType(selectFields(full, ['value.below.leaf']).type, t.struct({ value: t.double })));
  assert.equal(selectFields(full, ['value']), selectFields(full, ['value'])); // cached
  assert.throws(() => selectFields(full, ['bogus', 'alarm.nope']), isPVRequestError(/no field of the request exists: bogus, alarm\.nope/));
});

test('mapBits and unmapBits', () => {
  const a = selectFields(full, ['value', 'alarm.severity']); // reduced: 0 top, 1 value, 2 alarm, 3 severity
  assert.deepEqual(a.mapBits(bits(0)).toArray(), [0]);
  assert.deepEqual(a.mapBits(bits(3)).toArray(), [3]);
  assert.deepEqual(a.mapBits(bits(4, 7, 10)).toArray(), []);
  assert.deepEqual(a.mapBits(bits(2)).toArray(), [2]); // whole alarm changed → all of the kept alarm
  assert.deepEqual(a.mapBits(bits(1, 5, 99)).toArray(), [1]);
  assert.deepEqual(a.unmapBits(bits(0)).toArray(), [1, 3]);
  assert.deepEqual(a.unmapBits(bits(2)).toArray(), [3]);
  assert.deepEqual(a.unmapBits(bits(1)).toArray(), [1]);

  const b = selectFields(full, ['alarm', 'timeStamp.nanoseconds']); // 0 top, 1 alarm, 2-4 its fields, 5 timeStamp, 6 ns
  assert.deepEqual(b.mapBits(bits(2)).toArray(), [1]);
  assert.deepEqual(b.mapBits(bits(4)).toArray(), [3]);
  assert.deepEqual(b.mapBits(bits(6, 7)).toArray(), [5]);
  assert.deepEqual(b.mapBits(bits(8)).toArray(), [6]);
  assert.deepEqual(b.unmapBits(bits(0)).toArray(), [2, 8]);
  assert.deepEqual(b.unmapBits(bits(5)).toArray(), [8]);
  assert.deepEqual(b.unmapBits(bits(1, 3)).toArray(), [2, 4]);
});

test('project and inject', () => {
  const sel = selectFields(full, ['alarm.severity', 'arr', 'timeStamp']);
  const v = fullValue();
  const p = sel.project(v);
  assert.deepEqual(Object.keys(p), ['alarm', 'timeStamp', 'arr']);
  assert.deepEqual(p['alarm'], { severity: 1 });
  assert.equal(p['arr'], v['arr']); // referenced, not copied
  assert.equal(p['timeStamp'], v['timeStamp']);

  const out = sel.inject(v, {
    alarm: { severity: 3 },
    timeStamp: { secondsPastEpoch: 5n, nanoseconds: 6, userTag: 7 },
    arr: new Uint8Array([9]),
  });
  assert.deepEqual(out['alarm'], { severity: 3, status: 2, message: 'm' });
  assert.notEqual(out['alarm'], v['alarm']);
  assert.deepEqual(v['alarm'], { severity: 1, status: 2, message: 'm' }); // target untouched
  assert.equal(out['value'], 1.5);
  assert.deepEqual([...(out['arr'] as Uint8Array)], [9]);
  assert.equal(out['timeStamp']['userTag'], 7);
  assert.equal(selectFields(full, []).inject(v, { value: 2 })['value'], 2);
});

test('a monitor update through a selection: map, encode reduced, decode, unmap', () => {
  const sel = selectFields(full, ['value', 'alarm.severity']);
  const v = fullValue();
  const changed = sel.mapBits(bits(3, 8)); // severity and timeStamp.nanoseconds changed
  const w = new ByteWriter(true);
  encodePartial(w, sel.type, sel.project(v), changed);
  const data = bytes(w);
  assert.deepEqual([...data], [1, 0, 0, 0]); // only the int severity
  const base = defaultValue(sel.type) as PVStructure;
  const got = decodePartial(new ByteReader(data, true), sel.type, base, changed, new TypeCache());
  assert.deepEqual(got, { value: 0, alarm: { severity: 1 } });
  assert.deepEqual(sel.unmapBits(changed).toArray(), [3]);
});
