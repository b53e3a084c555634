// The distributor's decisions without sockets: the sequences of the pvDatabaseCPP and PvaPy
// documentation, rebalancing as clients come and go, per-set settings, groups, the duplicate
// rule, option parsing, and SharedPV handing each post only to the chosen subscribers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { parsePVRequest, readPVRequest } from '../../src/pvdata/pvrequest.js';
import { t } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import {
  Distributor,
  distributorSettingsOf,
  parseDistributorSettings,
  type DistributorMember,
  type DistributorSettings,
} from '../../src/pv/distributor.js';
import { SharedPV, type PVSubscriber } from '../../src/pv/shared-pv.js';

/** Settings as a client would request them (the option text goes through the parser). */
function settings(text: string): DistributorSettings {
  const s = parseDistributorSettings(text);
  assert.ok(s, `'${text}' applies the plugin`);
  return s;
}

/** A distributor of named clients that records what each one receives. */
class Bench {
  readonly distributor = new Distributor<string>();
  readonly received = new Map<string, unknown[]>();
  readonly #members = new Map<string, DistributorMember<string>>();

  join(name: string, options: string): DistributorMember<string> {
    const m = this.distributor.join(name, settings(options));
    this.#members.set(name, m);
    this.received.set(name, []);
    return m;
  }

  leave(name: string): void {
    this.distributor.leave(this.#members.get(name) as DistributorMember<string>);
  }

  /** Post values; a number means `{ uniqueId: n }`. */
  post(...values: (number | PVStructure)[]): void {
    for (const v of values) {
      const value = typeof v === 'number' ? { uniqueId: v } : v;
      for (const name of this.distributor.distribute(value)) this.received.get(name)?.push(value['uniqueId'] ?? value);
    }
  }

  /** Post uniqueId from..to. */
  postRange(from: number, to: number): void {
    for (let id = from; id <= to; id++) this.post(id);
  }

  got(name: string): unknown[] {
    return this.received.get(name) ?? [];
  }
}

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = [];
  for (let i = from; i <= to; i += step) out.push(i);
  return out;
};

test('two clients with one update each alternate: odd and even ids', () => {
  const b = new Bench();
  b.join('c1', 'trigger:uniqueId;updates:1');
  b.join('c2', 'trigger:uniqueId;updates:1');
  b.postRange(1, 12);
  assert.deepEqual(b.got('c1'), range(1, 11, 2));
  assert.deepEqual(b.got('c2'), range(2, 12, 2));
});

test('three clients: client k gets k, k+3, k+6, …', () => {
  const b = new Bench();
  for (const c of ['c1', 'c2', 'c3']) b.join(c, 'trigger:uniqueId');
  b.postRange(1, 12);
  assert.deepEqual(b.got('c1'), [1, 4, 7, 10]);
  assert.deepEqual(b.got('c2'), [2, 5, 8, 11]);
  assert.deepEqual(b.got('c3'), [3, 6, 9, 12]);
});

test('two sets of two clients, 3 updates: both of A get 1-3, 7-9, …, both of B 4-6, 10-12, …', () => {
  const b = new Bench();
  for (const c of ['a1', 'a2']) b.join(c, 'set:A;trigger:uniqueId;updates:3');
  for (const c of ['b1', 'b2']) b.join(c, 'set:B;trigger:uniqueId;updates:3');
  b.postRange(1, 18);
  for (const c of ['a1', 'a2']) assert.deepEqual(b.got(c), [1, 2, 3, 7, 8, 9, 13, 14, 15]);
  for (const c of ['b1', 'b2']) assert.deepEqual(b.got(c), [4, 5, 6, 10, 11, 12, 16, 17, 18]);
  assert.equal(b.distributor.describe()[0]?.sets[0]?.mode, 'all', 'a set given: mode all');
});

test('mode one with sets: the turn goes set by set, and client by client within each set', () => {
  const b = new Bench();
  for (const c of ['a1', 'a2']) b.join(c, 'set:A;mode:one;trigger:uniqueId');
  for (const c of ['b1', 'b2']) b.join(c, 'set:B;mode:ONE;trigger:uniqueId');
  b.postRange(1, 8);
  assert.deepEqual(b.got('a1'), [1, 5]);
  assert.deepEqual(b.got('b1'), [2, 6]);
  assert.deepEqual(b.got('a2'), [3, 7]);
  assert.deepEqual(b.got('b2'), [4, 8]);
});

