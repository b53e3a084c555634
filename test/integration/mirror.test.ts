// MirrorServer over loopback: a source Server with a SharedPV posting NTNDArray frames, a
// MirrorServer whose pvAccess client monitors it, and clients of the mirror. Every wait is for
// an event (a mirror 'up' or 'down', an update with a given uniqueId, a subscription's end),
// each bounded in time.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test, type TestContext } from 'node:test';
import { CaClient } from '../../src/ca/client.js';
import { CaServer } from '../../src/ca/server.js';
import type { PvaClient } from '../../src/pva/client/client.js';
import type { MonitorUpdate, PvaSubscription } from '../../src/pva/client/subscription.js';
import { PvaServer } from '../../src/pva/server/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { ntndarray, ntscalar } from '../../src/pvdata/nt/index.js';
import { sameType } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { MirrorServer } from '../../src/mirror/mirror-server.js';
import type { PVUpdate } from '../../src/pvdata/update.js';
import { pvaUpstream, type Upstream, type UpstreamMonitor } from '../../src/runtime/upstream.js';
import { clientFor, startServer } from '../helpers/net.js';

const TYPE = ntndarray.type();
const DIST = '_[pydistributor=updates:1;group:mirror;trigger:uniqueId]';
const QUEUE = 'record[queueSize=1000,pipeline=true]';

function frame(uniqueId: number): PVStructure {
  const data = Uint8Array.from({ length: 256 }, (_, i) => (uniqueId + i) & 0xff);
  return ntndarray.build({ data, dims: [16, 16], uniqueId, colorMode: 0 });
}

function idsFrom(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Post frames from..to; wait for queue room whenever post() says there is none (nothing squashed). */
async function publish(pv: SharedPV, from: number, to: number): Promise<void> {
  for (let id = from; id <= to; id++) if (!pv.post(frame(id))) await pv.drained();
}

/**
 * A client's updates of a mirror: uniqueIds and whole updates; `reach(n)` waits for n updates,
 * `disconnected` for the mirror PV to go (the client then searches again), `ended` for the end.
 */
class Reader {
  readonly updates: MonitorUpdate[] = [];
  readonly ended: Promise<void>;
  readonly disconnected: Promise<void>;
  readonly #waiters = new Set<() => void>();
  constructor(readonly sub: PvaSubscription) {
    this.disconnected = new Promise((resolve) => sub.once('disconnect', () => resolve()));
    this.ended = (async () => {
      for await (const u of sub) {
        const id = u.value['uniqueId'] as number;
        if (u.changed.get(0))
          assert.equal((ntndarray.read(u.value).data as Uint8Array)[0], id & 0xff, `frame ${id} carries its own pixels`);
        this.updates.push(u);
        this.#waiters.forEach((w) => w());
      }
    })();
  }
  get ids(): number[] {
    return this.updates.map((u) => u.value['uniqueId'] as number);
  }
  reach(count: number, ms = 5000): Promise<void> {
    return this.#until(() => this.updates.length >= count, `expected ${count} updates`, ms);
  }
  /** Wait for the update with this uniqueId. */
  reachId(id: number, ms = 5000): Promise<void> {
    return this.#until(() => this.ids.includes(id), `expected uniqueId ${id}`, ms);
  }
  #until(done: () => boolean, what: string, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`${what}, got [${this.ids.join(',')}]`));
      }, ms);
      this.#waiters.add(check);
      check();
    });
  }
}

interface Rig {
  source: PvaServer;
  sourcePort: number;
  mirror: MirrorServer;
  /** The mirror's client of the source server. */
  sourceClient: PvaClient;
  /** A client of the mirror server (its own connection). */
  client(): PvaClient;
  /** A monitor of a mirror PV, once its first update (the mirror's current value) has arrived. */
  read(name: string, request?: string): Promise<Reader>;
}

