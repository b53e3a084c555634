import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alarmT,
  AttributeSource,
  ColorMode,
  controlT,
  dataTypeOfUnionField,
  displayT,
  enumT,
  ntattribute,
  ntenum,
  ntndarray,
  ntscalar,
  ntscalarArray,
  nttable,
  nturi,
  timeFromDate,
  timeNow,
  timeT,
  timeToDate,
  unionFieldOfDataType,
  valueAlarmT,
  valueAlarmTypeFor,
} from '../../src/pvdata/nt/index.js';
import { decodeType, encodeType, TypeCache } from '../../src/pvdata/type-codec.js';
import { sameType, t, type FieldDesc, type StructureDesc } from '../../src/pvdata/types.js';
import { decodeValue, encodeValue } from '../../src/pvdata/value-codec.js';
import { defaultValue, type PVStructure } from '../../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../../src/pvdata/wire.js';

/** Encode type + value, decode both back (what a peer would see). */
function roundTrip(type: StructureDesc, value: PVStructure): { type: StructureDesc; value: PVStructure } {
  const w = new ByteWriter(true);
  encodeType(w, type);
  encodeValue(w, type, value);
  const r = new ByteReader(Buffer.concat(w.take()), true);
  const cache = new TypeCache();
  const dt = decodeType(r, cache) as StructureDesc;
  const dv = decodeValue(r, dt, cache) as PVStructure;
  assert.equal(r.remaining, 0);
  assert.ok(sameType(dt, type));
  return { type: dt, value: dv };
}

function typeBytes(d: FieldDesc): Buffer {
  const w = new ByteWriter(true);
  encodeType(w, d);
  return Buffer.concat(w.take());
}

function decodeHexType(hex: string): StructureDesc {
  const r = new ByteReader(Buffer.from(hex, 'hex'), true);
  const d = decodeType(r, new TypeCache()) as StructureDesc;
  assert.equal(r.remaining, 0);
  return d;
}

const names = (d: FieldDesc) => (d as StructureDesc).fields.map((m) => m.name);

// GET INIT reply type from softIocPVA (QSRV) for an ao record, pvacpp-get-put-monitor capture.
const QSRV_NTSCALAR =
  'fd0100801565706963733a6e742f4e545363616c61723a312e30060576616c75654305616c61726dfd02008007616c61726d' +
  '5f7403087365766572697479220673746174757322076d657373616765600974696d655374616d70fd030080000310736563' +
  '6f6e64735061737445706f6368230b6e616e6f7365636f6e64732207757365725461672207646973706c6179fd0400800006' +
  '086c696d69744c6f7743096c696d697448696768430b6465736372697074696f6e6005756e6974736009707265636973696f' +
  '6e2204666f726dfd05008006656e756d5f740205696e646578220763686f696365736807636f6e74726f6cfd06008009636f' +
  '6e74726f6c5f7403086c696d69744c6f7743096c696d69744869676843076d696e53746570430a76616c7565416c61726dfd' +
  '0700800c76616c7565416c61726d5f740a06616374697665000d6c6f77416c61726d4c696d6974430f6c6f775761726e696e' +
  '674c696d69744310686967685761726e696e674c696d6974430e68696768416c61726d4c696d697443106c6f77416c61726d' +
  '536576657269747922126c6f775761726e696e6753657665726974792213686967685761726e696e67536576657269747922' +
  '1168696768416c61726d5365766572697479220a6879737465726573697320';

