// Channel Access messages captured between EPICS base tools and softIoc (test/fixtures/ca/softioc.hex):
// the messages our client sends are byte for byte those of caget/camonitor, the messages our
// server sends are byte for byte those of softIoc, and softIoc's replies decode to the record
// values (and re-encode to the same bytes).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Cmd, DbrBase, EPICS_EPOCH_OFFSET } from '../../src/ca/constants.js';
import { decodeDbr, encodeDbr } from '../../src/ca/dbr.js';
import { encodeMessage, headerLength, readHeader, splitDatagram } from '../../src/ca/header.js';
import * as msg from '../../src/ca/messages.js';
import { ntTypeOf, ntValueOf } from '../../src/ca/nt-mapping.js';
import { hex, unhex } from '../helpers/messages.js';

const text = readFileSync(new URL('../../../test/fixtures/ca/softioc.hex', import.meta.url), 'utf8');
const CAPTURED = new Map(
  text
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [label, h] = l.split(/\s+/);
      return [label as string, unhex(h as string)];
    }),
);

function cap(label: string): Uint8Array {
  const b = CAPTURED.get(label);
  assert.ok(b, `fixture ${label}`);
  return b;
}

const join = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** Header and payload of a captured message. */
function parts(label: string) {
  const m = cap(label);
  const h = readHeader(m);
  return { h, payload: m.subarray(headerLength(m)) };
}

test('our client sends what caget and camonitor send', () => {
  assert.equal(hex(join(msg.udpVersion(1), msg.search('IOC:ai', 1))), hex(cap('udp-search-request')));
  assert.equal(hex(msg.createChan(1, 'IOC:ai')), hex(cap('client-create-chan')));
  assert.equal(hex(msg.readNotify(15, 1, 20, 1)), hex(cap('client-read-time-double')));
  assert.equal(hex(msg.clearChannel(15, 1)), hex(cap('client-clear-channel')));
  assert.equal(hex(msg.eventAdd(29, 1, 20, 0, 5)), hex(cap('client-event-add')));
  assert.equal(hex(msg.readNotify(30, 1, 20, 70000)), hex(cap('client-read-70000')));
  assert.equal(hex(encodeMessage({ command: Cmd.EVENTS_OFF, dataType: 0, count: 0, p1: 0, p2: 0 })), hex(cap('client-events-off')));
  // caput sends a lone string cut after its NUL; our server reads it.
  const w = parts('client-write-string');
  assert.equal(w.h.command, Cmd.WRITE);
  assert.deepEqual(decodeDbr(w.h.dataType, w.h.count, w.payload).value, ['3.5']);
});

test('our server sends what softIoc sends', () => {
  assert.equal(hex(msg.version()), hex(cap('server-version')));
  assert.equal(hex(msg.accessRights(1, 3)), hex(cap('server-access-rights')));
  assert.equal(hex(msg.createChanReply(1, 15, DbrBase.DOUBLE, 1)), hex(cap('server-create-chan')));
  assert.equal(
    hex(msg.createChanReply(1, 30, DbrBase.DOUBLE, 100000)),
    hex(cap('server-create-chan-wave')),
    'extended form for a count of 100000',
  );
  assert.equal(hex(msg.clearChannelReply(15, 1)), hex(cap('server-clear-channel')));
  assert.equal(hex(join(msg.udpVersion(1), msg.searchReply(44387, 0xffffffff, 1))), hex(cap('udp-search-reply')));
  assert.equal(hex(msg.dataReply(Cmd.EVENT_ADD, 31, 3, 17, 0)), hex(cap('server-event-cancel-confirm')));
  const reply = splitDatagram(cap('udp-search-reply'))[1]!;
  assert.deepEqual(msg.readSearchReply(reply.header, reply.payload), { port: 44387, host: null, searchId: 1, minorVersion: 13 });
});

/** softIoc's replies: decoded values, and the same bytes when encoded again. */
const REPLIES: { label: string; values: unknown[]; check?: (d: ReturnType<typeof decodeDbr>) => void }[] = [
  { label: 'reply-time-double-ai', values: [1.5] },
  { label: 'reply-time-double-ao', values: [3.5] },
  { label: 'event-time-double-counter', values: [1795] },
  { label: 'reply-time-string-str', values: ['hello'] },
  { label: 'reply-time-char-bytes', values: [1, 2, 250] },
  {
    label: 'reply-gr-short-shorts',
    values: [0, 0, 0, 0, 0, 0, 0, 0],
    check: (d) => assert.deepEqual([d.meta.status, d.meta.severity], [17, 3], 'UDF, INVALID'),
  },
  { label: 'reply-ctrl-long-long', values: [17] },
  {
    label: 'reply-ctrl-enum-mbbi',
    values: [0],
    check: (d) => assert.deepEqual(d.meta.strs, ['Zero', 'One', 'Two']),
  },
  {
    label: 'reply-ctrl-double-ai',
    values: [1.5],
    check: (d) => {
      assert.equal(d.meta.precision, 3);
      assert.equal(d.meta.units, 'mm');
      assert.deepEqual([d.meta.limits?.upperDisp, d.meta.limits?.lowerDisp, d.meta.limits?.upperAlarm], [100, -100, 90]);
      assert.ok(Number.isNaN(d.meta.limits?.upperWarning), 'unset limits are NaN in an ai');
    },
  },
];

