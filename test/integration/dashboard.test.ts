// The dashboard's PV Web Socket gateway over real sockets: a pvAccess server with SharedPVs on
// 127.0.0.1 port 0, a DashboardServer on port 0 whose client finds it as a name server, and `ws`
// clients speaking PVWS. Every wait is for a message or an update, bounded in time.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { AccessPolicy } from '../../src/access/policy.js';
import { CaClient } from '../../src/ca/client.js';
import { CaServer } from '../../src/ca/server.js';
import { parseAcf } from '../../src/access/acf.js';
import type { HubListener, HubPV } from '../../src/dashboard/hub.js';
import { DashboardServer, type DashboardOptions } from '../../src/dashboard/server.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntenum, ntndarray, ntscalar, ntscalarArray } from '../../src/pvdata/nt/index.js';
import { ColorMode } from '../../src/pvdata/nt/ntndarray.js';
import { t as types, type ScalarType } from '../../src/pvdata/types.js';
import type { PVStructure, PVTypedArray } from '../../src/pvdata/values.js';
import { serveControl } from '../../src/runtime/channels.js';
import { compressFrame } from '../../src/sim/compressed-frames.js';
import { clientFor, once, startServer } from '../helpers/net.js';
import { PvwsClient, type Json } from '../helpers/pvws-client.js';

interface Rig {
  server: PvaServer;
  dash: DashboardServer;
  url: string;
  ws: string;
  pv(name: string, pv: SharedPV): SharedPV;
  connect(): Promise<PvwsClient>;
  /** Resolves after the dashboard's monitor of `name` has received `n` more updates. */
  hubUpdates(name: string, n: number): Promise<void>;
}

async function rig(t: TestContext, opts: Partial<DashboardOptions> = {}): Promise<Rig> {
  const { server, port } = await startServer();
  const client = clientFor(port);
  const dash = new DashboardServer({ client, host: '127.0.0.1', port: 0, ...opts });
  const { port: httpPort } = await dash.listen();
  const clients: PvwsClient[] = [];
  t.after(async () => {
    for (const c of clients) c.ws.terminate();
    await dash.close();
    client.close();
    await server.close();
  });
  const url = `http://127.0.0.1:${httpPort}/`;
  return {
    server,
    dash,
    url,
    ws: `ws://127.0.0.1:${httpPort}/pvws/pv`,
    pv(name, pv) {
      server.addPV(name, pv);
      return pv;
    },
    async connect() {
      const c = await PvwsClient.connect(`ws://127.0.0.1:${httpPort}/pvws/pv`);
      clients.push(c);
      return c;
    },
    hubUpdates(name, n) {
      return new Promise((resolve) => {
        let seen = 0;
        const l: HubListener = {
          onUpdate: (pv: HubPV) => {
            if (++seen === n) {
              dash.hub.unsubscribe(pv, l);
              resolve();
            }
          },
          onDisconnect: () => undefined,
          onError: () => undefined,
        };
        dash.hub.subscribe(name, l);
      });
    },
  };
}

function scalarPV(value: number, extra: PVStructure = {}): SharedPV {
  const { type, value: v } = ntscalar.create('double', value, extra, { display: true, valueAlarm: true });
  return SharedPV.mailbox().open(type, v);
}

function arrayPV(type: ScalarType, data: PVTypedArray): SharedPV {
  const nt = ntscalarArray.create(type, data);
  return new SharedPV().open(nt.type, nt.value);
}

const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

