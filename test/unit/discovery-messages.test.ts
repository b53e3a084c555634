// Golden vectors are whole datagrams from the reference capture udp-search-beacon.pcap (PVXS
// server, pvAccessCPP and PVXS clients on one host), decoded and re-encoded byte for byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError, InvalidArgumentError, ProtocolError } from '../../src/errors.js';
import {
  SearchFlags,
  beaconMessage,
  decodeAddress,
  encodeAddress,
  forwardedSearchMessage,
  guidToHex,
  isAnyAddress,
  originTagMessage,
  parseDatagram,
  safeParseDatagram,
  searchMessage,
  searchResponseMessage,
  type DiscoveryMessage,
} from '../../src/pva/discovery/messages.js';
import { respondToSearch, searchResponseFor } from '../../src/pva/discovery/server-discovery.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const GUID = 'bad03658f1c4809f588c4e5e';

// Captured datagrams (source -> destination as in the capture).
const CAP = {
  // PVXS server -> 127.0.0.1:5076, BEACON, big-endian
  beacon0: hex('ca02c00000000027 bad03658f1c4809f588c4e5e 00 00 0001 00000000000000000000ffff00000000 13d3 03746370 ff'),
  beacon1: hex('ca02c00000000027 bad03658f1c4809f588c4e5e 00 01 0001 00000000000000000000ffff00000000 13d3 03746370 ff'),
  // pvAccessCPP client, unicast SEARCH, little-endian, reply address ::ffff:0.0.0.0
  cppSearch: hex('ca0200032e000000 01000000 80 000000 00000000000000000000ffff00000000 d4a7 0103746370 0100 41302010 085453543a6d626f78'),
  // what the PVXS server multicast to 224.0.0.128 for it
  cppForward: hex(
    'ca02801600000010 00000000000000000000ffff7f000001' +
      'ca0200032e000000 01000000 00 000000 00000000000000000000ffff7f000001 d4a7 0103746370 0100 41302010 085453543a6d626f78',
  ),
  cppResponse: hex('ca02c0040000002d bad03658f1c4809f588c4e5e 00000001 00000000000000000000ffff00000000 13d3 03746370 01 0001 10203041'),
  // PVXS client, unicast SEARCH, big-endian, reply address all zeros
  pvxsSearch: hex('ca0280030000002e 66696e64 80 000000 00000000000000000000000000000000 b862 0103746370 0001 12345678 085453543a6d626f78'),
  pvxsForward: hex(
    'ca02801600000010 00000000000000000000ffff7f000001' +
      'ca0280030000002e 66696e64 00 000000 00000000000000000000ffff7f000001 b862 0103746370 0001 12345678 085453543a6d626f78',
  ),
  pvxsResponse: hex('ca02c0040000002d bad03658f1c4809f588c4e5e 66696e64 00000000000000000000ffff00000000 13d3 03746370 01 0001 12345678'),
  // pvAccessCPP client retrying a name nobody has (sequence 2); the server forwards, nobody answers
  missSearch: hex(
    'ca02000336000000 02000000 80 000000 00000000000000000000ffff00000000 15ab 0103746370 0100 41302010 105453543a646f65736e6f746578697374',
  ),
  missForward: hex(
    'ca02801600000010 00000000000000000000ffff7f000001' +
      'ca02000336000000 02000000 00 000000 00000000000000000000ffff7f000001 15ab 0103746370 0100 41302010 105453543a646f65736e6f746578697374',
  ),
};

function only<K extends DiscoveryMessage['kind']>(data: Uint8Array, kind: K): Extract<DiscoveryMessage, { kind: K }> {
  const msgs = parseDatagram(data);
  assert.equal(msgs.length, 1);
  const m = msgs[0] as DiscoveryMessage;
  assert.equal(m.kind, kind);
  return m as Extract<DiscoveryMessage, { kind: K }>;
}

test('captured BEACONs (big-endian) decode and re-encode identically', () => {
  for (const [data, seq] of [
    [CAP.beacon0, 0],
    [CAP.beacon1, 1],
  ] as const) {
    const m = only(data, 'beacon');
    assert.deepEqual(m.header, { version: 2, flags: 0xc0, command: 0, littleEndian: false });
    assert.equal(guidToHex(m.body.guid), GUID);
    assert.deepEqual(
      { ...m.body, guid: null },
      {
        guid: null,
        flags: 0,
        sequence: seq,
        changeCount: 1,
        serverAddress: '0.0.0.0',
        serverPort: 5075,
        protocol: 'tcp',
        status: null,
      },
    );
    assert.deepEqual(beaconMessage(m.body, { littleEndian: false }), data);
  }
  // Our own beacons are little-endian: same payload, byte-swapped fields, flags 0x40.
  const le = beaconMessage(only(CAP.beacon1, 'beacon').body);
  const expected = ['ca02400027000000', GUID, '00', '01', '0100', '00000000000000000000ffff00000000', 'd313', '03746370', 'ff'];
  assert.equal(le.toString('hex'), expected.join(''));
});

