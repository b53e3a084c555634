// Channel Access wire format from the protocol specification, byte by byte: the 16-byte header
// and its extended form, payload padding, DBR structure sizes and layouts (alignment padding
// included), the EPICS epoch; the framer fed one byte at a time and in random pieces; and
// malformed input (lying sizes, truncation, unknown types) refused without large allocations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { Cmd, DbrBase, DbrClass, EPICS_EPOCH_OFFSET, dbrCode, dbrName } from '../../src/ca/constants.js';
import { decodeDbr, dbrSize, encodeDbr } from '../../src/ca/dbr.js';
import { CaFramer } from '../../src/ca/framer.js';
import { encodeMessage, headerLength, pad8, readHeader, splitDatagram, type CaMessage } from '../../src/ca/header.js';
import { hex, unhex } from '../helpers/messages.js';
import { prng, randomSplits } from '../helpers/random.js';

// ---- a tiny big-endian builder, independent of the code under test ---------------------------
const be = {
  u16: (n: number) => [(n >> 8) & 255, n & 255],
  i16: (n: number) => be.u16(n & 0xffff),
  u32: (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255],
  f32: (n: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatBE(n);
    return [...b];
  },
  f64: (n: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(n);
    return [...b];
  },
  str: (s: string, size: number) => [...Buffer.from(s, 'latin1'), ...new Array<number>(size - s.length).fill(0)],
  zeros: (n: number) => new Array<number>(n).fill(0),
};
const bytes = (...parts: number[][]): Uint8Array => new Uint8Array(parts.flat());

test('EPICS epoch: 1990-01-01 UTC in POSIX seconds', () => {
  assert.equal(EPICS_EPOCH_OFFSET, Date.UTC(1990, 0, 1) / 1000);
});

test('header: 16 bytes big-endian; payload padded to 8; extended form for large payloads and counts', () => {
  // CREATE_CHAN of "AB" (3 bytes with the NUL → 8), cid 0x01020304, minor version 13.
  const name = new Uint8Array([0x41, 0x42, 0]);
  const m = encodeMessage({ command: Cmd.CREATE_CHAN, dataType: 0, count: 0, p1: 0x01020304, p2: 13 }, name);
  assert.equal(hex(m), hex(bytes(be.u16(18), be.u16(8), be.u16(0), be.u16(0), be.u32(0x01020304), be.u32(13), [0x41, 0x42], be.zeros(6))));
  assert.deepEqual(readHeader(m), { command: 18, payloadSize: 8, dataType: 0, count: 0, p1: 0x01020304, p2: 13 });
  // Payload of 0xFFFF bytes or more, or a count of 0xFFFF or more: 0xFFFF and 0, then both in 32 bits.
  const big = encodeMessage({ command: Cmd.READ_NOTIFY, dataType: 6, count: 70000, p1: 1, p2: 2 }, new Uint8Array(70000 * 8 + 16));
  assert.equal(
    hex(big.subarray(0, 24)),
    hex(bytes(be.u16(15), be.u16(0xffff), be.u16(6), be.u16(0), be.u32(1), be.u32(2), be.u32(560016), be.u32(70000))),
  );
  assert.equal(headerLength(big), 24);
  assert.deepEqual(readHeader(big), { command: 15, payloadSize: 560016, dataType: 6, count: 70000, p1: 1, p2: 2 });
  const manyNoData = encodeMessage({ command: Cmd.READ_NOTIFY, dataType: 6, count: 0xffff, p1: 0, p2: 0 });
  assert.equal(manyNoData.length, 24, 'a count of 0xFFFF needs the extended form even without payload');
  assert.deepEqual([pad8(0), pad8(1), pad8(8), pad8(9), pad8(560016)], [0, 8, 8, 16, 560016]);
  assert.equal(headerLength(m.subarray(0, 15)), 0, 'fewer than 16 bytes: no header yet');
});