/** A source server on a free port, a MirrorServer monitoring it, clients of the mirror. */
async function rig(t: TestContext, wrap?: (p: Upstream) => Upstream): Promise<Rig> {
  const { server: source, port: sourcePort } = await startServer();
  const sourceClient = clientFor(sourcePort);
  const pva = pvaUpstream(sourceClient, { window: 256 });
  const mirror = new MirrorServer({
    serverOptions: { host: '127.0.0.1', port: 0, udpPort: false },
    client: sourceClient,
    providers: { pva: wrap ? wrap(pva) : pva },
  });
  const mirrorPort = await mirror.listen();
  const clients: PvaClient[] = [];
  const r: Rig = {
    source,
    sourcePort,
    mirror,
    sourceClient,
    client() {
      const c = clientFor(mirrorPort);
      clients.push(c);
      return c;
    },
    async read(name, request = QUEUE) {
      const reader = new Reader(r.client().monitor(name, { request }));
      await reader.reach(1);
      return reader;
    },
  };
  t.after(async () => {
    for (const c of clients) c.close();
    await mirror.close();
    sourceClient.close();
    await r.source.close();
  });
  return r;
}

/** A source PV serving frame `first` on the source server. */
function sourcePV(r: Rig, name: string, first = 0): SharedPV {
  const pv = SharedPV.readonly().open(TYPE, frame(first));
  r.source.addPV(name, pv);
  return pv;
}

/** Wait for the mirror `name` to come up (or go down). */
function whenMirror(m: MirrorServer, event: 'up' | 'down', name: string, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (m.off(event, on), reject(new Error(`mirror ${name} not ${event} within ${ms} ms`))), ms);
    const on = (n: string): void => {
      if (n !== name) return;
      clearTimeout(timer);
      m.off(event, on);
      resolve();
    };
    m.on(event, on);
  });
}

/** Records what each source monitor delivers (to check the distribution and that nothing is copied). */
function recording(seen: { monitor: number; update: PVUpdate }[], connects = connectCounter()) {
  return (inner: Upstream): Upstream => {
    let next = 0;
    return {
      protocol: inner.protocol,
      monitor(name, opts) {
        const m = inner.monitor(name, opts);
        const index = next++;
        m.on('connect', () => connects.add());
        const wrapped: UpstreamMonitor = {
          get overruns() {
            return m.overruns;
          },
          get received() {
            return m.received;
          },
          get connects() {
            return m.connects;
          },
          next: () => m.next(),
          get pending() {
            return m.pending;
          },
          on: (e, l) => m.on(e, l),
          off: (e, l) => m.off(e, l),
          close: () => m.close(),
          async *[Symbol.asyncIterator]() {
            for await (const u of m) {
              seen.push({ monitor: index, update: u });
              yield u;
            }
          },
        };
        return wrapped;
      },
      close: () => inner.close(),
    };
  };
}

/** Counts 'connect' events of source monitors; wait(n) resolves once n have happened. */
function connectCounter(): { add(): void; wait(n: number): Promise<void> } {
  let count = 0;
  const waiters = new Set<() => void>();
  return {
    add() {
      count++;
      waiters.forEach((w) => w());
    },
    wait(n) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (count < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => (waiters.delete(check), reject(new Error(`${count} of ${n} source monitors connected`))), 5000);
        waiters.add(check);
        check();
      });
    },
  };
}

test('the mirror appears with the first source update, with its structure, and follows it', async (t) => {
  const r = await rig(t);
  r.mirror.addMirror('mirror:image', 'src:image');
  assert.deepEqual([r.mirror.has('mirror:image'), r.mirror.names(), r.mirror.isUp('mirror:image')], [true, ['mirror:image'], false]);
  assert.equal(r.mirror.server.has('mirror:image'), false, 'not served before the source has a value');

  const up = whenMirror(r.mirror, 'up', 'mirror:image');
  const pv = sourcePV(r, 'src:image', 0);
  await up;
  const served = r.mirror.server.lookup('mirror:image') as SharedPV;
  assert.ok(sameType(served.type as typeof TYPE, TYPE), 'the mirror has the source structure');
  const info = await r.client().info('mirror:image');
  assert.ok(sameType(info, TYPE));

  // No source queue (PvaPy's default): one frame at a time, each seen by a client of the mirror.
  const reader = await r.read('mirror:image');
  for (let id = 1; id <= 10; id++) {
    pv.post(frame(id));
    await reader.reach(id + 1);
  }
  assert.deepEqual(reader.ids, idsFrom(0, 10));
  assert.deepEqual(r.mirror.counters('mirror:image'), { nReceived: 11, nOverruns: 0 });
  await assert.rejects(r.client().put('mirror:image', { uniqueId: 5 }), /mirror:image is read-only/);
});

