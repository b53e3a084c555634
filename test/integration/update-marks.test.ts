// The marks of an update over the wire: what a SharedPV is posted with (changed and an upstream
// overrun) reaches a pvAccess client as sent, in the numbering of its field selection, and a
// server queue that squashes merges them by the pvAccess rule (overrun gets the fields changed
// in both updates, and keeps what came overrun).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MonitorUpdate } from '../../src/pva/client/subscription.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { clientFor, startServer } from '../helpers/net.js';

const TYPE = ntscalar.type('double');
const VALUE = bitOf(TYPE, 'value');
const SECONDS = bitOf(TYPE, 'timeStamp.secondsPastEpoch');
const SEVERITY = bitOf(TYPE, 'alarm.severity');

test('a post with changed and overrun marks reaches a client with both, mapped to its field selection', async (t) => {
  const { server, port } = await startServer();
  const client = clientFor(port);
  t.after(async () => {
    client.close();
    await server.close();
  });
  const pv = SharedPV.readonly().open(TYPE, { value: 1 });
  server.addPV('marks:x', pv);
  const whole = client.monitor('marks:x', { queueSize: 4 });
  const some = client.monitor('marks:x', { queueSize: 4, request: 'field(value,timeStamp)' });
  await Promise.all([whole.next(), some.next()]); // the initial values
  const current = pv.value as PVStructure;
  pv.post({ ...current, value: 2 }, { changed: BitSet.of(VALUE, SECONDS), overrun: BitSet.of(VALUE) });
  const u = (await whole.next()).value as MonitorUpdate;
  assert.deepEqual([u.value['value'], [...u.changed], [...u.overrun]], [2, [VALUE, SECONDS], [VALUE]]);
  const s = (await some.next()).value as MonitorUpdate;
  const type = s.type;
  assert.deepEqual([...s.changed], [bitOf(type, 'value'), bitOf(type, 'timeStamp.secondsPastEpoch')], 'in the reduced numbering');
  assert.deepEqual([...s.overrun], [bitOf(type, 'value')]);
  assert.equal(whole.stats.serverOverruns, 1, 'the client counts an update that came overrun');
  whole.close();
  some.close();
});

test('a full server queue squashes: changed is the union, overrun what changed twice plus what came overrun', async (t) => {
  const { server, port } = await startServer();
  const client = clientFor(port);
  t.after(async () => {
    client.close();
    await server.close();
  });
  const pv = SharedPV.readonly().open(TYPE, { value: 1 });
  server.addPV('marks:q', pv);
  // The server attaches the monitor (queueing the current value) when it answers INIT and sends
  // nothing before START: posted on 'connect', the three updates meet a queue of two with one
  // entry taken, so the second and third squash into the first.
  const sub = client.monitor('marks:q', { queueSize: 2 });
  sub.once('connect', () => {
    const v = pv.value as PVStructure;
    pv.post({ ...v, value: 2 }, { changed: BitSet.of(VALUE) });
    pv.post({ ...v, value: 2 }, { changed: BitSet.of(SEVERITY), overrun: BitSet.of(SEVERITY) });
    pv.post({ ...v, value: 3 }, { changed: BitSet.of(VALUE) });
  });
  const first = (await sub.next()).value as MonitorUpdate;
  assert.deepEqual([first.value['value'], [...first.changed], first.overrun.isEmpty()], [1, [0], true]);
  const squashed = (await sub.next()).value as MonitorUpdate;
  assert.equal(squashed.value['value'], 3, 'the newest value');
  assert.deepEqual([...squashed.changed], [VALUE, SEVERITY]);
  assert.deepEqual([...squashed.overrun], [VALUE, SEVERITY], 'value changed twice; severity came overrun');
  assert.equal(server.stats.overruns, 2);
  sub.close();
});