test('DBR structure sizes are those of the C structures, for all 35 types', () => {
  // sizeof(struct dbr_*) of db_access.h, class by class: STRING SHORT FLOAT ENUM CHAR LONG DOUBLE.
  const SIZES = [
    [40, 2, 4, 2, 1, 4, 8],
    [44, 6, 8, 6, 6, 8, 16],
    [52, 16, 16, 16, 16, 16, 24],
    [44, 26, 44, 424, 20, 40, 72],
    [44, 30, 52, 424, 22, 48, 88],
  ];
  for (let cls = 0; cls < 5; cls++) {
    for (let base = 0; base < 7; base++) {
      const code = base + 7 * cls;
      assert.equal(dbrSize(code, 1), SIZES[cls]![base], dbrName(code));
    }
  }
  assert.equal(dbrName(20), 'DBR_TIME_DOUBLE');
  assert.equal(dbrName(31), 'DBR_CTRL_ENUM');
});

const stamp = { secPastEpoch: 0x01020304, nsec: 0x05060708 };

/** Each vector: type, values, metadata, and the expected bytes built field by field. */
const VECTORS: { name: string; code: number; values: number[] | string[]; meta: Parameters<typeof encodeDbr>[2]; expect: Uint8Array }[] = [
  {
    name: 'DBR_TIME_SHORT: 2 bytes of RISC padding before the value',
    code: dbrCode(DbrBase.SHORT, DbrClass.TIME),
    values: [-2],
    meta: { status: 3, severity: 2, stamp },
    expect: bytes(be.i16(3), be.i16(2), be.u32(stamp.secPastEpoch), be.u32(stamp.nsec), be.zeros(2), be.i16(-2)),
  },
  {
    name: 'DBR_TIME_CHAR × 3: 3 bytes of padding, then unsigned chars, padded to 24',
    code: dbrCode(DbrBase.CHAR, DbrClass.TIME),
    values: [1, 2, 250],
    meta: { stamp },
    expect: bytes(be.zeros(4), be.u32(stamp.secPastEpoch), be.u32(stamp.nsec), be.zeros(3), [1, 2, 250], be.zeros(6)),
  },
  {
    name: 'DBR_TIME_DOUBLE: 4 bytes of padding before the value',
    code: dbrCode(DbrBase.DOUBLE, DbrClass.TIME),
    values: [1.5, -0.25],
    meta: { status: 17, severity: 3, stamp },
    expect: bytes(be.i16(17), be.i16(3), be.u32(stamp.secPastEpoch), be.u32(stamp.nsec), be.zeros(4), be.f64(1.5), be.f64(-0.25)),
  },
  {
    name: 'DBR_TIME_ENUM',
    code: dbrCode(DbrBase.ENUM, DbrClass.TIME),
    values: [2],
    meta: { stamp },
    expect: bytes(be.zeros(4), be.u32(stamp.secPastEpoch), be.u32(stamp.nsec), be.zeros(2), be.u16(2)),
  },
  {
    name: 'DBR_TIME_STRING × 2: 40-byte NUL-padded strings, padded to 96',
    code: dbrCode(DbrBase.STRING, DbrClass.TIME),
    values: ['ab', 'c'],
    meta: { stamp },
    expect: bytes(be.zeros(4), be.u32(stamp.secPastEpoch), be.u32(stamp.nsec), be.str('ab', 40), be.str('c', 40), be.zeros(4)),
  },
  {
    name: 'DBR_STS_CHAR: 1 byte of padding',
    code: dbrCode(DbrBase.CHAR, DbrClass.STS),
    values: [7],
    meta: { status: 1, severity: 1 },
    expect: bytes(be.i16(1), be.i16(1), [0, 7], be.zeros(2)),
  },
  {
    name: 'DBR_GR_FLOAT: precision, pad, units, 6 limits',
    code: dbrCode(DbrBase.FLOAT, DbrClass.GR),
    values: [0.5],
    meta: {
      precision: 2,
      units: 'V',
      limits: { upperDisp: 10, lowerDisp: -10, upperAlarm: 9, upperWarning: 8, lowerWarning: -8, lowerAlarm: -9 },
    },
    expect: bytes(be.zeros(4), be.i16(2), be.zeros(2), be.str('V', 8), ...[10, -10, 9, 8, -8, -9].map(be.f32), be.f32(0.5), be.zeros(4)),
  },
  {
    name: 'DBR_CTRL_DOUBLE: precision, pad, units, 8 limits',
    code: dbrCode(DbrBase.DOUBLE, DbrClass.CTRL),
    values: [1.5],
    meta: {
      precision: 3,
      units: 'mm',
      limits: {
        upperDisp: 100,
        lowerDisp: -100,
        upperAlarm: 90,
        upperWarning: 80,
        lowerWarning: -80,
        lowerAlarm: -90,
        upperCtrl: 50,
        lowerCtrl: -50,
      },
    },
    expect: bytes(be.zeros(4), be.i16(3), be.zeros(2), be.str('mm', 8), ...[100, -100, 90, 80, -80, -90, 50, -50].map(be.f64), be.f64(1.5)),
  },
  {
    name: 'DBR_CTRL_CHAR: units, 8 one-byte limits, 1 byte of padding',
    code: dbrCode(DbrBase.CHAR, DbrClass.CTRL),
    values: [200],
    meta: {
      units: 'cts',
      limits: {
        upperDisp: 255,
        lowerDisp: 0,
        upperAlarm: 250,
        upperWarning: 240,
        lowerWarning: 10,
        lowerAlarm: 5,
        upperCtrl: 254,
        lowerCtrl: 1,
      },
    },
    expect: bytes(be.zeros(4), be.str('cts', 8), [255, 0, 250, 240, 10, 5, 254, 1], [0, 200], be.zeros(2)),
  },
  {
    name: 'DBR_CTRL_LONG',
    code: dbrCode(DbrBase.LONG, DbrClass.CTRL),
    values: [-7],
    meta: { units: '', limits: { upperDisp: 1000, lowerDisp: -1000 } },
    expect: bytes(be.zeros(4), be.zeros(8), be.u32(1000), be.u32(-1000 >>> 0), be.zeros(24), be.u32(-7 >>> 0)),
  },
  {
    name: 'DBR_CTRL_ENUM: number of states, 16 × 26-byte state strings, the index',
    code: dbrCode(DbrBase.ENUM, DbrClass.CTRL),
    values: [1],
    meta: { status: 7, severity: 1, strs: ['Off', 'On'] },
    expect: bytes(be.i16(7), be.i16(1), be.i16(2), be.str('Off', 26), be.str('On', 26), be.zeros(14 * 26), be.u16(1)),
  },
];