test('arrays are passed on by reference and partial updates stay partial', async (t) => {
  const seen: { monitor: number; update: PVUpdate }[] = [];
  const r = await rig(t, recording(seen));
  const pv = sourcePV(r, 'src:image', 0);
  const up = whenMirror(r.mirror, 'up', 'm');
  r.mirror.addMirror('m', 'src:image', { queueSize: 10 });
  await up;
  const reader = await r.read('m');
  await publish(pv, 1, 3);
  await reader.reach(4);
  const served = r.mirror.server.lookup('m') as SharedPV;
  const last = seen[seen.length - 1]?.update as PVUpdate;
  assert.equal(last.value['uniqueId'], 3);
  assert.equal(served.value, last.value, 'the mirror posts the received value itself');
  assert.equal(ntndarray.read(served.value as PVStructure).data, ntndarray.read(last.value).data, 'pixels not copied');

  // Only uniqueId and the descriptor change: the mirror's clients get just those fields.
  pv.post({ uniqueId: 4, descriptor: 'partial' });
  await reader.reach(5);
  const u = reader.updates[4] as MonitorUpdate;
  assert.deepEqual(u.changed.toArray(), [bitOf(TYPE, 'uniqueId'), bitOf(TYPE, 'descriptor')]);
  assert.equal(u.value['descriptor'], 'partial');
  assert.equal((ntndarray.read(u.value).data as Uint8Array)[0], 3, 'the pixels of frame 3 stay');
});

test('counters are per channel and exact, for two channels at different rates; reset one', async (t) => {
  const r = await rig(t);
  const a = sourcePV(r, 'src:a');
  const b = sourcePV(r, 'src:b');
  const ups = [whenMirror(r.mirror, 'up', 'm:a'), whenMirror(r.mirror, 'up', 'm:b')];
  r.mirror.addMirror('m:a', 'src:a', { queueSize: 20 });
  r.mirror.addMirror('m:b', 'src:b', { queueSize: 20, provider: 'PVA' });
  await Promise.all(ups);
  const [ra, rb] = await Promise.all([r.read('m:a'), r.read('m:b')]);
  await Promise.all([publish(a, 1, 10), publish(b, 1, 25)]);
  await Promise.all([ra.reach(11), rb.reach(26)]);
  assert.deepEqual(r.mirror.counters('m:a'), { nReceived: 11, nOverruns: 0 }, 'the initial value and 10 frames');
  assert.deepEqual(r.mirror.counters('m:b'), { nReceived: 26, nOverruns: 0 });

  r.mirror.resetCounters('m:a');
  assert.deepEqual(r.mirror.counters('m:a'), { nReceived: 0, nOverruns: 0 });
  await publish(a, 11, 13);
  await ra.reach(14);
  assert.deepEqual(r.mirror.counters('m:a'), { nReceived: 3, nOverruns: 0 });
  assert.deepEqual(r.mirror.counters('m:b'), { nReceived: 26, nOverruns: 0 }, 'the other channel is untouched');
  assert.throws(() => r.mirror.counters('m:c'), /m:c is not a mirror channel/);
});