// MONITOR INIT reply type of an NTNDArray served by PVXS, pvxs-server-ntndarray-monitor capture.
const PVXS_NTNDARRAY =
  '801665706963733a6e742f4e544e4441727261793a312e300c0576616c756581000b0c626f6f6c65616e56616c7565080962' +
  '79746556616c7565280a73686f727456616c75652908696e7456616c75652a096c6f6e6756616c75652b0a75627974655661' +
  '6c75652c0b7573686f727456616c75652d0975696e7456616c75652e0a756c6f6e6756616c75652f0a666c6f617456616c75' +
  '654a0b646f75626c6556616c75654b05636f6465638007636f6465635f7402046e616d65600a706172616d6574657273820e' +
  '636f6d7072657373656453697a652310756e636f6d7072657373656453697a65230964696d656e73696f6e88800b64696d65' +
  '6e73696f6e5f74050473697a6522066f6666736574220866756c6c53697a65220762696e6e696e6722077265766572736500' +
  '08756e697175654964220d6461746154696d655374616d70800674696d655f7403107365636f6e64735061737445706f6368' +
  '230b6e616e6f7365636f6e6473220775736572546167220961747472696275746588801865706963733a6e742f4e54417474' +
  '7269627574653a312e3005046e616d65600576616c7565820a64657363726970746f72600a736f7572636554797065220673' +
  '6f75726365600a64657363726970746f726005616c61726d8007616c61726d5f740308736576657269747922067374617475' +
  '7322076d657373616765600974696d655374616d70800674696d655f7403107365636f6e64735061737445706f6368230b6e' +
  '616e6f7365636f6e64732207757365725461672207646973706c61798009646973706c61795f7405086c696d69744c6f7743' +
  '096c696d697448696768430b6465736372697074696f6e6006666f726d61746005756e69747360';

// QSRV group "image" PV (value as any, untyped attribute[], dimension {size} only, no uniqueId),
// pvacpp-server-segmented capture.
const QSRV_GROUP_IMAGE =
  'fd0100801665706963733a6e742f4e544e4441727261793a312e3006067265636f7264fd0200800001085f6f7074696f6e73' +
  'fd030080000209717565756553697a65260661746f6d69630005616c61726dfd04008007616c61726d5f7403087365766572' +
  '697479220673746174757322076d657373616765600974696d655374616d70fd0500800003107365636f6e64735061737445' +
  '706f6368230b6e616e6f7365636f6e64732207757365725461672209617474726962757465fd060088fd0700800004046e61' +
  '6d65600576616c7565fd08008205616c61726dfe04000974696d655374616d70fe05000576616c7565fe08000964696d656e' +
  '73696f6efd090088fd0a008000010473697a6522';

test('common structures carry their type ids and pvDataCPP field order', () => {
  assert.deepEqual(
    [alarmT.id, timeT.id, displayT.id, controlT.id, valueAlarmT.id, enumT.id],
    ['alarm_t', 'time_t', 'display_t', 'control_t', 'valueAlarm_t', 'enum_t'],
  );
  assert.deepEqual(names(displayT), ['limitLow', 'limitHigh', 'description', 'format', 'units']);
  assert.deepEqual(names(timeT), ['secondsPastEpoch', 'nanoseconds', 'userTag']);
  assert.equal(valueAlarmTypeFor('int').fields[1]!.type, t.int);
  assert.deepEqual(names(valueAlarmTypeFor('boolean')), ['active', 'falseSeverity', 'trueSeverity', 'changeStateSeverity']);
  assert.equal(valueAlarmTypeFor('double'), valueAlarmT);
});

test('NTScalar type: cached, options in order, bytes as QSRV sends them', () => {
  const d = ntscalar.type('double');
  assert.equal(d, ntscalar.type('double'));
  assert.equal(d.id, 'epics:nt/NTScalar:1.0');
  assert.deepEqual(names(d), ['value', 'alarm', 'timeStamp']);
  const full = ntscalar.type('double', { display: true, control: true, valueAlarm: true, descriptor: true });
  assert.deepEqual(names(full), ['value', 'descriptor', 'alarm', 'timeStamp', 'display', 'control', 'valueAlarm']);

  // With QSRV's set of members, our bytes up to the alarm member equal the capture after its
  // cache prefix `fd 01 00` (from there QSRV uses cache ids for the nested types).
  const qsrvLike = ntscalar.type('double', { display: true, control: true, valueAlarm: true });
  const ours = typeBytes(qsrvLike);
  const capture = Buffer.from(QSRV_NTSCALAR, 'hex');
  const upToAlarm = ours.indexOf(Buffer.from('05616c61726d', 'hex')) + 6; // 05 "alarm"
  assert.equal(upToAlarm, 2 + 0x15 + 1 + 6 + 1 + 6); // 80 15 id, 06, 05 "value", 43, 05 "alarm"
  assert.deepEqual(ours.subarray(0, upToAlarm), capture.subarray(3, 3 + upToAlarm));
  assert.deepEqual([...capture.subarray(3 + upToAlarm, 3 + upToAlarm + 3)], [0xfd, 0x02, 0x00]); // alarm_t via cache

  // Decoded, QSRV's structure agrees member by member where it follows the standard layouts.
  const q = decodeHexType(QSRV_NTSCALAR);
  assert.ok(ntscalar.is(q));
  assert.deepEqual(names(q), names(qsrvLike));
  assert.equal(q.fields[0]!.type, t.double);
  assert.ok(sameType(q.fields[1]!.type, alarmT));
  assert.deepEqual(names(q.fields[2]!.type), names(timeT)); // QSRV omits the time_t id
  assert.ok(sameType(q.fields[4]!.type, controlT));
  assert.ok(sameType(q.fields[5]!.type, valueAlarmT)); // hysteresis is a byte
});