test('subscribe: vtype and metadata with the first update, then only what changed', async (t) => {
  const r = await rig(t);
  const display = { units: 'mm', description: 'gap', format: '%.3f', limitLow: -5, limitHigh: 5 };
  const valueAlarm = { lowAlarmLimit: -4, lowWarningLimit: -3, highWarningLimit: 3, highAlarmLimit: 4 };
  const pv = r.pv('T:x', scalarPV(1.5, { display, valueAlarm }));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['T:x'] });
  const first = await c.json('update', 'T:x');
  assert.equal(first['vtype'], 'VDouble');
  assert.equal(first['connected'], true);
  assert.equal(first['value'], 1.5);
  assert.equal(first['units'], 'mm');
  assert.equal(first['description'], 'gap');
  assert.equal(first['precision'], 3);
  assert.deepEqual([first['min'], first['max']], [-5, 5]);
  assert.deepEqual([first['warn_low'], first['warn_high'], first['alarm_low'], first['alarm_high']], [-3, 3, -4, 4]);
  assert.equal(first['severity'], 'NONE');
  assert.equal(first['readonly'], true, 'writes are off by default');
  assert.equal(typeof first['seconds'], 'number');
  pv.post({ value: 2.5 });
  const second = await c.json('update', 'T:x');
  assert.equal(second['value'], 2.5);
  for (const k of ['vtype', 'connected', 'units', 'precision', 'severity', 'readonly', 'min'])
    assert.ok(!(k in second), `${k} is sent once`);
  pv.post({ value: 3.5, alarm: { severity: 2, status: 1, message: 'HIHI' } });
  const third = await c.json('update', 'T:x');
  assert.equal(third['severity'], 'MAJOR', 'a severity change is sent');
  assert.equal(third['value'], 3.5);
  pv.post({ value: NaN });
  assert.equal((await c.json('update', 'T:x'))['value'], 'NaN', 'as PVWS: non-finite numbers as "NaN"');
});

test('PVWS names: pva://NAME is NAME over pvAccess; schemes other than pva and ca are refused', async (t) => {
  const r = await rig(t);
  r.pv('T:p', scalarPV(2));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['pva://T:p', 'sim://sine', 'loc://x'] });
  const u = await c.json('update', 'pva://T:p');
  assert.equal(u['value'], 2);
  assert.match(String((await c.json('error', 'sim://sine'))['message']), /only pvAccess .* and Channel Access/);
  assert.match(String((await c.json('error', 'loc://x'))['message']), /only pvAccess/);
});

