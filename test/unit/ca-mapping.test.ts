// How values cross between pvData and Channel Access: which DBR type a PV is served as, the
// conversions a CA server makes for requests of other types (strings, enum labels, counts),
// writes turned back into the PV's type, client puts, alarm status mapping, and the
// EPICS_CA_* configuration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { caClientConfigFromEnv, caServerConfigFromEnv } from '../../src/ca/config.js';
import { DbrBase, DbrClass, EPICS_EPOCH_OFFSET, dbrCode } from '../../src/ca/constants.js';
import { alarmMessageOf, caStatusOf, pvaStatusOf } from '../../src/ca/convert.js';
import { decodeDbr } from '../../src/ca/dbr.js';
import { putValuesOf } from '../../src/ca/nt-mapping.js';
import { caViewOf, encodeForClient, nativeCount, valueFromWrite, type CaView } from '../../src/ca/pv-adapter.js';
import { SluiceError } from '../../src/errors.js';
import { ntenum, ntscalar, ntscalarArray } from '../../src/pvdata/nt/index.js';
import { completeStructure, type PVStructure } from '../../src/pvdata/values.js';
import { t, type StructureDesc } from '../../src/pvdata/types.js';

const TIME_DOUBLE = dbrCode(DbrBase.DOUBLE, DbrClass.TIME);
const STRING = dbrCode(DbrBase.STRING, DbrClass.PLAIN);

function served(type: StructureDesc, init: PVStructure): { view: CaView; type: StructureDesc; value: PVStructure } {
  const view = caViewOf(type);
  assert.ok(view, 'servable');
  return { view, type, value: completeStructure(type, init) };
}

/** What a client asking for `code` × `count` receives. */
function read(s: ReturnType<typeof served>, code: number, count = 0) {
  const e = encodeForClient(s.view, s.value, code, count, 0);
  return decodeDbr(code, e.count, e.payload);
}

test('native types: lossless where CA has a wide enough type; enums and booleans as DBR_ENUM', () => {
  const base = (type: StructureDesc) => caViewOf(type)?.base;
  assert.equal(base(ntscalar.type('double')), DbrBase.DOUBLE);
  assert.equal(base(ntscalar.type('float')), DbrBase.FLOAT);
  assert.equal(base(ntscalar.type('int')), DbrBase.LONG);
  assert.equal(base(ntscalar.type('ushort')), DbrBase.LONG, 'no unsigned short in CA');
  assert.equal(base(ntscalar.type('byte')), DbrBase.SHORT, 'CA chars are unsigned');
  assert.equal(base(ntscalar.type('ubyte')), DbrBase.CHAR);
  assert.equal(base(ntscalar.type('long')), DbrBase.DOUBLE);
  assert.equal(base(ntscalar.type('string')), DbrBase.STRING);
  assert.equal(base(ntenum.type()), DbrBase.ENUM);
  assert.equal(base(t.struct({ value: t.boolean })), DbrBase.ENUM);
  assert.deepEqual(caViewOf(ntscalarArray.type('ubyte')), { base: DbrBase.CHAR, array: true, valueType: 'ubyte' });
  assert.equal(caViewOf(t.struct({ x: t.double })), null, 'no value field');
  assert.equal(caViewOf(t.struct({ value: t.struct({ a: t.int }) })), null, 'a structure that is not an enum');
  const arr = served(ntscalarArray.type('double'), { value: new Float64Array(0) });
  assert.equal(nativeCount(arr.view, arr.value), 2, 'an empty array still looks like an array');
  assert.equal(nativeCount(arr.view, { value: new Float64Array(5) }), 5);
});

test('a double as DBR_TIME_DOUBLE: value, alarm status from the message, time stamp in the EPICS epoch', () => {
  const s = served(ntscalar.type('double'), {
    value: 2.5,
    alarm: { severity: 2, status: 1, message: 'HIHI' },
    timeStamp: { secondsPastEpoch: 1_700_000_000n, nanoseconds: 123_456_789, userTag: 0 },
  });
  const d = read(s, TIME_DOUBLE, 1);
  assert.deepEqual(Array.from(d.value as Float64Array), [2.5]);
  assert.deepEqual(d.meta.stamp, { secPastEpoch: 1_700_000_000 - EPICS_EPOCH_OFFSET, nsec: 123_456_789 });
  assert.deepEqual([d.meta.status, d.meta.severity], [3, 2]);
});