test('NTScalar create / round trip / read', () => {
  const ts = { secondsPastEpoch: 1_700_000_000n, nanoseconds: 5, userTag: 0 };
  const { type, value } = ntscalar.create('double', 1.5, { timeStamp: ts, alarm: { severity: 1, status: 3, message: 'HIGH' } });
  const back = roundTrip(type, value);
  assert.deepEqual(back.value, value);
  const r = ntscalar.read(back.value);
  assert.equal(r.value, 1.5);
  assert.deepEqual(r.alarm, { severity: 1, status: 3, message: 'HIGH' });
  assert.deepEqual(r.timeStamp, ts);
  assert.equal(r.units, '');
  // tolerant of a bare structure with other widths
  const other = ntscalar.read({ value: 7, timeStamp: { secondsPastEpoch: 3, nanoseconds: 4 } });
  assert.deepEqual(other.timeStamp, { secondsPastEpoch: 3n, nanoseconds: 4, userTag: 0 });
  assert.equal(other.alarm, undefined);
});

test('NTScalarArray', () => {
  const { type, value } = ntscalarArray.create('int', new Int32Array([1, 2, 3]), {}, { display: true });
  assert.equal(type.id, 'epics:nt/NTScalarArray:1.0');
  assert.deepEqual(names(type), ['value', 'alarm', 'timeStamp', 'display']);
  const back = roundTrip(type, value);
  assert.deepEqual([...(ntscalarArray.read(back.value).value as Int32Array)], [1, 2, 3]);
  assert.ok(ntscalarArray.is(type));
  assert.ok(!ntscalar.is(type));
});

test('is() accepts any minor version of major 1 only', () => {
  const mk = (id: string) => t.struct({ value: t.double }, id);
  assert.ok(ntscalar.is(mk('epics:nt/NTScalar:1.0')));
  assert.ok(ntscalar.is(mk('epics:nt/NTScalar:1.2')));
  assert.ok(!ntscalar.is(mk('epics:nt/NTScalar:2.0')));
  assert.ok(!ntscalar.is(mk('epics:nt/NTScalar:10.0')));
  assert.ok(!ntscalar.is(mk('epics:nt/NTScalarArray:1.0')));
  assert.ok(!ntscalar.is(t.double));
  assert.ok(!ntscalar.is(null));
  assert.ok(ntndarray.is(decodeHexType(QSRV_GROUP_IMAGE)));
});

test('NTEnum', () => {
  const { type, value } = ntenum.create(1, ['Off', 'On']);
  assert.deepEqual(names(type), ['value', 'alarm', 'timeStamp']);
  assert.equal(type.fields[0]!.type, enumT);
  const r = ntenum.read(roundTrip(type, value).value);
  assert.deepEqual([r.index, r.choices, r.choice], [1, ['Off', 'On'], 'On']);
  assert.equal(ntenum.read({ value: { index: 5, choices: ['a'] } }).choice, undefined);
});

test('NTTable', () => {
  const { type, value } = nttable.create({ x: new Float64Array([1, 2]), name: ['a', 'b'] }, ['X', 'Name']);
  assert.deepEqual(names(type), ['labels', 'value']);
  assert.deepEqual(names(type.fields[1]!.type), ['x', 'name']);
  assert.equal((type.fields[1]!.type as StructureDesc).id, '');
  const back = roundTrip(type, value).value;
  const r = nttable.read(back);
  assert.deepEqual(r.labels, ['X', 'Name']);
  assert.equal(r.rowCount, 2);
  assert.deepEqual(nttable.rows(back), [
    { x: 1, name: 'a' },
    { x: 2, name: 'b' },
  ]);
  assert.deepEqual(nttable.read(null), { labels: [], columns: {}, rowCount: 0, alarm: undefined, timeStamp: undefined });
});