for (const v of VECTORS) {
  test(`DBR golden vector: ${v.name}`, () => {
    const enc = encodeDbr(v.code, v.values, v.meta);
    assert.equal(enc.length % 8, 0, 'padded to 8 bytes');
    assert.equal(hex(enc), hex(v.expect));
    const dec = decodeDbr(v.code, v.values.length, v.expect);
    assert.deepEqual(Array.from(dec.value as ArrayLike<number | string>), v.values);
    for (const k of ['status', 'severity', 'stamp', 'precision', 'units', 'strs'] as const) {
      if (v.meta?.[k] !== undefined) assert.deepEqual(dec.meta[k], v.meta[k], k);
    }
    for (const [k, x] of Object.entries(v.meta?.limits ?? {})) assert.equal(dec.meta.limits?.[k as keyof typeof dec.meta.limits], x, k);
  });
}

test('DBR: plain types carry only values; strings are cut to 39 bytes on a UTF-8 boundary', () => {
  assert.equal(hex(encodeDbr(dbrCode(DbrBase.SHORT, DbrClass.PLAIN), [1, -1, 3])), '0001ffff00030000');
  const long = 'é'.repeat(30); // 60 bytes in UTF-8
  const enc = encodeDbr(0, [long]);
  assert.equal(enc.length, 40);
  assert.equal(enc[38], 0, 'the 2-byte é at bytes 38-39 does not fit with its NUL: it is left out');
  assert.equal((decodeDbr(0, 1, enc).value as string[])[0], 'é'.repeat(19));
  // A string written by a client is sent cut after its NUL (caput does this).
  assert.deepEqual(decodeDbr(0, 1, unhex('332e350000000000')).value, ['3.5']);
});

test('DBR: a count the payload cannot hold is refused before anything is allocated', () => {
  const payload = new Uint8Array(24);
  for (const [code, count] of [
    [20, 2],
    [20, 0xffffffff],
    [0, 1e9],
    [34, 1],
  ] as const) {
    assert.throws(
      () => decodeDbr(code, count, payload),
      (e: unknown) => e instanceof SluiceError && e.code === 'ERR_DECODE',
      `${dbrName(code)} × ${count}`,
    );
  }
  assert.throws(() => decodeDbr(35, 1, payload), /unsupported DBR type 35/);
  assert.throws(() => decodeDbr(1000, 1, payload), /unsupported DBR type 1000/);
  assert.deepEqual(Array.from(decodeDbr(20, 0, new Uint8Array(16)).value as Float64Array), [], 'count 0: metadata only');
});