test('requests of other types are converted: numbers as text (display precision), text as numbers, enum labels', () => {
  const x = served(ntscalar.type('double', { display: true }), {
    value: 1.25,
    display: { units: 'mm', format: '%.3f', limitLow: -1, limitHigh: 9 },
  });
  assert.deepEqual(read(x, STRING).value, ['1.250']);
  assert.deepEqual(Array.from(read(x, dbrCode(DbrBase.LONG, DbrClass.PLAIN)).value as Int32Array), [1]);
  const ctrl = read(x, dbrCode(DbrBase.DOUBLE, DbrClass.CTRL));
  assert.equal(ctrl.meta.units, 'mm');
  assert.equal(ctrl.meta.precision, 3);
  assert.deepEqual([ctrl.meta.limits?.lowerDisp, ctrl.meta.limits?.upperDisp], [-1, 9]);

  const e = served(ntenum.type(), { value: { index: 2, choices: ['A', 'B', 'C'] } });
  assert.deepEqual(read(e, STRING).value, ['C']);
  assert.deepEqual(read(e, dbrCode(DbrBase.ENUM, DbrClass.CTRL)).meta.strs, ['A', 'B', 'C']);
  assert.deepEqual(Array.from(read(e, dbrCode(DbrBase.DOUBLE, DbrClass.PLAIN)).value as Float64Array), [2]);

  const b = served(t.struct({ value: t.boolean }), { value: true });
  assert.deepEqual(read(b, STRING).value, ['true']);
  assert.deepEqual(read(b, dbrCode(DbrBase.ENUM, DbrClass.GR)).meta.strs, ['false', 'true']);

  const s = served(ntscalar.type('string'), { value: '42.5' });
  assert.deepEqual(Array.from(read(s, dbrCode(DbrBase.DOUBLE, DbrClass.PLAIN)).value as Float64Array), [42.5]);
  const notNum = served(ntscalar.type('string'), { value: 'abc' });
  assert.deepEqual(Array.from(read(notNum, dbrCode(DbrBase.LONG, DbrClass.PLAIN)).value as Int32Array), [0]);

  const big = served(ntscalar.type('long'), { value: 1234567890123n });
  assert.deepEqual(read(big, STRING).value, ['1234567890123']);
});

test('element counts: 0 gives the current length, more than there are is zero-padded, fewer is cut', () => {
  const a = served(ntscalarArray.type('ushort'), { value: new Uint16Array([1, 2, 65535]) });
  assert.deepEqual(Array.from(read(a, dbrCode(DbrBase.LONG, DbrClass.TIME), 0).value as Int32Array), [1, 2, 65535]);
  assert.deepEqual(Array.from(read(a, dbrCode(DbrBase.LONG, DbrClass.TIME), 5).value as Int32Array), [1, 2, 65535, 0, 0]);
  assert.deepEqual(Array.from(read(a, dbrCode(DbrBase.LONG, DbrClass.TIME), 2).value as Int32Array), [1, 2]);
  assert.deepEqual(read(a, STRING, 0).value, ['1', '2', '65535']);
  const strs = served(ntscalarArray.type('string'), { value: ['x', 'y'] });
  assert.deepEqual(read(strs, STRING, 3).value, ['x', 'y', '']);
});

test('writes become values of the PV type, or a reason they cannot', () => {
  const dbl = served(ntscalar.type('double'), { value: 0 });
  const w = (s: ReturnType<typeof served>, code: number, values: number[] | string[]) =>
    valueFromWrite(s.view, s.type, s.value, decodeDbr(code, values.length, encodeDbrPlain(code, values)));
  const ok = (r: ReturnType<typeof valueFromWrite>) => {
    assert.ok(typeof r !== 'string', String(r));
    return r.value['value'];
  };
  assert.equal(ok(w(dbl, STRING, ['2.5'])), 2.5);
  assert.equal(ok(w(dbl, dbrCode(DbrBase.LONG, DbrClass.PLAIN), [7])), 7);
  assert.match(String(w(dbl, STRING, ['abc'])), /'abc' is not a number/);

  const int = served(ntscalar.type('int'), { value: 0 });
  assert.equal(ok(w(int, dbrCode(DbrBase.DOUBLE, DbrClass.PLAIN), [3.9])), 3);
  const lng = served(ntscalar.type('long'), { value: 0n });
  assert.equal(ok(w(lng, STRING, ['12'])), 12n);

  const e = served(ntenum.type(), { value: { index: 0, choices: ['Off', 'On'] } });
  assert.deepEqual(ok(w(e, STRING, ['On'])), { index: 1, choices: ['Off', 'On'] });
  assert.deepEqual(ok(w(e, dbrCode(DbrBase.ENUM, DbrClass.PLAIN), [0])), { index: 0, choices: ['Off', 'On'] });
  assert.match(String(w(e, STRING, ['Maybe'])), /not one of the states/);

  const arr = served(ntscalarArray.type('ubyte'), { value: new Uint8Array(0) });
  const v = ok(w(arr, dbrCode(DbrBase.DOUBLE, DbrClass.PLAIN), [1, 2, 3]));
  assert.ok(v instanceof Uint8Array);
  assert.deepEqual(Array.from(v as Uint8Array), [1, 2, 3]);
  assert.match(String(w(arr, STRING, ['1', 'x'])), /element 1 \('x'\) cannot be a ubyte/);

  const boolPV = served(t.struct({ value: t.boolean }), { value: false });
  assert.equal(ok(w(boolPV, STRING, ['true'])), true);

  const meta = valueFromWrite(dbl.view, dbl.type, dbl.value, decodeDbr(TIME_DOUBLE, 1, new Uint8Array(24)));
  assert.match(String(meta), /plain DBR type/);
});