test('the mirror disappears when the source PV closes or its server stops, and comes back with it', async (t) => {
  const r = await rig(t);
  let pv = sourcePV(r, 'src:image', 0);
  const up1 = whenMirror(r.mirror, 'up', 'm');
  r.mirror.addMirror('m', 'src:image', { queueSize: 10 });
  await up1;
  const first = await r.read('m');

  // The source PV closes: the mirror PV closes too, so its clients see it go (and search again).
  const down1 = whenMirror(r.mirror, 'down', 'm');
  pv.close();
  await down1;
  await first.disconnected;
  first.sub.close();
  await first.ended;
  assert.equal(r.mirror.server.has('m'), false);
  assert.equal(r.mirror.isUp('m'), false);

  // It opens again (a new value): so does the mirror.
  const up2 = whenMirror(r.mirror, 'up', 'm');
  pv.open(TYPE, frame(100));
  await up2;
  const second = await r.read('m');
  assert.deepEqual(second.ids, [100]);
  await publish(pv, 101, 105);
  await second.reach(6);
  assert.deepEqual(second.ids, idsFrom(100, 105));

  // The source server stops: clients of the mirror see it go; a new server on the port brings it back.
  const down2 = whenMirror(r.mirror, 'down', 'm');
  await r.source.close();
  await down2;
  await second.disconnected;
  second.sub.close();
  const up3 = whenMirror(r.mirror, 'up', 'm');
  r.source = new PvaServer({ host: '127.0.0.1', port: r.sourcePort, udpPort: false });
  pv = SharedPV.readonly().open(TYPE, frame(200));
  r.source.addPV('src:image', pv);
  await r.source.listen();
  await up3;
  const third = await r.read('m');
  await publish(pv, 201, 202);
  await third.reach(3);
  assert.deepEqual(third.ids, [200, 201, 202]);
  // 1 + 5 frames, three initial values: one update per appearance, nothing duplicated.
  assert.deepEqual(r.mirror.counters('m'), { nReceived: 3 + 5 + 2, nOverruns: 0 });

  // removeMirror: the PV goes, the monitors of the source close.
  const down3 = whenMirror(r.mirror, 'down', 'm');
  assert.equal(r.mirror.removeMirror('m'), true);
  await down3;
  await third.disconnected;
  third.sub.close();
  assert.deepEqual([r.mirror.has('m'), r.mirror.names(), r.mirror.server.has('m'), r.mirror.removeMirror('m')], [false, [], false, false]);
  await r.sourceClient.get('src:image'); // answered after the source server handled the monitor's end
  assert.equal(pv.subscriberCount, 0, 'the source monitor is closed');
});

test('four source monitors with a distributor request: every frame exactly once on the mirror', async (t) => {
  const seen: { monitor: number; update: PVUpdate }[] = [];
  const connects = connectCounter();
  const r = await rig(t, recording(seen, connects));
  const pv = sourcePV(r, 'src:image', 0);
  const up = whenMirror(r.mirror, 'up', 'm');
  r.mirror.addMirror('m', 'src:image', { queueSize: 8, nMonitors: 4, request: DIST });
  await Promise.all([up, connects.wait(4)]);
  assert.equal(pv.subscriberCount, 4);
  const reader = await r.read('m');
  await publish(pv, 1, 200);
  await reader.reach(201);
  assert.deepEqual(
    [...reader.ids].sort((x, y) => x - y),
    idsFrom(0, 200),
    'each frame once (order may interleave)',
  );
  assert.equal(new Set(reader.ids).size, 201);
  // Each monitor took every 4th frame; three of the four initial values were not mirrored.
  for (let m = 0; m < 4; m++) {
    const frames = seen.filter((s) => s.monitor === m).map((s) => s.update.value['uniqueId'] as number);
    assert.equal(frames.length, 51, `monitor ${m}: its initial value and 50 frames (${frames.join(',')})`);
  }
  assert.deepEqual(r.mirror.counters('m'), { nReceived: 201, nOverruns: 0 }, 'corrected for the duplicate initial updates');
});