/**
 * The alignment padding of the DBR structures (RISC_pad) as byte ranges by DBR type: softIoc does
 * not initialise it (the captures hold stray bytes there), we send zeros.
 */
const PADDING: Record<number, [number, number]> = {
  11: [4, 5],
  13: [4, 8],
  15: [12, 14],
  17: [12, 14],
  18: [12, 15],
  20: [12, 16],
  23: [6, 8],
  25: [18, 19],
  27: [6, 8],
  30: [6, 8],
  32: [20, 21],
  34: [6, 8],
};

function zeroPadding(code: number, bytes: Uint8Array, at = 0): Uint8Array {
  const out = bytes.slice();
  const r = PADDING[code];
  if (r) out.fill(0, at + r[0], at + r[1]);
  return out;
}

for (const r of REPLIES) {
  test(`softIoc reply ${r.label}: decodes, and encodes back to the same bytes`, () => {
    const { h, payload } = parts(r.label);
    const d = decodeDbr(h.dataType, h.count, payload);
    assert.deepEqual(Array.from(d.value as ArrayLike<unknown>), r.values);
    r.check?.(d);
    assert.equal(hex(encodeDbr(h.dataType, d.value, d.meta)), hex(zeroPadding(h.dataType, payload)));
    const whole = cap(r.label);
    assert.equal(
      hex(encodeMessage({ ...h }, encodeDbr(h.dataType, d.value, d.meta))),
      hex(zeroPadding(h.dataType, whole, headerLength(whole))),
    );
  });
}

test('a 560040-byte softIoc reply: extended header and the first elements', () => {
  const head = cap('reply-70000-head');
  const h = readHeader(head);
  assert.deepEqual(h, { command: Cmd.READ_NOTIFY, payloadSize: 560016, dataType: 20, count: 70000, p1: 1, p2: 1 });
  assert.equal(headerLength(head), 24);
  assert.deepEqual(Array.from(decodeDbr(20, 4, head.subarray(24)).value as Float64Array), [0, 0.5, 1, 1.5]);
});

test('softIoc records as normative types: NTScalar with display, NTEnum with labels', () => {
  const t = parts('reply-time-double-ai');
  const c = parts('reply-ctrl-double-ai');
  const native = { base: DbrBase.DOUBLE, count: 1 } as const;
  const v = ntValueOf(native, decodeDbr(t.h.dataType, t.h.count, t.payload), decodeDbr(c.h.dataType, 1, c.payload).meta);
  assert.equal(ntTypeOf(native).id, 'epics:nt/NTScalar:1.0');
  assert.equal(v['value'], 1.5);
  assert.deepEqual(v['display'], { limitLow: -100, limitHigh: 100, description: '', format: '%.3f', units: 'mm' });
  assert.deepEqual(v['alarm'], { severity: 0, status: 0, message: 'NO_ALARM' });
  const stampSecs = new DataView(t.payload.buffer, t.payload.byteOffset).getUint32(4);
  assert.equal(v['timeStamp'].secondsPastEpoch, BigInt(stampSecs + EPICS_EPOCH_OFFSET));

  const e = parts('reply-ctrl-enum-mbbi');
  const enumNative = { base: DbrBase.ENUM, count: 1 } as const;
  const ev = ntValueOf(enumNative, decodeDbr(e.h.dataType, 1, e.payload), decodeDbr(e.h.dataType, 1, e.payload).meta);
  assert.equal(ntTypeOf(enumNative).id, 'epics:nt/NTEnum:1.0');
  assert.deepEqual(ev['value'], { index: 0, choices: ['Zero', 'One', 'Two'] });

  const s = parts('reply-gr-short-shorts');
  const arr = ntValueOf({ base: DbrBase.SHORT, count: 8 }, decodeDbr(s.h.dataType, s.h.count, s.payload), null);
  assert.ok(arr['value'] instanceof Int16Array);
  assert.deepEqual(arr['alarm'], { severity: 3, status: 2, message: 'UDF' });
});