function encodeDbrPlain(code: number, values: number[] | string[]): Uint8Array {
  // The bytes a client would send (our encoder is checked against the spec in ca-codec).
  return encodeForClient(
    { base: (code % 7) as CaView['base'], array: true, valueType: typeof values[0] === 'string' ? 'string' : 'double' },
    { value: values },
    code,
    values.length,
    0,
  ).payload;
}

test('client puts: text as DBR_STRING, numbers as the native type, nonsense refused', () => {
  const dbl = { base: DbrBase.DOUBLE, count: 1 } as const;
  assert.deepEqual(putValuesOf(dbl, 2).dataType, dbrCode(DbrBase.DOUBLE, DbrClass.PLAIN));
  assert.deepEqual(putValuesOf(dbl, '2').dataType, STRING);
  assert.deepEqual(putValuesOf(dbl, { value: 3 }).values, new Float64Array([3]));
  const ch = { base: DbrBase.CHAR, count: 10 } as const;
  const p = putValuesOf(ch, new Uint8Array([1, 2, 3]));
  assert.equal(p.dataType, dbrCode(DbrBase.CHAR, DbrClass.PLAIN));
  assert.deepEqual(Array.from(p.values as Uint8Array), [1, 2, 3]);
  const en = { base: DbrBase.ENUM, count: 1 } as const;
  assert.deepEqual(putValuesOf(en, { value: { index: 2, choices: [] } }).values, new Uint16Array([2]));
  const isEncode = (e: unknown) => e instanceof SluiceError && e.code === 'ERR_ENCODE';
  assert.throws(() => putValuesOf({ base: DbrBase.LONG, count: 1 }, NaN), isEncode);
  assert.throws(() => putValuesOf(dbl, { value: { nested: {} } }), isEncode);
});

test('alarm status: CA conditions to pvData status classes and back', () => {
  assert.deepEqual(
    [pvaStatusOf(0), pvaStatusOf(3), pvaStatusOf(9), pvaStatusOf(15), pvaStatusOf(17), pvaStatusOf(18), pvaStatusOf(99)],
    [0, 1, 2, 3, 2, 4, 6],
  );
  assert.equal(alarmMessageOf(3), 'HIHI');
  for (let s = 0; s <= 21; s++)
    assert.equal(caStatusOf({ severity: 1, status: pvaStatusOf(s), message: alarmMessageOf(s) }), s, `status ${s}`);
  assert.equal(caStatusOf({ severity: 0, status: 0, message: '' }), 0);
  assert.equal(caStatusOf({ severity: 2, status: 3, message: 'over range' }), 15, 'RECORD without a condition name: SOFT');
  assert.equal(caStatusOf(undefined), 0);
});

test('configuration from EPICS_CA_*: address lists with default ports, switches, warnings', () => {
  const c = caClientConfigFromEnv({
    EPICS_CA_ADDR_LIST: '127.0.0.1 10.0.0.255:6000 bad..host',
    EPICS_CA_AUTO_ADDR_LIST: 'no',
    EPICS_CA_SERVER_PORT: '7064',
    EPICS_CA_NAME_SERVERS: 'ns.example:5000 127.0.0.2',
    EPICS_CA_CONN_TMO: '2.5',
    EPICS_CA_MAX_ARRAY_BYTES: '100000000',
  });
  assert.deepEqual(c.addrList, [
    { host: '127.0.0.1', port: 7064 },
    { host: '10.0.0.255', port: 6000 },
  ]);
  assert.equal(c.autoAddrList, false);
  assert.equal(c.serverPort, 7064);
  assert.deepEqual(c.nameServers, [
    { host: 'ns.example', port: 5000 },
    { host: '127.0.0.2', port: 7064 },
  ]);
  assert.equal(c.connTmoMs, 2500);
  assert.equal(c.maxArrayBytes, 100_000_000);
  assert.deepEqual(c.warnings, ["EPICS_CA_ADDR_LIST: ignoring invalid address 'bad..host'"]);

  const d = caClientConfigFromEnv({ EPICS_CA_SERVER_PORT: 'x', EPICS_CA_AUTO_ADDR_LIST: 'maybe', EPICS_CA_CONN_TMO: '-1' });
  assert.equal(d.serverPort, 5064);
  assert.equal(d.autoAddrList, true);
  assert.equal(d.connTmoMs, 30_000);
  assert.equal(d.warnings.length, 3, d.warnings.join('; '));
  assert.deepEqual(caClientConfigFromEnv({ EPICS_CA_ADDR_LIST: '127.0.0.1' }, 9999).addrList, [{ host: '127.0.0.1', port: 9999 }]);

  const s = caServerConfigFromEnv({ EPICS_CA_SERVER_PORT: '6064', EPICS_CAS_SERVER_PORT: '6065', EPICS_CAS_INTF_ADDR_LIST: '127.0.0.1' });
  assert.deepEqual([s.serverPort, s.host], [6065, '127.0.0.1']);
  assert.deepEqual([caServerConfigFromEnv({}).serverPort, caServerConfigFromEnv({}).host], [5064, '0.0.0.0']);
});