test('ca://NAME is read and written over Channel Access', async (t) => {
  const ca = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  const box = SharedPV.mailbox().open(ntscalar.type('double', { display: true }), { value: 1.25, display: { units: 'V', format: '%.2f' } });
  ca.addPV('CA:x', box);
  await ca.listen();
  t.after(() => ca.close());
  const caClient = () =>
    new CaClient({ env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${ca.udpPort}` }, timeoutMs: 3000 });
  const r = await rig(t, { write: true, caClient });
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['ca://CA:x'] });
  const u = await c.json('update', 'ca://CA:x');
  assert.deepEqual([u['vtype'], u['value'], u['units'], u['precision']], ['VDouble', 1.25, 'V', 2]);
  c.send({ type: 'write', pv: 'ca://CA:x', value: 3.5 });
  const res = await c.json('write-result', 'ca://CA:x');
  assert.equal(res['ok'], true, String(res['message']));
  assert.equal((res['value'] as Json)['value'], 3.5);
  assert.equal(box.value?.['value'], 3.5);
  assert.equal((await c.json('update', 'ca://CA:x'))['value'], 3.5);
});

test('a PV that goes away is reported disconnected; when it is back, its metadata comes again', async (t) => {
  const r = await rig(t);
  const pv = r.pv('T:gone', scalarPV(1, { display: { units: 'mm' } }));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['T:gone'] });
  assert.equal((await c.json('update', 'T:gone'))['units'], 'mm');
  pv.close();
  const down = await c.json('update', 'T:gone');
  assert.deepEqual([down['connected'], down['severity']], [false, 'UNDEFINED']);
  const again = scalarPV(2, { display: { units: 'mm' } });
  r.server.removePV('T:gone');
  r.pv('T:gone', again);
  const up = await c.json('update', 'T:gone');
  assert.deepEqual([up['connected'], up['vtype'], up['units'], up['value']], [true, 'VDouble', 'mm', 2]);
});

test('a second client of the same PV gets the current value with its metadata at once', async (t) => {
  const r = await rig(t);
  r.pv('T:y', scalarPV(7));
  const a = await r.connect();
  a.send({ type: 'subscribe', pvs: ['T:y'] });
  await a.json('update', 'T:y');
  const b = await r.connect();
  b.send({ type: 'subscribe', pvs: ['T:y'] });
  const u = await b.json('update', 'T:y');
  assert.equal(u['vtype'], 'VDouble');
  assert.equal(u['value'], 7);
  assert.equal(r.dash.hub.size, 1, 'one monitor shared by both clients');
});

test('arrays are packed little-endian in base64, exactly as PVWS packs them', async (t) => {
  const r = await rig(t);
  const dbl = Float64Array.of(1.5, -2.25, 1e300);
  const flt = Float32Array.of(0.5, -1);
  const srt = Int16Array.of(-2, 300);
  const int = Int32Array.of(-7, 2 ** 31 - 1);
  const ubyte = Uint8Array.of(0, 255, 7);
  const ushort = Uint16Array.of(65535, 1);
  r.pv('A:d', arrayPV('double', dbl));
  r.pv('A:f', arrayPV('float', flt));
  r.pv('A:s', arrayPV('short', srt));
  r.pv('A:i', arrayPV('int', int));
  r.pv('A:b', arrayPV('ubyte', ubyte));
  r.pv('A:us', arrayPV('ushort', ushort));
  r.pv('A:str', new SharedPV().open(ntscalarArray.type('string'), { value: ['a', 'b'] }));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['A:d', 'A:f', 'A:s', 'A:i', 'A:b', 'A:us', 'A:str'] });
  const d = await c.json('update', 'A:d');
  assert.equal(d['vtype'], 'VDoubleArray');
  assert.equal(d['b64dbl'], b64(dbl));
  assert.equal((await c.json('update', 'A:f'))['b64flt'], b64(flt));
  assert.equal((await c.json('update', 'A:s'))['b64srt'], b64(srt));
  assert.equal((await c.json('update', 'A:i'))['b64int'], b64(int));
  assert.equal((await c.json('update', 'A:b'))['b64byt'], b64(ubyte));
  // ushort does not fit PVWS's int16 packing: it is widened to int32 so that 65535 stays 65535.
  assert.equal((await c.json('update', 'A:us'))['b64int'], b64(Int32Array.of(65535, 1)));
  assert.deepEqual((await c.json('update', 'A:str'))['value'], ['a', 'b']);
});

test('enum: labels once, value is the index and text the choice', async (t) => {
  const r = await rig(t);
  const e = ntenum.create(1, ['Off', 'On']);
  const pv = r.pv('E:mode', SharedPV.mailbox().open(e.type, e.value));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['E:mode'] });
  const u = await c.json('update', 'E:mode');
  assert.deepEqual([u['vtype'], u['labels'], u['value'], u['text']], ['VEnum', ['Off', 'On'], 1, 'On']);
  pv.post({ value: { index: 0, choices: ['Off', 'On'] } });
  const v = await c.json('update', 'E:mode');
  assert.deepEqual([v['labels'], v['value'], v['text']], [undefined, 0, 'Off']);
});

test('structures (VStructure): the whole value first, then only the changed leaves', async (t) => {
  const r = await rig(t);
  const type = types.struct({
    objectId: types.uint,
    stats: types.struct({ rate: types.double, state: types.string }),
    hist: types.array('double'),
  });
  const pv = r.pv('S:status', new SharedPV().open(type, { objectId: 1, stats: { rate: 10, state: 'ok' }, hist: Float64Array.of(1, 2) }));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['S:status'] });
  const u = await c.json('update', 'S:status');
  assert.equal(u['vtype'], 'VStructure');
  assert.deepEqual(u['value'], { objectId: 1, stats: { rate: 10, state: 'ok' }, hist: [1, 2] });
  pv.post({ objectId: 2, stats: { rate: 12.5, state: 'ok' } });
  const v = await c.json('update', 'S:status');
  assert.deepEqual(v['value'], { objectId: 2, stats: { rate: 12.5 } });
  assert.ok(!('vtype' in v));
});

test('echo returns the message unchanged, ping makes the server ping, list names the subscriptions', async (t) => {
  const r = await rig(t);
  r.pv('T:z', scalarPV(1));
  const c = await r.connect();
  const text = JSON.stringify({ type: 'echo', body: 'hello ✓', n: 3 });
  c.send(text);
  assert.deepEqual(await c.json('echo'), JSON.parse(text));
  const pinged = new Promise<void>((resolve) => c.ws.once('ping', () => resolve()));
  c.send({ type: 'ping' });
  await pinged;
  c.send({ type: 'subscribe', pvs: ['T:z'] });
  await c.json('update', 'T:z');
  c.send({ type: 'list' });
  assert.deepEqual((await c.json('list'))['pvs'], ['T:z']);
});

test('clear: no more updates of a cleared PV, and its monitor closes with the last client', async (t) => {
  const r = await rig(t);
  const pv = r.pv('T:c', scalarPV(1));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['T:c'] });
  await c.json('update', 'T:c');
  c.send({ type: 'clear', pvs: ['T:c'] });
  c.send({ type: 'echo', body: 'cleared' });
  await c.json('echo');
  assert.equal(r.dash.hub.size, 0);
  pv.post({ value: 2 });
  // An update would come before the answer to a later echo; none must.
  c.send({ type: 'echo', body: 'after' });
  const m = await c.next((m) => m.kind === 'json' && (m.json['type'] === 'echo' || m.json['type'] === 'update'));
  assert.equal(m.kind === 'json' && m.json['type'], 'echo');
});

test('writes are refused unless the dashboard runs with write enabled', async (t) => {
  const r = await rig(t);
  const pv = r.pv('W:x', scalarPV(1));
  const c = await r.connect();
  c.send({ type: 'write', pv: 'W:x', value: 5, id: 7 });
  const res = await c.json('write-result', 'W:x');
  assert.equal(res['ok'], false);
  assert.equal(res['id'], 7);
  assert.match(String(res['message']), /--write/);
  assert.equal(pv.value?.['value'], 1);
});

test('with write enabled: a number, a string, an enum choice and an array are written', async (t) => {
  const r = await rig(t, { write: true });
  const x = r.pv('W:x', scalarPV(1));
  const e = ntenum.create(0, ['Off', 'On']);
  const mode = r.pv('W:mode', SharedPV.mailbox().open(e.type, e.value));
  const arr = ntscalarArray.create('int', Int32Array.of(0));
  const wf = r.pv('W:wf', SharedPV.mailbox().open(arr.type, arr.value));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['W:x'] });
  assert.equal((await c.json('update', 'W:x'))['readonly'], false);
  c.send({ type: 'write', pv: 'W:x', value: 5 });
  const res = await c.json('write-result', 'W:x');
  assert.equal(res['ok'], true, String(res['message']));
  assert.equal((res['value'] as Json)['value'], 5);
  assert.equal(x.value?.['value'], 5);
  assert.equal((await c.json('update', 'W:x'))['value'], 5);
  c.send({ type: 'write', pv: 'W:x', value: '6.5' });
  assert.equal((await c.json('write-result', 'W:x'))['ok'], true);
  assert.equal(x.value?.['value'], 6.5);
  c.send({ type: 'write', pv: 'W:mode', value: 'On' });
  assert.equal((await c.json('write-result', 'W:mode'))['ok'], true);
  assert.equal(mode.value?.['value']['index'], 1);
  c.send({ type: 'write', pv: 'W:wf', value: [1, 2, 3] });
  assert.equal((await c.json('write-result', 'W:wf'))['ok'], true);
  assert.deepEqual(Array.from(wf.value?.['value'] as Int32Array), [1, 2, 3]);
  c.send({ type: 'write', pv: 'W:x', value: 'abc' });
  const bad = await c.json('write-result', 'W:x');
  assert.equal(bad['ok'], false);
  assert.match(String(bad['message']), /cannot use 'abc' as double/);
});

test('a write to a control PV runs its command; the reply carries the statusMessage', async (t) => {
  const r = await rig(t, { write: true });
  const commands: string[] = [];
  serveControl(r.server, 'C:control', 'consumerId', 1, (cmd, args) => {
    commands.push(`${cmd} ${args}`);
    return cmd === 'configure' ? 'Configuration successful' : 'Stats reset successful';
  });
  const c = await r.connect();
  c.send({ type: 'write', pv: 'C:control', value: { command: 'configure', args: '{"x":1}' } });
  const res = await c.json('write-result', 'C:control');
  assert.equal(res['ok'], true, String(res['message']));
  assert.equal((res['value'] as Json)['statusMessage'], 'Configuration successful');
  assert.deepEqual(commands, ['configure {"x":1}']);
  c.send({ type: 'write', pv: 'C:control', value: 'reset_stats' });
  const bad = await c.json('write-result', 'C:control');
  assert.equal(bad['ok'], false);
  assert.match(String(bad['message']), /JSON object of its fields/);
});

test('write enabled, access rules decide: control PVs in ASG CONTROL, hosts by address', async (t) => {
  const acf = parseAcf(
    [
      'HAG(far) {10.9.9.9}',
      'ASG(DEFAULT) {',
      '  RULE(1, WRITE)',
      '}',
      'ASG(CONTROL) {',
      '  RULE(1, READ)',
      '  RULE(1, WRITE) { HAG(far) }',
      '}',
    ].join('\n'),
    'test.acf',
  );
  const logged: string[] = [];
  const policy = new AccessPolicy({ acf, log: (l) => logged.push(l) });
  const r = await rig(t, { write: true, policy });
  const x = r.pv('W:x', scalarPV(1));
  serveControl(r.server, 'C:control', 'consumerId', 1, () => 'Stop flag set');
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['C:control', 'W:x'] });
  assert.equal((await c.json('update', 'C:control'))['readonly'], true, 'control PVs are judged in ASG CONTROL');
  assert.equal((await c.json('update', 'W:x'))['readonly'], false);
  c.send({ type: 'write', pv: 'C:control', value: { command: 'stop' } });
  const res = await c.json('write-result', 'C:control');
  assert.equal(res['ok'], false);
  assert.match(String(res['message']), /access denied: anonymous@127\.0\.0\.1 may not put to C:control \(ASG CONTROL\)/);
  assert.equal(logged.length, 1);
  c.send({ type: 'write', pv: 'W:x', value: 3 });
  assert.equal((await c.json('write-result', 'W:x'))['ok'], true);
  assert.equal(x.value?.['value'], 3);
});

function imagePV(data: PVTypedArray, dims: number[], uniqueId: number, colorMode: number = ColorMode.Mono): PVStructure {
  return ntndarray.build({ data, dims, uniqueId, colorMode });
}

test('NTNDArray: binned on the server to fit the size asked for, sent as a binary message', async (t) => {
  const r = await rig(t, { imageSize: 2 });
  // 4x4 uint16, x fastest: pixel (x, y) = 10*y + x.
  const px = Uint16Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4));
  const pv = r.pv('IMG:a', new SharedPV().open(ntndarray.type(), imagePV(px, [4, 4], 1)));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['IMG:a'] });
  const announce = await c.json('update', 'IMG:a');
  assert.equal(announce['vtype'], 'NTNDArray');
  const img = await c.image('IMG:a');
  const h = img.header;
  assert.deepEqual(
    [h.width, h.height, h.srcWidth, h.srcHeight, h.binning, h.dtype, h.colorMode, h.channels, h.uniqueId],
    [2, 2, 4, 4, 2, 'uint16', 'Mono', 1, 1],
  );
  // Means of the 2x2 bins: (0+1+10+11)/4 = 5.5 -> 6 (rounded), 7.5 -> 8, 25.5 -> 26, 27.5 -> 28.
  const got = new Uint16Array(img.pixels.buffer.slice(img.pixels.byteOffset, img.pixels.byteOffset + img.pixels.length));
  assert.deepEqual(Array.from(got), [6, 8, 26, 28]);
  assert.equal((img.bytes - img.pixels.length) % 8, 0, 'pixels start 8-byte aligned');
  // Stride binning on request: the first pixel of each bin.
  c.send({ type: 'subscribe', pvs: ['IMG:a'], image: { binMode: 'stride' } });
  const s = await c.image('IMG:a');
  assert.equal(s.header.binMode, 'stride');
  assert.deepEqual(Array.from(new Uint16Array(Uint8Array.from(s.pixels).buffer)), [0, 2, 20, 22]);
  // Float frames stay float; a 3x3 frame bins to 2x2 with partial edge bins.
  const f = Float32Array.from({ length: 9 }, (_, i) => i);
  pv.post(imagePV(f, [3, 3], 2));
  const fi = await c.image('IMG:a');
  assert.deepEqual([fi.header.width, fi.header.height, fi.header.dtype], [2, 2, 'float32']);
});

test('NTNDArray: compressed frames (lz4, bslz4, zlib) are decompressed before binning; a corrupt one is reported once', async (t) => {
  const r = await rig(t, { imageSize: 2 });
  const px = Int32Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4) - 20);
  const pv = r.pv('IMG:z', new SharedPV().open(ntndarray.type(), compressFrame(imagePV(px, [4, 4], 1), 'lz4')));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['IMG:z'], image: { fps: 1000 } });
  for (const [id, codec] of [
    [1, 'lz4'],
    [2, 'bslz4'],
    [3, 'zlib'],
  ] as const) {
    if (id > 1) pv.post(compressFrame(imagePV(px, [4, 4], id), codec));
    const img = await c.image('IMG:z');
    assert.equal(img.header.uniqueId, id, codec);
    assert.equal(img.header.dtype, 'int32');
    // Means (0+1+10+11)/4-20 = -14.5 -> -14 (Math.round), -12.5 -> -12, 5.5 -> 6, 7.5 -> 8.
    assert.deepEqual(Array.from(new Int32Array(Uint8Array.from(img.pixels).buffer)), [-14, -12, 6, 8], codec);
  }
  const corrupt = compressFrame(imagePV(px, [4, 4], 4), 'lz4');
  corrupt['value'] = { field: 'ubyteValue', value: Uint8Array.of(1, 2, 3) };
  pv.post(corrupt);
  const err = await c.json('error', 'IMG:z');
  assert.match(String(err['message']), /frame 4/);
  pv.post(compressFrame(imagePV(px, [4, 4], 5), 'zlib'));
  assert.equal((await c.image('IMG:z')).header.uniqueId, 5, 'the next good frame goes through');
});

test('NTNDArray RGB: planar (RGB3) frames are sent pixel-interleaved', async (t) => {
  const r = await rig(t, { imageSize: 1024 });
  // 2x1 RGB3: planes R=[1,2], G=[3,4], B=[5,6].
  r.pv('IMG:rgb', new SharedPV().open(ntndarray.type(), imagePV(Uint8Array.of(1, 2, 3, 4, 5, 6), [2, 1, 3], 9, ColorMode.RGB3)));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['IMG:rgb'] });
  const img = await c.image('IMG:rgb');
  assert.deepEqual([img.header.colorMode, img.header.srcColorMode, img.header.channels], ['RGB1', 'RGB3', 3]);
  assert.deepEqual(Array.from(img.pixels), [1, 3, 5, 2, 4, 6]);
});

test('throttling: at most max-fps updates per PV, the newest wins, skipped ones counted', async (t) => {
  const r = await rig(t, { maxFps: 4 });
  const pv = r.pv('F:x', scalarPV(0));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['F:x'] });
  await c.json('update', 'F:x');
  const start = performance.now();
  const N = 30;
  for (let i = 1; i <= N; i++) {
    const got = r.hubUpdates('F:x', 1);
    pv.post({ value: i });
    await got;
  }
  const values: number[] = [];
  while (values.at(-1) !== N) values.push((await c.json('update', 'F:x'))['value'] as number);
  const elapsed = performance.now() - start;
  assert.deepEqual(
    values,
    [...values].sort((a, b) => a - b),
    'in order',
  );
  assert.ok(values.length <= 2 + (elapsed / 1000) * 4, `${values.length} updates in ${elapsed.toFixed(0)} ms at 4/s`);
  c.send({ type: 'stats' });
  const st = ((await c.json('stats'))['pvs'] as Record<string, Json>)['F:x'] as Json;
  // Every update the gateway received was either sent or skipped (latest wins).
  assert.equal((st['sent'] as number) + (st['skipped'] as number), st['received']);
  assert.ok((st['skipped'] as number) > 0);
});

test('a client that stops reading costs a bounded buffer; it gets the newest frame when it reads again', async (t) => {
  const bound = 256 * 1024;
  const r = await rig(t, { maxBufferedBytes: bound, imageFps: 1000, imageSize: 1024 });
  const frame = (id: number) => imagePV(new Uint16Array(512 * 512).fill(id), [512, 512], id);
  const pv = r.pv('IMG:big', new SharedPV().open(ntndarray.type(), frame(0)));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['IMG:big'] });
  await c.image('IMG:big');
  const sock = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  sock.pause();
  const N = 60; // 60 frames of 512 KB: far more than the kernel's socket buffers hold
  for (let i = 1; i <= N; i++) {
    const got = r.hubUpdates('IMG:big', 1);
    pv.post(frame(i));
    await got;
  }
  const session = [...r.dash.sessions][0];
  assert.ok(session);
  const frameBytes = 512 * 512 * 2 + 1024;
  assert.ok(session.maxBufferedAmount <= bound + frameBytes, `buffered at most ${session.maxBufferedAmount} bytes`);
  const st = (session.stats()['pvs'] as Record<string, Json>)['IMG:big'] as Json;
  assert.ok((st['deferred'] as number) > 0 && (st['skipped'] as number) > 0, `the bound was reached: ${JSON.stringify(st)}`);
  sock.resume();
  let last = await c.image('IMG:big');
  while (last.header.uniqueId !== N) last = await c.image('IMG:big');
  assert.ok(last.header.dropped >= 0);
});

test('a client that asks (echo) but never reads is dropped once its answers pass twice the bound and 32 MiB', async (t) => {
  const r = await rig(t, { maxBufferedBytes: 64 * 1024 });
  const c = await r.connect();
  (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const closed = once(r.dash, 'session-closed', 20_000);
  const body = 'x'.repeat(500 * 1024);
  // Far more than the kernel's socket buffers and the cap: 120 answers of 500 KB.
  for (let i = 0; i < 120; i++) c.send({ type: 'echo', body });
  await closed;
  const other = await r.connect();
  other.send({ type: 'echo', body: 'still here' });
  assert.equal((await other.json('echo'))['body'], 'still here');
});

test('hostile input: errors for bad messages, a close for a huge one, and others keep being served', async (t) => {
  const r = await rig(t, { maxMessageBytes: 64 * 1024 });
  r.pv('T:h', scalarPV(4));
  const good = await r.connect();
  const bad = await r.connect();
  const expectError = async (msg: string | Buffer, re: RegExp) => {
    bad.ws.send(msg);
    assert.match(String((await bad.json('error'))['message']), re);
  };
  await expectError('{not json', /not JSON/);
  await expectError('[1,2]', /not a JSON object/);
  await expectError('{"pvs":["x"]}', /missing 'type'/);
  await expectError('{"type":"explode"}', /unknown message type/);
  await expectError('{"type":"subscribe"}', /missing 'pvs'/);
  await expectError('{"type":"subscribe","pvs":[{"a":1}]}', /PV names/);
  await expectError('{"type":"write","value":1}', /missing 'pv'/);
  await expectError(Buffer.from([1, 2, 3]), /binary messages/);
  bad.send('x'.repeat(100 * 1024));
  const closed = await bad.closed;
  assert.equal(closed.code, 1009, 'message too big');
  good.send({ type: 'subscribe', pvs: ['T:h'] });
  assert.equal((await good.json('update', 'T:h'))['value'], 4);
  assert.equal(r.dash.sessions.size, 1);
});

test('a client that no longer answers pings is dropped with its subscriptions', async (t) => {
  const r = await rig(t, { heartbeatMs: 50 });
  r.pv('T:hb', scalarPV(1));
  const c = await r.connect();
  c.send({ type: 'subscribe', pvs: ['T:hb'] });
  await c.json('update', 'T:hb');
  assert.equal(r.dash.hub.size, 1);
  // A socket that stops reading answers no ping: like a browser whose network went away.
  (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const closed = once(r.dash, 'session-closed', 5000);
  await closed;
  assert.equal(r.dash.hub.size, 0, 'its monitor closed');
});

function httpGet(url: string, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url), { path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('HTTP: the page, its files, uPlot, the API; paths that leave their directory are refused', async (t) => {
  const web = await mkdtemp(join(tmpdir(), 'sluice-web-'));
  t.after(() => rm(web, { recursive: true, force: true }));
  await writeFile(join(web, 'index.html'), '<!doctype html><title>x</title>');
  await writeFile(join(web, 'app.js'), 'export {};');
  const r = await rig(t, { webDir: join(web), pvs: ['A', 'B'], maxFps: 5, imageSize: 512 });
  r.pv('T:listed', scalarPV(1));
  const index = await httpGet(r.url, '/');
  assert.deepEqual([index.status, index.type], [200, 'text/html; charset=utf-8']);
  assert.match(index.body, /<title>x/);
  const js = await httpGet(r.url, '/web/app.js');
  assert.deepEqual([js.status, js.type], [200, 'text/javascript; charset=utf-8']);
  const uplot = await httpGet(r.url, '/vendor/uplot/uPlot.iife.min.js');
  assert.deepEqual([uplot.status, uplot.type], [200, 'text/javascript; charset=utf-8']);
  assert.equal((await httpGet(r.url, '/vendor/uplot/uPlot.min.css')).type, 'text/css; charset=utf-8');
  for (const p of [
    '/web/../package.json',
    '/web/..%2f..%2fpackage.json',
    '/web/%2e%2e/x',
    '/vendor/uplot/..%2fpackage.json',
    '/web/a%00b',
  ]) {
    const res = await httpGet(r.url, p);
    assert.ok(res.status === 403 || res.status === 404, `${p}: ${res.status}`);
    assert.doesNotMatch(res.body, /"name"/);
  }
  assert.equal((await httpGet(r.url, '/', 'POST')).status, 405);
  assert.equal((await httpGet(r.url, '/nothing')).status, 404);
  const config = JSON.parse((await httpGet(r.url, '/api/config')).body) as Json;
  assert.deepEqual([config['write'], config['pvs'], config['maxFps'], config['imageSize']], [false, ['A', 'B'], 5, 512]);
  const servers = JSON.parse((await httpGet(r.url, '/api/servers')).body) as Json[];
  assert.equal(servers.length, 1);
  assert.ok((servers[0]?.['channels'] as string[]).includes('T:listed'), JSON.stringify(servers));
});