test("a partial source update reaches the mirror's clients partial, with the same changed bits", async (t) => {
  const r = await rig(t);
  const pv = sourcePV(r, 'src:image', 0);
  const up = whenMirror(r.mirror, 'up', 'm');
  r.mirror.addMirror('m', 'src:image');
  await up;
  const reader = await r.read('m');
  pv.post({ uniqueId: 1 }); // one field
  await reader.reach(2);
  const u = reader.updates[1] as MonitorUpdate;
  assert.deepEqual([...u.changed], [bitOf(TYPE, 'uniqueId')]);
  assert.ok(u.overrun.isEmpty());
  assert.equal(u.value['uniqueId'], 1);
  assert.equal(reader.sub.stats.serverOverruns, 0);
});

test("updates the source server squashed reach the mirror's clients with their overrun bits", async (t) => {
  const r = await rig(t);
  const pv = sourcePV(r, 'src:image', 0);
  const up = whenMirror(r.mirror, 'up', 'm');
  // A source queue of 2 with pipeline credit of 256 updates: posted in one go, with no credit
  // returned meanwhile, 300 updates overflow it and the source server squashes the rest.
  r.mirror.addMirror('m', 'src:image', { queueSize: 2 });
  await up;
  const reader = await r.read('m'); // its own queue of 1000: the mirror squashes nothing for it
  const LAST = 300;
  for (let id = 1; id <= LAST; id++) pv.post({ uniqueId: id });
  await reader.reachId(LAST);
  const uid = bitOf(TYPE, 'uniqueId');
  const overrun = reader.updates.filter((u) => !u.overrun.isEmpty());
  assert.ok(overrun.length >= 1, 'some update came squashed');
  for (const u of overrun) assert.deepEqual([...u.overrun], [uid], 'only uniqueId changed, so only it overran');
  assert.equal(reader.updates.at(-1)?.overrun.get(uid), true, 'the newest entry took the squashed updates');
  assert.ok(reader.ids.length < LAST + 1, 'fewer updates than posted');
  assert.equal(r.mirror.server.stats.overruns, 0, "the mirror itself squashed nothing: the overrun is the source's");
  assert.equal(r.mirror.counters('m').nOverruns, overrun.length, 'the mirror counts what came squashed');
  assert.equal(reader.sub.stats.serverOverruns, overrun.length);
});

test('several monitors: partial updates that went to different monitors merge into the mirror', async (t) => {
  const connects = connectCounter();
  const r = await rig(t, recording([], connects));
  const pv = sourcePV(r, 'src:image', 0);
  const up = whenMirror(r.mirror, 'up', 'm');
  r.mirror.addMirror('m', 'src:image', { queueSize: 8, nMonitors: 2, request: DIST });
  await Promise.all([up, connects.wait(2)]);
  const reader = await r.read('m');
  // 1 to one monitor, 2 (descriptor only) to the other, 3 (pixels only) to the first again.
  pv.post(frame(1));
  pv.post({ uniqueId: 2, descriptor: 'second' });
  const pixels = frame(3)['value'] as PVStructure;
  pv.post({ uniqueId: 3, value: pixels });
  await reader.reach(4);
  const u2 = reader.updates[2] as MonitorUpdate;
  const u3 = reader.updates[3] as MonitorUpdate;
  assert.deepEqual(u2.changed.toArray(), [bitOf(TYPE, 'uniqueId'), bitOf(TYPE, 'descriptor')]);
  assert.deepEqual(
    u3.changed.toArray(),
    [bitOf(TYPE, 'value'), bitOf(TYPE, 'uniqueId')].sort((x, y) => x - y),
  );
  assert.equal(u3.value['descriptor'], 'second', 'what the other monitor received is kept');
  assert.equal((ntndarray.read(u3.value).data as Uint8Array)[0], 3);
  const served = r.mirror.server.lookup('m') as SharedPV;
  assert.equal(served.value?.['descriptor'], 'second');
});