test('BEACON with a typed status keeps its bytes; 0xFF or nothing means no status', () => {
  const b = { ...only(CAP.beacon0, 'beacon').body, status: Uint8Array.of(0x80, 0x00, 0x00) };
  assert.deepEqual(only(beaconMessage(b), 'beacon').body.status, Uint8Array.of(0x80, 0x00, 0x00));
  const truncated = Buffer.from(CAP.beacon0.subarray(0, CAP.beacon0.length - 1));
  truncated.writeUInt32BE(38, 4); // a beacon without the status byte at all
  assert.equal(only(truncated, 'beacon').body.status, null);
});

test('captured pvAccessCPP SEARCH decodes, re-encodes, and forwards exactly as PVXS did', () => {
  const m = only(CAP.cppSearch, 'search');
  assert.equal(m.header.littleEndian, true);
  assert.deepEqual(m.body, {
    sequenceId: 1,
    flags: SearchFlags.UNICAST,
    replyAddress: '0.0.0.0',
    replyPort: 42964,
    protocols: ['tcp'],
    channels: [{ id: 0x10203041, name: 'TST:mbox' }],
  });
  assert.deepEqual(searchMessage(m.body), CAP.cppSearch);
  // The source of the datagram was 127.0.0.1:42964; the receiving server's address 127.0.0.1.
  assert.deepEqual(forwardedSearchMessage('127.0.0.1', m.body, { host: '127.0.0.1', port: 42964 }, true), CAP.cppForward);
});

test('captured PVXS SEARCH (big-endian, all-zero reply address) round-trips and forwards', () => {
  const m = only(CAP.pvxsSearch, 'search');
  assert.equal(m.header.littleEndian, false);
  assert.equal(m.body.sequenceId, 0x66696e64); // "find"
  assert.equal(m.body.replyAddress, '::');
  assert.ok(isAnyAddress(m.body.replyAddress));
  assert.deepEqual(m.body.channels, [{ id: 0x12345678, name: 'TST:mbox' }]);
  assert.deepEqual(searchMessage(m.body, { littleEndian: false }), CAP.pvxsSearch);
  assert.deepEqual(forwardedSearchMessage('127.0.0.1', m.body, { host: '127.0.0.1', port: 47202 }, false), CAP.pvxsForward);
});

test('captured forwarded datagrams parse as ORIGIN_TAG + SEARCH, each in its own byte order', () => {
  const msgs = parseDatagram(CAP.cppForward);
  assert.deepEqual(
    msgs.map((m) => [m.kind, m.header.littleEndian]),
    [
      ['originTag', false],
      ['search', true],
    ],
  );
  assert.deepEqual((msgs[0] as Extract<DiscoveryMessage, { kind: 'originTag' }>).body, { address: '127.0.0.1' });
  const s = (msgs[1] as Extract<DiscoveryMessage, { kind: 'search' }>).body;
  assert.equal(s.flags, 0);
  assert.equal(s.replyAddress, '127.0.0.1');
  assert.deepEqual(originTagMessage('127.0.0.1', { littleEndian: false }), CAP.cppForward.subarray(0, 24));
});

test('captured SEARCH_RESPONSEs decode, and our reply logic produces the same bytes', () => {
  for (const [search, resp, le] of [
    [CAP.cppSearch, CAP.cppResponse, true],
    [CAP.pvxsSearch, CAP.pvxsResponse, false],
  ] as const) {
    const r = only(resp, 'searchResponse');
    assert.equal(r.header.flags, 0xc0);
    assert.equal(guidToHex(r.body.guid), GUID);
    assert.equal(r.body.serverAddress, '0.0.0.0');
    assert.equal(r.body.serverPort, 5075);
    assert.equal(r.body.found, true);
    assert.deepEqual(searchResponseMessage(r.body, { littleEndian: false }), resp);
    const s = only(search, 'search').body;
    const ids = respondToSearch(s, (n) => n === 'TST:mbox');
    assert.deepEqual(ids, [le ? 0x10203041 : 0x12345678]);
    const mine = searchResponseMessage(searchResponseFor(s, ids ?? [], Buffer.from(GUID, 'hex'), 5075), { littleEndian: false });
    assert.deepEqual(mine, resp);
  }
});

test('a name nobody has: forwarded as captured, and no reply without MUST_REPLY', () => {
  const s = only(CAP.missSearch, 'search').body;
  assert.equal(s.channels[0]?.name, 'TST:doesnotexist');
  assert.deepEqual(forwardedSearchMessage('127.0.0.1', s, { host: '127.0.0.1', port: 43797 }, true), CAP.missForward);
  assert.equal(
    respondToSearch(s, () => false),
    null,
  );
  assert.deepEqual(
    respondToSearch({ ...s, flags: SearchFlags.MUST_REPLY }, () => false),
    [],
  );
  assert.deepEqual(
    respondToSearch({ ...s, protocols: ['udp'] }, () => true),
    null,
  ); // names need "tcp"
  const two = {
    ...s,
    channels: [
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
      { id: 3, name: 'c' },
    ],
  };
  assert.deepEqual(
    respondToSearch(two, (n) => n !== 'b'),
    [1, 3],
  );
});