test('groups are independent (pvDatabaseCPP example 3)', () => {
  const b = new Bench();
  b.join('g1c1', 'group:G1;trigger:uniqueId');
  b.join('g2c1', 'group:G2;trigger:uniqueId;updates:3');
  b.join('g1c2', 'group:G1;trigger:uniqueId');
  b.join('g2c2', 'group:G2;trigger:uniqueId;updates:3');
  b.postRange(1, 12);
  assert.deepEqual(b.got('g1c1'), range(1, 11, 2));
  assert.deepEqual(b.got('g1c2'), range(2, 12, 2));
  assert.deepEqual(b.got('g2c1'), [1, 2, 3, 7, 8, 9]);
  assert.deepEqual(b.got('g2c2'), [4, 5, 6, 10, 11, 12]);
  // group names are case-sensitive: g1 is a third group, which gets everything
  b.join('other', 'group:g1;trigger:uniqueId');
  b.postRange(13, 14);
  assert.deepEqual(b.got('other'), [13, 14]);
});

test('joining and leaving rebalance: every 3rd, every 4th, every 3rd again', () => {
  const b = new Bench();
  for (const c of ['c1', 'c2', 'c3']) b.join(c, 'trigger:uniqueId');
  b.postRange(1, 6);
  b.join('c4', 'trigger:uniqueId'); // joins at the end of the rotation
  b.postRange(7, 14);
  assert.deepEqual(b.got('c1'), [1, 4, 7, 11]);
  assert.deepEqual(b.got('c4'), [10, 14]);
  b.leave('c2'); // not holding the turn: c1 keeps it
  b.postRange(15, 20);
  assert.deepEqual(b.got('c1').slice(4), [15, 18]);
  assert.deepEqual(b.got('c3').slice(4), [16, 19]);
  assert.deepEqual(b.got('c4').slice(2), [17, 20]);
  assert.deepEqual(b.got('c2'), [2, 5, 8, 12]);
});

test('the client holding the turn leaves: the next one takes it, nothing is lost', () => {
  const b = new Bench();
  for (const c of ['c1', 'c2', 'c3']) b.join(c, 'trigger:uniqueId;updates:2');
  b.postRange(1, 3); // c1: 1, 2; c2: 3 and holds the turn for one more
  b.leave('c2');
  b.postRange(4, 8);
  // The set's count carries on (as in pvDatabaseCPP): c3 finishes c2's turn with 4, then c1 …
  assert.deepEqual(b.got('c3'), [4, 7, 8]);
  assert.deepEqual(b.got('c1'), [1, 2, 5, 6]);
  b.postRange(9, 10); // c1's turn, then c3's
  b.leave('c3'); // the last in the list held the turn: it wraps to the first
  b.postRange(11, 12);
  assert.deepEqual(b.got('c1').slice(4), [9, 10, 11, 12]);
});

test('a set keeps the settings of its first client; later requests only join', () => {
  const b = new Bench();
  b.join('a1', 'set:A;trigger:uniqueId;updates:2;mode:all');
  const late = b.join('a2', 'set:A;trigger:timeStamp;updates:5;mode:one');
  assert.deepEqual(late.settings, { group: 'default', set: 'A', trigger: 'uniqueId', updates: 2, mode: 'all' });
  b.join('b1', 'set:B;trigger:uniqueId;updates:1');
  b.postRange(1, 6);
  assert.deepEqual(b.got('a1'), [1, 2, 4, 5]);
  assert.deepEqual(b.got('a2'), [1, 2, 4, 5]);
  assert.deepEqual(b.got('b1'), [3, 6]);
});