test('a source monitor that fails (a malformed request) is reported once, tried again, and the mirror stays down', async (t) => {
  let attempts = 0;
  let thirdAttempt: () => void = () => {};
  const third = new Promise<void>((resolve) => (thirdAttempt = resolve));
  const r = await rig(t, (inner) => ({
    protocol: inner.protocol,
    monitor: (name, opts) => (++attempts === 3 && thirdAttempt(), inner.monitor(name, opts)),
    close: () => inner.close(),
  }));
  sourcePV(r, 'src:image');
  const warnings: [string, Error][] = [];
  r.mirror.on('warning', (name: string, err: Error) => warnings.push([name, err]));
  r.mirror.addMirror('m', 'src:image', { request: '_[pydistributor=colour:red]' });
  await third; // two failures, each followed by a new monitor after retryDelayMs
  assert.equal(warnings.length, 1, 'the same failure is reported once');
  assert.equal(warnings[0]?.[0], 'm');
  assert.match(warnings[0]?.[1].message ?? '', /unknown key 'colour'/);
  assert.equal(r.mirror.isUp('m'), false);
});

test("the mirror's own clients share its frames with the distributor, each frame exactly once", async (t) => {
  const r = await rig(t);
  const pv = sourcePV(r, 'src:image', 0);
  const up = whenMirror(r.mirror, 'up', 'm');
  r.mirror.addMirror('m', 'src:image', { queueSize: 100 });
  await up;
  const readers: Reader[] = [];
  for (let i = 0; i < 4; i++) readers.push(await r.read('m', `${QUEUE}field(_[pydistributor=trigger:uniqueId;updates:1])`));
  await publish(pv, 1, 40);
  await Promise.all(readers.map((x) => x.reach(11)));
  readers.forEach((x, i) =>
    assert.deepEqual(
      x.ids.slice(1),
      idsFrom(0, 9).map((k) => 1 + i + 4 * k),
      `client ${i + 1}`,
    ),
  );
  assert.deepEqual(r.mirror.counters('m'), { nReceived: 41, nOverruns: 0 });
});

test('a Channel Access source: the mirror follows it, goes with its server and comes back', async (t) => {
  const caPV = SharedPV.mailbox().open(ntscalar.type('double'), { value: 1.5 });
  let ca = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false });
  ca.addPV('ca:x', caPV);
  const caPort = await ca.listen();
  const caClient = new CaClient({ addrList: [], autoAddrList: false, nameServers: [`127.0.0.1:${caPort}`], reconnectDelayMs: 100 });
  const mirror = new MirrorServer({ serverOptions: { host: '127.0.0.1', port: 0, udpPort: false }, caClient });
  const client = clientFor(await mirror.listen());
  t.after(async () => {
    client.close();
    await mirror.close();
    caClient.close();
    await ca.close();
  });
  const up = whenMirror(mirror, 'up', 'm:x');
  mirror.addMirror('m:x', 'ca:x', { provider: 'ca', queueSize: 100 });
  await up;
  const served = mirror.server.lookup('m:x') as SharedPV;
  assert.equal(served.type?.id, 'epics:nt/NTScalar:1.0');
  const values: number[] = [];
  const arrived = new EventEmitter();
  const sub = client.monitor('m:x', { queueSize: 100, pipeline: true });
  const reached = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${values.join(',')}`)), 5000);
      const check = (): void => void (values.length >= n && (clearTimeout(timer), arrived.off('value', check), resolve()));
      arrived.on('value', check);
      check();
    });
  void (async () => {
    for await (const u of sub) {
      values.push(u.value['value'] as number);
      arrived.emit('value');
    }
  })();
  await reached(1);
  for (const v of [2.5, 3.5]) {
    caPV.post({ value: v });
    await reached(values.length + 1);
  }
  assert.deepEqual(values, [1.5, 2.5, 3.5]);
  assert.deepEqual(mirror.counters('m:x'), { nReceived: 3, nOverruns: 0 });

  const down = whenMirror(mirror, 'down', 'm:x');
  await ca.close();
  await down;
  assert.equal(mirror.server.has('m:x'), false);
  const back = whenMirror(mirror, 'up', 'm:x');
  ca = new CaServer({ host: '127.0.0.1', tcpPort: caPort, udpPort: false });
  ca.addPV('ca:x', caPV);
  await ca.listen();
  await back;
  assert.equal((await client.get('m:x')).value['value'], 3.5);
});