test('addresses: IPv4-mapped, any, and IPv6 text round-trip', () => {
  assert.equal(Buffer.from(encodeAddress('0.0.0.0')).toString('hex'), '00000000000000000000ffff00000000');
  assert.equal(Buffer.from(encodeAddress('::')).toString('hex'), '0'.repeat(32));
  assert.equal(Buffer.from(encodeAddress('')).toString('hex'), '0'.repeat(32));
  assert.equal(Buffer.from(encodeAddress('::ffff:10.1.2.3')).toString('hex'), '00000000000000000000ffff0a010203');
  for (const a of ['192.168.1.20', '::', '::1', 'fe80::1:2', '2001:db8::8a2e:370:7334', '1:0:0:1::1', '1:2:3:4:5:6:7:8']) {
    assert.equal(decodeAddress(encodeAddress(a)), a);
  }
  assert.equal(decodeAddress(encodeAddress('2001:0db8:0:0:0:0:0:1')), '2001:db8::1');
  assert.ok(isAnyAddress('0.0.0.0') && isAnyAddress('::') && !isAnyAddress('127.0.0.1'));
  assert.throws(() => encodeAddress('localhost'), InvalidArgumentError);
  assert.throws(() => encodeAddress('1.2.3.256'), InvalidArgumentError);
});

test('garbage is rejected with DecodeError or ProtocolError', () => {
  const bad = (b: Buffer, cls: typeof DecodeError | typeof ProtocolError) => {
    assert.throws(() => parseDatagram(b), cls);
    const r = safeParseDatagram(b);
    assert.equal(r.ok, false);
  };
  bad(hex('cb0200030000000000'), ProtocolError); // bad magic
  bad(hex('ca0000030000000000'), ProtocolError); // version 0
  bad(Buffer.concat([hex('ca021003'), CAP.cppSearch.subarray(4)]), ProtocolError); // segmented
  bad(CAP.cppSearch.subarray(0, 5), DecodeError); // stray bytes
  const lying = Buffer.from(CAP.cppSearch);
  lying.writeUInt32LE(1000, 4); // payload size beyond the datagram
  bad(lying, DecodeError);
  const count = Buffer.from(CAP.cppSearch);
  count.writeUInt16LE(0xffff, 8 + 31); // 65535 names, one present
  bad(count, DecodeError);
  const nameLen = Buffer.from(CAP.cppSearch);
  nameLen[8 + 37] = 200; // name longer than the message
  bad(nameLen, DecodeError);
  const protos = Buffer.from(CAP.cppSearch);
  protos[8 + 26] = 254; // protocol count 254 + int32 "tcp\x01" -> huge
  bad(protos, DecodeError);
  const ids = Buffer.from(CAP.cppResponse);
  ids.writeUInt16BE(500, 8 + 39); // 500 ids, one present
  bad(ids, DecodeError);
  // Every strict prefix of a one-message datagram is rejected.
  for (const d of [CAP.beacon0, CAP.cppSearch, CAP.pvxsResponse]) {
    for (let n = 1; n < d.length; n++) assert.equal(safeParseDatagram(d.subarray(0, n)).ok, false, `prefix ${n}`);
  }
  // A payload that is short of its own fields fails even when the header size is consistent.
  const short = Buffer.from(CAP.beacon0.subarray(0, 20));
  short.writeUInt32BE(12, 4);
  bad(short, DecodeError);
});

test('hostile datagrams never throw out of safeParseDatagram', () => {
  let seed = 0x2545f491;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  const samples = [CAP.beacon0, CAP.cppForward, CAP.pvxsSearch, CAP.cppResponse];
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    let d: Buffer;
    if (i % 2 === 0) {
      d = Buffer.alloc(Math.floor(rand() * 120));
      for (let j = 0; j < d.length; j++) d[j] = rand() * 256;
      if (d.length > 1 && rand() < 0.5) {
        // get past the magic check
        d[0] = 0xca;
        d[1] = 2;
      }
    } else {
      // mutate a valid datagram: flip bytes, sometimes truncate or extend
      d = Buffer.from(samples[i % samples.length] as Buffer);
      for (let k = Math.floor(rand() * 4); k >= 0; k--) d[Math.floor(rand() * d.length)] = rand() * 256;
      if (rand() < 0.3) d = d.subarray(0, Math.floor(rand() * d.length));
      else if (rand() < 0.2) d = Buffer.concat([d, d]);
    }
    const r = safeParseDatagram(d);
    assert.equal(typeof r.ok, 'boolean');
    if (r.ok) accepted++;
    else assert.ok(r.error.code === 'ERR_DECODE' || r.error.code === 'ERR_PROTOCOL', r.error.message);
  }
  assert.ok(accepted > 0); // some mutations only touch values, and those must still decode
});