test('sets and groups go away with their last client; a removed current set passes the turn', () => {
  const b = new Bench();
  b.join('a1', 'group:g;set:A;trigger:uniqueId');
  b.join('b1', 'group:g;set:B;trigger:uniqueId');
  b.join('c1', 'group:g;set:C;trigger:uniqueId');
  b.post(1); // A done: B's turn
  b.leave('b1');
  assert.deepEqual(
    b.distributor.describe()[0]?.sets.map((s) => s.set),
    ['A', 'C'],
  );
  b.post(2, 3);
  assert.deepEqual(b.got('c1'), [2]);
  assert.deepEqual(b.got('a1'), [1, 3]);
  b.leave('a1');
  b.leave('c1');
  b.leave('c1'); // a second leave is harmless
  assert.deepEqual(b.distributor.describe(), []);
  assert.equal(b.distributor.size, 0);
  // A new set of the same name starts afresh, with the new first client's settings.
  const again = b.join('a2', 'group:g;set:A;trigger:uniqueId;updates:4');
  assert.equal(again.settings.updates, 4);
});

test('duplicates in mode one: a post repeating the last handed-over trigger value goes to nobody', () => {
  const b = new Bench();
  b.join('c1', 'trigger:uniqueId');
  b.join('c2', 'trigger:uniqueId');
  b.post(1, 1, 2, 2, 2, 3, 1);
  assert.deepEqual(b.got('c1'), [1, 3]);
  assert.deepEqual(b.got('c2'), [2, 1], 'only the last handed-over value counts: an older one is new again');
});

test('duplicates in mode all: repeated within a turn → to the set again, not counted; after it → nobody', () => {
  const b = new Bench();
  b.join('a1', 'set:A;trigger:uniqueId;updates:2');
  b.join('b1', 'set:B;trigger:uniqueId;updates:2');
  b.post(1, 1, 2, 2, 3, 3, 4, 4, 5);
  assert.deepEqual(b.got('a1'), [1, 1, 2, 5]);
  assert.deepEqual(b.got('b1'), [3, 3, 4]);
});

test('structure triggers (timeStamp, the default) compare by value, even when the producer reuses objects', () => {
  const b = new Bench();
  b.join('c1', '');
  b.join('c2', 'updates:1');
  const ts = { secondsPastEpoch: 100n, nanoseconds: 0, userTag: 0 };
  const post = (uniqueId: number): void => b.post({ uniqueId, timeStamp: ts });
  post(1);
  post(2); // same time stamp: not a new update
  ts.nanoseconds = 5; // the same object, changed in place
  post(3);
  b.post({ uniqueId: 4, timeStamp: { secondsPastEpoch: 100n, nanoseconds: 5, userTag: 0 } }); // equal copy
  b.post({ uniqueId: 5, timeStamp: { secondsPastEpoch: 101n, nanoseconds: 5, userTag: 0 } });
  assert.deepEqual(b.got('c1'), [1, 5]);
  assert.deepEqual(b.got('c2'), [3]);
});

test('a missing trigger field makes every post a new one', () => {
  const b = new Bench();
  b.join('c1', 'trigger:uniqueId');
  b.join('c2', 'trigger:uniqueId');
  b.join('a1', 'group:g;set:A;trigger:nested.id;updates:2');
  b.join('b1', 'group:g;set:B;trigger:nested.id;updates:2');
  for (let i = 0; i < 6; i++) b.post({ value: 7 });
  assert.equal(b.got('c1').length, 3);
  assert.equal(b.got('c2').length, 3);
  assert.equal(b.got('a1').length, 4);
  assert.equal(b.got('b1').length, 2);
});

test('distribute() reuses its result array (no allocation per post)', () => {
  const d = new Distributor<string>();
  d.join('c1', settings('trigger:uniqueId'));
  const first = d.distribute({ uniqueId: 1 });
  assert.deepEqual([...first], ['c1']);
  assert.equal(d.distribute({ uniqueId: 2 }), first);
  assert.deepEqual(d.distribute({ uniqueId: 2 }), [], 'a duplicate goes to nobody');
});