test('NTURI', () => {
  const { type, value } = nturi.create('calc:add', { a: 1, b: 'two' });
  assert.deepEqual(names(type), ['scheme', 'path', 'query']);
  assert.ok(sameType(type.fields[2]!.type, t.struct({ a: t.int, b: t.string })));
  const r = nturi.read(roundTrip(type, value).value);
  assert.deepEqual(r, { scheme: 'pva', authority: '', path: 'calc:add', query: { a: 1, b: 'two' } });
  assert.deepEqual(names(nturi.type({}, { authority: true })), ['scheme', 'authority', 'path']);
});

test('NTAttribute, standalone and as NTNDArray carries it', () => {
  const { type, value } = ntattribute.create('Gain', 2.5, { descriptor: 'gain' }, { descriptor: true });
  assert.deepEqual(names(type), ['name', 'value', 'descriptor']);
  const r = ntattribute.read(roundTrip(type, value).value);
  assert.deepEqual([r.name, r.value, r.descriptor], ['Gain', 2.5, 'gain']);
  assert.equal(r.valueType, t.double);
  assert.deepEqual(names(ntattribute.ndType()), ['name', 'value', 'descriptor', 'sourceType', 'source']);
  assert.deepEqual(names(ntattribute.ndType({ tags: true, alarm: true, timeStamp: true })), [
    'name',
    'value',
    'tags',
    'descriptor',
    'sourceType',
    'source',
    'alarm',
    'timeStamp',
  ]);
  assert.equal(AttributeSource.EpicsPV, 2);
});

test('NTNDArray type is byte-identical to the normativeTypesCPP layout seen on the wire', () => {
  const d = ntndarray.type();
  assert.equal(d, ntndarray.type({}));
  assert.deepEqual(names(d), [
    'value',
    'codec',
    'compressedSize',
    'uncompressedSize',
    'dimension',
    'uniqueId',
    'dataTimeStamp',
    'attribute',
    'descriptor',
    'alarm',
    'timeStamp',
    'display',
  ]);
  assert.deepEqual(typeBytes(d), Buffer.from(PVXS_NTNDARRAY, 'hex'));
  assert.deepEqual(names(ntndarray.type({ descriptor: false, display: false })).slice(8), ['alarm', 'timeStamp']);
});

test('union field names ↔ data types', () => {
  assert.equal(dataTypeOfUnionField('ubyteValue'), 'ubyte');
  assert.equal(dataTypeOfUnionField('doubleValue'), 'double');
  assert.equal(dataTypeOfUnionField('stringValue'), undefined);
  assert.equal(dataTypeOfUnionField('value'), undefined);
  assert.equal(unionFieldOfDataType('ushort'), 'ushortValue');
  assert.throws(() => unionFieldOfDataType('string'), /no string data/);
  assert.deepEqual(ColorMode, { Mono: 0, Bayer: 1, RGB1: 2, RGB2: 3, RGB3: 4, YUV444: 5, YUV422: 6, YUV411: 7 });
});