// ---- the framer ------------------------------------------------------------------------------

function stream(): { bytes: Uint8Array; messages: { command: number; payloadSize: number; count: number; payloadHex: string }[] } {
  const parts = [
    encodeMessage({ command: Cmd.VERSION, dataType: 0, count: 13, p1: 0, p2: 0 }),
    encodeMessage({ command: Cmd.CREATE_CHAN, dataType: 0, count: 0, p1: 7, p2: 13 }, new TextEncoder().encode('SOME:NAME\0')),
    encodeMessage(
      { command: Cmd.EVENT_ADD, dataType: 20, count: 9000, p1: 1, p2: 2 },
      new Uint8Array(9000 * 8 + 16).map((_, i) => i & 255),
    ), // 72016 bytes: extended
    encodeMessage({ command: Cmd.ECHO, dataType: 0, count: 0, p1: 0, p2: 0 }),
    encodeMessage({ command: Cmd.READ_NOTIFY, dataType: 6, count: 0xffff, p1: 3, p2: 4 }),
  ];
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  const messages = parts.map((p) => {
    all.set(p, at);
    at += p.length;
    const h = readHeader(p);
    return { command: h.command, payloadSize: h.payloadSize, count: h.count, payloadHex: hex(p.subarray(headerLength(p))) };
  });
  return { bytes: all, messages };
}

const seen = (out: CaMessage[]) =>
  out.map((m) => ({ command: m.header.command, payloadSize: m.header.payloadSize, count: m.header.count, payloadHex: hex(m.payload) }));

test('framer: the same messages whether fed whole, one byte at a time, or in random pieces', () => {
  const { bytes: data, messages } = stream();
  const whole: CaMessage[] = [];
  new CaFramer((m) => whole.push(m), 1 << 20).push(data);
  assert.deepEqual(seen(whole), messages);

  const single: CaMessage[] = [];
  const f = new CaFramer((m) => single.push(m), 1 << 20);
  for (let i = 0; i < data.length; i++) f.push(data.subarray(i, i + 1));
  assert.deepEqual(seen(single), messages);
  assert.equal(f.pendingBytes, 0);

  for (const seed of [1, 2, 3]) {
    const out: CaMessage[] = [];
    const g = new CaFramer((m) => out.push(m), 1 << 20);
    for (const piece of randomSplits(data, prng(seed), 4096)) g.push(piece);
    assert.deepEqual(seen(out), messages, `seed ${seed}`);
  }
});

test('framer: a payload claimed larger than the limit is refused at the header, before it arrives', () => {
  const f = new CaFramer(() => assert.fail('no message expected'), 1 << 20);
  // Extended header claiming 4 GiB - 1, fed byte by byte: refused on its 24th byte.
  const h = bytes(be.u16(Cmd.READ_NOTIFY), be.u16(0xffff), be.u16(6), be.u16(0), be.u32(1), be.u32(1), be.u32(0xffffffff), be.u32(1));
  for (let i = 0; i < 23; i++) f.push(h.subarray(i, i + 1));
  assert.throws(
    () => f.push(h.subarray(23)),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_MESSAGE_TOO_LARGE' && /4294967295-byte payload/.test(e.message),
  );
  assert.ok(f.pendingBytes < 64, 'nothing of the claimed size was reserved');
});

test('datagrams: several messages split; a message running past the end is refused', () => {
  const d = unhex('000000000001000d0000000100000000000600080005000d0000000100000001494f433a61690000');
  const ms = splitDatagram(d);
  assert.deepEqual(
    ms.map((m) => m.header.command),
    [Cmd.VERSION, Cmd.SEARCH],
  );
  assert.throws(
    () => splitDatagram(d.subarray(0, d.length - 1)),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_DECODE',
  );
  assert.throws(() => splitDatagram(d.subarray(0, 20)), /datagram ends inside a CA header/);
});