test('option parsing: defaults, case rules, updates <= 0, errors that name the problem', () => {
  assert.deepEqual(parseDistributorSettings(''), { group: 'default', set: 'default', trigger: 'timeStamp', updates: 1, mode: 'one' });
  assert.deepEqual(parseDistributorSettings(' GROUP : Grp ; Set:S1;TRIGGER:uniqueId;Updates:3; '), {
    group: 'Grp',
    set: 'S1',
    trigger: 'uniqueId',
    updates: 3,
    mode: 'all',
  });
  assert.equal(parseDistributorSettings('set:S;mode:One')?.mode, 'one');
  assert.equal(parseDistributorSettings('updates:0'), null);
  assert.equal(parseDistributorSettings('updates:-2;set:x'), null);
  const bad: [string, RegExp][] = [
    ['colour:red', /unknown key 'colour' \(known: group, set, trigger, updates, mode\)/],
    ['updates:three', /updates must be an integer, got 'three'/],
    ['updates:1.5', /updates must be an integer/],
    ['mode:some', /mode must be 'one' or 'all', got 'some'/],
    ['group', /'group' is not key:value/],
    ['group:', /no value for 'group'/],
    ['updates:2;UPDATES:3', /'updates' given twice/],
    ['trigger:a..b', /trigger must be a field name or dotted path/],
    ['updates:0;colour:red', /unknown key/], // malformed is an error even when not applied
  ];
  for (const [text, why] of bad) {
    assert.throws(
      () => parseDistributorSettings(text),
      (e: unknown) => e instanceof SluiceError && e.code === 'ERR_PVREQUEST' && why.test(e.message) && e.message.includes(`'${text}'`),
      text,
    );
  }
});

test('settings from a monitor request: both plugin names, whole structure only', () => {
  const of = (text: string): DistributorSettings | null => {
    const r = parsePVRequest(text);
    return distributorSettingsOf(readPVRequest(r.type, r.value));
  };
  assert.equal(of('field(value)'), null);
  assert.equal(of('record[queueSize=8]field(_[pydistributor=updates:0])'), null);
  assert.deepEqual(of('record[queueSize=8]field(_[pydistributor=group:g;set:s;trigger:uniqueId;updates:3])'), {
    group: 'g',
    set: 's',
    trigger: 'uniqueId',
    updates: 3,
    mode: 'all',
  });
  assert.equal(of('field(_[distributor=trigger:uniqueId;updates:2])')?.updates, 2);
  assert.throws(() => of('field(_[pydistributor=foo:1])'), /bad pydistributor option 'foo:1': unknown key 'foo'/);
  assert.throws(() => of('field(_[distributor=updates:x])'), /bad distributor option/);
  assert.throws(() => of('field(value[pydistributor=updates:2])'), /applies to the whole structure/);
  assert.throws(() => of('field(_[pydistributor=updates:2,distributor=updates:2])'), /both pydistributor and distributor/);
});

/** A subscriber with a queue of `room` places that never drains. */
function fakeSubscriber(room: number): PVSubscriber & { got: number[] } {
  const got: number[] = [];
  return {
    got,
    onPost: (v) => void got.push(v['uniqueId'] as number),
    onClose: () => {},
    hasRoom: () => got.length < room,
  };
}

test('SharedPV: plain subscribers get every post, distributor ones their share; post() counts receivers only', () => {
  const pv = new SharedPV().open(t.struct({ uniqueId: t.int }), { uniqueId: 0 });
  const plain = fakeSubscriber(100);
  const odd = fakeSubscriber(2);
  const even = fakeSubscriber(100);
  pv.subscribe(plain);
  pv.subscribe(odd, settings('trigger:uniqueId'));
  const leaveEven = pv.subscribe(even, settings('trigger:uniqueId'));
  assert.equal(pv.subscriberCount, 3);
  assert.equal(pv.post({ uniqueId: 1 }), true);
  assert.equal(pv.post({ uniqueId: 2 }), true);
  assert.equal(pv.post({ uniqueId: 3 }), false, 'the receiver of 3 is now full');
  assert.equal(pv.post({ uniqueId: 4 }), true, 'the full one did not receive 4');
  assert.equal(pv.writable, false, 'drained() still waits for every subscriber');
  assert.deepEqual(plain.got, [1, 2, 3, 4]);
  assert.deepEqual(odd.got, [1, 3]);
  assert.deepEqual(even.got, [2, 4]);
  leaveEven();
  assert.equal(pv.subscriberCount, 2);
  pv.postChanges({ uniqueId: 5 }, new BitSet()); // changed nothing: no monitor sends it, no turn used
  pv.postChanges({ uniqueId: 6 }, BitSet.of(0));
  assert.deepEqual(odd.got, [1, 3, 6]);
  pv.close();
  assert.equal(pv.subscriberCount, 0);
});