test('NTNDArray build fills sizes, dimensions and ColorMode; read gets them back', () => {
  const data = new Uint16Array(12).map((_, i) => i * 100);
  const dts = { secondsPastEpoch: 1_700_000_001n, nanoseconds: 250, userTag: 0 };
  const v = ntndarray.build({
    data,
    dims: [4, 3],
    uniqueId: 42,
    dataTimeStamp: dts,
    colorMode: ColorMode.Mono,
    attributes: [
      { name: 'Temp', value: 21.5, descriptor: 'sensor', sourceType: AttributeSource.EpicsPV, source: 'SIM:T' },
      { name: 'ColorMode', value: 9 }, // replaced by colorMode
    ],
  });
  assert.equal(v['value'].value, data); // referenced, not copied
  assert.equal(v['value'].field, 'ushortValue');
  assert.equal(v['compressedSize'], 24n);
  assert.equal(v['uncompressedSize'], 24n);
  assert.deepEqual(v['dimension'][1], { size: 3, offset: 0, fullSize: 3, binning: 1, reverse: false });
  assert.deepEqual(v['timeStamp'], dts);
  assert.equal(v['attribute'].length, 2);
  assert.equal(v['attribute'][1].value.type, t.int);

  const back = roundTrip(ntndarray.type(), v).value;
  const r = ntndarray.read(back);
  assert.deepEqual([...(r.data as Uint16Array)], [...data]);
  assert.ok(r.data instanceof Uint16Array);
  assert.equal(r.dtype, 'ushort');
  assert.deepEqual(r.dims, [4, 3]);
  assert.equal(r.uniqueId, 42);
  assert.equal(r.colorMode, 0);
  assert.equal(r.codec, '');
  assert.equal(r.uncompressedType, 'ushort');
  assert.deepEqual([r.compressedSize, r.uncompressedSize], [24, 24]);
  assert.equal(r.attributes.get('Temp'), 21.5);
  assert.deepEqual([...r.attributes.keys()], ['Temp', 'ColorMode']);
  assert.deepEqual(r.dataTimeStamp, dts);
  assert.deepEqual(r.timeStamp, dts);
});

test('NTNDArray with a codec records the decoded element type', () => {
  const packed = new Uint8Array(10);
  const v = ntndarray.build({ data: packed, dims: [8, 2], uniqueId: 1, codec: { name: 'lz4', uncompressedType: 'short' } });
  assert.equal(v['compressedSize'], 10n);
  assert.equal(v['uncompressedSize'], 32n);
  assert.deepEqual(v['codec'].parameters, { type: t.int, value: 2 }); // pvShort
  const r = ntndarray.read(roundTrip(ntndarray.type(), v).value);
  assert.equal(r.codec, 'lz4');
  assert.equal(r.dtype, 'ubyte');
  assert.equal(r.uncompressedType, 'short');
  assert.equal(r.colorMode, undefined);
});

test('NTNDArray reader tolerates the QSRV group variant', () => {
  const type = decodeHexType(QSRV_GROUP_IMAGE);
  assert.deepEqual(names(type), ['record', 'alarm', 'timeStamp', 'attribute', 'value', 'dimension']);
  const v = defaultValue(type) as PVStructure;
  const pixels = new Uint8Array([1, 2, 3, 4, 5, 6]);
  v['value'] = { type: t.array('ubyte'), value: pixels };
  v['dimension'] = [{ size: 3 }, { size: 2 }];
  v['attribute'] = [
    {
      name: 'ColorMode',
      value: { type: t.int, value: 2 },
      alarm: { severity: 0, status: 0, message: '' },
      timeStamp: { secondsPastEpoch: 0n, nanoseconds: 0, userTag: 0 },
    },
    null,
  ];
  v['timeStamp'] = { secondsPastEpoch: 9n, nanoseconds: 8, userTag: 7 };
  const r = ntndarray.read(roundTrip(type, v).value);
  assert.deepEqual([...(r.data as Uint8Array)], [...pixels]);
  assert.equal(r.dtype, 'ubyte');
  assert.deepEqual(r.dims, [3, 2]);
  assert.equal(r.uniqueId, 0);
  assert.equal(r.colorMode, ColorMode.RGB1);
  assert.equal(r.dataTimeStamp, undefined);
  assert.deepEqual(r.timeStamp, { secondsPastEpoch: 9n, nanoseconds: 8, userTag: 7 });
  // nothing at all
  const empty = ntndarray.read(undefined);
  assert.deepEqual([empty.data, empty.dtype, empty.dims, empty.attributes.size], [null, null, [], 0]);
});

test('time helpers', () => {
  const before = Date.now();
  const now = timeNow();
  const ms = Number(now.secondsPastEpoch) * 1000 + now.nanoseconds / 1e6;
  assert.ok(Math.abs(ms - before) < 50, `${ms} vs ${before}`);
  assert.ok(now.nanoseconds >= 0 && now.nanoseconds < 1e9);
  const d = new Date('2024-05-06T07:08:09.123Z');
  const ts = timeFromDate(d);
  assert.deepEqual(ts, { secondsPastEpoch: BigInt(Math.floor(d.getTime() / 1000)), nanoseconds: 123_000_000, userTag: 0 });
  assert.equal(timeToDate(ts).toISOString(), '2024-05-06T07:08:09.123Z');
});
