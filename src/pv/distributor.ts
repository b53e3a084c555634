// The data-distributor plugin of pvDatabaseCPP (`_[distributor=…]`) and PvaPy (`_[pydistributor=…]`):
// monitors of one PV that ask for it share the PV's updates instead of each getting all of them.
// Clients form groups (independent of each other); a group holds sets of clients; the group hands
// its updates to one set at a time, round-robin, `updates` distinct updates per turn; within the
// set, mode `one` gives each update to one client (round-robin too), mode `all` to every client.
// Order is connection order (first connected, first served); joining and leaving rebalance at once.
//
// This module is the decision only: which clients receive a post. It is computed once per post for
// all clients (pvDatabaseCPP asks the question once per client, with the same outcome), and without
// allocating, since it runs for every frame of a high-rate stream.
import { SluiceError } from '../errors.js';
import type { RequestInfo } from '../pvdata/pvrequest.js';
import type { PVStructure } from '../pvdata/values.js';

export type DistributionMode = 'one' | 'all';

export interface DistributorSettings {
  /** Independent group of clients (default `default`). */
  group: string;
  /** Set of clients within the group (default `default`). */
  set: string;
  /** Dotted path of the field whose value tells one update from another (default `timeStamp`). */
  trigger: string;
  /** Distinct updates a client (mode one) or a whole set (mode all) gets per turn (default 1). */
  updates: number;
  /** Default `one` without a set, `all` when a set is named. */
  mode: DistributionMode;
}

/** pvRequest option names that ask for the plugin: PvaPy's, then pvDatabaseCPP's. */
export const DISTRIBUTOR_OPTIONS = ['pydistributor', 'distributor'] as const;

const KEYS = ['group', 'set', 'trigger', 'updates', 'mode'] as const;
type Key = (typeof KEYS)[number];
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * Parse `group:g;set:s;trigger:uniqueId;updates:3;mode:all`. Keys are case-insensitive, values
 * case-sensitive (except the mode word); blanks around items are ignored and so are empty items.
 * Returns null when `updates` <= 0: as in the C++ plugins, the monitor is then an ordinary one.
 * The C++ plugins silently skip what they do not understand; here anything malformed is an error,
 * so that a typo does not quietly turn distribution off or change it.
 */
export function parseDistributorSettings(text: string, optionName = 'pydistributor'): DistributorSettings | null {
  const fail = (why: string): never => {
    throw new SluiceError('ERR_PVREQUEST', `bad ${optionName} option '${text}': ${why}`);
  };
  const given = new Map<Key, string>();
  for (const raw of text.split(';')) {
    const item = raw.trim();
    if (item === '') continue;
    const colon = item.indexOf(':');
    if (colon < 0) fail(`'${item}' is not key:value`);
    const key = item.slice(0, colon).trim().toLowerCase();
    const value = item.slice(colon + 1).trim();
    if (!(KEYS as readonly string[]).includes(key)) fail(`unknown key '${key}' (known: ${KEYS.join(', ')})`);
    if (given.has(key as Key)) fail(`'${key}' given twice`);
    if (value === '') fail(`no value for '${key}'`);
    given.set(key as Key, value);
  }
  const updatesText = given.get('updates') ?? '1';
  const updates = /^[+-]?\d+$/.test(updatesText) ? Number(updatesText) : NaN;
  if (!Number.isSafeInteger(updates)) fail(`updates must be an integer, got '${updatesText}'`);
  const modeText = given.get('mode');
  const mode = modeText === undefined ? (given.has('set') ? 'all' : 'one') : modeText.toLowerCase();
  if (mode !== 'one' && mode !== 'all') fail(`mode must be 'one' or 'all', got '${modeText}'`);
  const trigger = given.get('trigger') ?? 'timeStamp';
  if (!FIELD_PATH.test(trigger)) fail(`trigger must be a field name or dotted path, got '${trigger}'`);
  if (updates <= 0) return null;
  return { group: given.get('group') ?? 'default', set: given.get('set') ?? 'default', trigger, updates, mode: mode as DistributionMode };
}

/**
 * The distributor settings a monitor request asks for, or null. The plugin acts on the whole
 * structure (`field(_[pydistributor=…])`); asked for on a sub-field it is refused rather than
 * ignored, since the client would otherwise believe it is sharing the stream.
 */
export function distributorSettingsOf(request: RequestInfo): DistributorSettings | null {
  let found: { name: string; text: string } | null = null;
  for (const [path, options] of Object.entries(request.fieldOptions)) {
    for (const name of DISTRIBUTOR_OPTIONS) {
      const text = Object.prototype.hasOwnProperty.call(options, name) ? options[name] : undefined;
      if (text === undefined) continue;
      if (path !== '') {
        throw new SluiceError(
          'ERR_PVREQUEST',
          `the ${name} option applies to the whole structure: request it as field(_[${name}=…]), not on '${path}'`,
        );
      }
      if (found) throw new SluiceError('ERR_PVREQUEST', `both ${found.name} and ${name} options given: use one`);
      found = { name, text };
    }
  }
  return found ? parseDistributorSettings(found.text, found.name) : null;
}

/** A client's place in the distributor, returned by join() and given back to leave(). */
export interface DistributorMember<T> {
  readonly client: T;
  /** The settings in force: its set's trigger, updates and mode are those of the set's first client. */
  readonly settings: Readonly<DistributorSettings>;
}

interface Member<T> extends DistributorMember<T> {
  readonly group: Group<T>;
  readonly clientSet: ClientSet<T>;
  active: boolean;
}

interface ClientSet<T> {
  readonly name: string;
  readonly triggerPath: readonly string[];
  readonly updates: number;
  readonly mode: DistributionMode;
  readonly settings: Readonly<DistributorSettings>;
  readonly members: Member<T>[];
  /** Whose turn it is in mode one (always a valid index while the set has members). */
  turn: number;
  /** Distinct updates delivered in the current turn. */
  counted: number;
  /** Mode all: trigger value of the last update counted (a repeat is delivered but not counted). */
  readonly lastCounted: TriggerSnapshot;
}

interface Group<T> {
  readonly name: string;
  readonly sets: ClientSet<T>[];
  /** Which set's turn it is (always a valid index while the group has sets). */
  turn: number;
  /** Trigger value of the last update the group handed over; an equal one is given to nobody. */
  readonly lastHandedOver: TriggerSnapshot;
}

export interface DistributorGroupInfo<T> {
  group: string;
  sets: { set: string; trigger: string; updates: number; mode: DistributionMode; clients: T[] }[];
}

export class Distributor<T> {
  readonly #groups: Group<T>[] = [];
  readonly #chosen: T[] = [];
  /** Scratch for the trigger value of the post being distributed (reused: no allocation per post). */
  readonly #leaves: unknown[] = [];
  #size = 0;

  /** Clients registered, over all groups. */
  get size(): number {
    return this.#size;
  }

  /** Add a client at the end of its set (its set at the end of its group when new). */
  join(client: T, requested: DistributorSettings): DistributorMember<T> {
    let group = this.#groups.find((g) => g.name === requested.group);
    if (!group) {
      group = { name: requested.group, sets: [], turn: 0, lastHandedOver: new TriggerSnapshot() };
      this.#groups.push(group);
    }
    let clientSet = group.sets.find((s) => s.name === requested.set);
    if (!clientSet) {
      // The first client of a set fixes its trigger, updates and mode; later ones only join.
      const settings = Object.freeze({ ...requested });
      clientSet = {
        name: requested.set,
        triggerPath: requested.trigger.split('.'),
        updates: requested.updates,
        mode: requested.mode,
        settings,
        members: [],
        turn: 0,
        counted: 0,
        lastCounted: new TriggerSnapshot(),
      };
      group.sets.push(clientSet);
    }
    const member: Member<T> = { client, settings: clientSet.settings, group, clientSet, active: true };
    clientSet.members.push(member);
    this.#size++;
    return member;
  }

  /**
   * Remove a client (a second call has no effect). If it had the turn, the turn passes to the next client,
   * and the set's count of updates in this turn carries on with it, as in pvDatabaseCPP. An empty
   * set leaves its group (the turn passing to the next set), an empty group goes away.
   */
  leave(handle: DistributorMember<T>): void {
    const member = handle as Member<T>;
    if (!member.active) return;
    member.active = false;
    this.#size--;
    const { group, clientSet } = member;
    clientSet.turn = removeKeepingTurn(clientSet.members, clientSet.members.indexOf(member), clientSet.turn);
    if (clientSet.members.length > 0) return;
    group.turn = removeKeepingTurn(group.sets, group.sets.indexOf(clientSet), group.turn);
    if (group.sets.length === 0) this.#groups.splice(this.#groups.indexOf(group), 1);
  }

  /**
   * The clients that receive this post, in no particular order. The array is reused: it is valid
   * until the next call. The initial value a client gets on connecting is not distributed: every
   * client gets it (the caller sends it).
   */
  distribute(value: PVStructure): readonly T[] {
    const chosen = this.#chosen;
    chosen.length = 0;
    for (let i = 0; i < this.#groups.length; i++) this.#distributeInGroup(this.#groups[i] as Group<T>, value, chosen);
    return chosen;
  }

  #distributeInGroup(group: Group<T>, value: PVStructure, chosen: T[]): void {
    const set = group.sets[group.turn] as ClientSet<T>;
    const leaves = this.#leaves;
    const count = readTrigger(value, set.triggerPath, leaves);
    // The duplicate rule of pvDatabaseCPP: an update whose trigger value equals the one the group
    // last handed over is given to nobody (a post that did not change the trigger field).
    if (group.lastHandedOver.matches(leaves, count)) return;
    if (set.mode === 'one') {
      chosen.push((set.members[set.turn] as Member<T>).client);
      group.lastHandedOver.capture(leaves, count);
      if (++set.counted >= set.updates) {
        set.counted = 0;
        set.turn = (set.turn + 1) % set.members.length;
        group.turn = (group.turn + 1) % group.sets.length;
      }
      return;
    }
    for (let i = 0; i < set.members.length; i++) chosen.push((set.members[i] as Member<T>).client);
    // Mode all counts distinct values only: a repeat within the turn goes to the set again but
    // does not use up the turn. The group remembers the value only when the turn passes.
    if (!set.lastCounted.matches(leaves, count)) {
      set.lastCounted.capture(leaves, count);
      set.counted++;
    }
    if (set.counted >= set.updates) {
      set.counted = 0;
      group.lastHandedOver.capture(leaves, count);
      group.turn = (group.turn + 1) % group.sets.length;
    }
  }

  /** Every registered client (for flow control: who may have a full queue). */
  *clients(): IterableIterator<T> {
    for (const g of this.#groups) for (const s of g.sets) for (const m of s.members) yield m.client;
  }

  /** Groups, sets and clients in service order, with the settings in force (diagnostics, tests). */
  describe(): DistributorGroupInfo<T>[] {
    return this.#groups.map((g) => ({
      group: g.name,
      sets: g.sets.map((s) => ({
        set: s.name,
        trigger: s.settings.trigger,
        updates: s.updates,
        mode: s.mode,
        clients: s.members.map((m) => m.client),
      })),
    }));
  }
}

/**
 * Remove list[index] and return where the turn `turn` is now: on the same element when another
 * one was removed, on the next element when the one holding the turn was removed (the first
 * element when it was the last), as the C++ list iterators behave.
 */
function removeKeepingTurn<E>(list: E[], index: number, turn: number): number {
  if (index < 0) return turn;
  list.splice(index, 1);
  if (index < turn) turn--;
  return turn < list.length ? turn : 0;
}

/**
 * Write the trigger field's value at `path` into `out` as its leaves (a scalar is one leaf, a
 * structure such as timeStamp its members depth-first) and return how many; -1 when the field is
 * missing. A missing trigger field makes every post count as distinct (never a duplicate,
 * always counted): pvDatabaseCPP then compares the whole structure, which in practice changes
 * with every post. Leaves are kept rather than the field's object, which a producer may reuse.
 */
function readTrigger(value: PVStructure, path: readonly string[], out: unknown[]): number {
  let v: unknown = value;
  for (let i = 0; i < path.length; i++) {
    if (!isStructure(v)) return -1;
    v = v[path[i] as string];
  }
  return v === undefined ? -1 : collectLeaves(v, out, 0);
}

function collectLeaves(v: unknown, out: unknown[], n: number): number {
  if (!isStructure(v)) {
    out[n] = v;
    return n + 1;
  }
  for (const k in v) n = collectLeaves(v[k], out, n);
  return n;
}

function isStructure(v: unknown): v is PVStructure {
  return v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && !Array.isArray(v);
}

/** Equal as pvDatabaseCPP's comparison of printed values: same scalars, arrays element by element. */
function sameLeaf(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  const arrays = (ArrayBuffer.isView(a) || Array.isArray(a)) && (ArrayBuffer.isView(b) || Array.isArray(b));
  if (!arrays) return false;
  const [x, y] = [a as ArrayLike<unknown>, b as ArrayLike<unknown>];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
  return true;
}

/** A trigger value kept as its leaves, in an array reused from one capture to the next. */
class TriggerSnapshot {
  readonly #leaves: unknown[] = [];
  /** -1: nothing captured yet, or the field was missing (then nothing matches it). */
  #count = -1;

  matches(leaves: readonly unknown[], count: number): boolean {
    if (count < 0 || count !== this.#count) return false;
    for (let i = 0; i < count; i++) if (!sameLeaf(this.#leaves[i], leaves[i])) return false;
    return true;
  }

  capture(leaves: readonly unknown[], count: number): void {
    for (let i = 0; i < count; i++) this.#leaves[i] = leaves[i];
    // Drop references beyond the new value (an old array must not be kept alive).
    for (let i = Math.max(count, 0); i < this.#count; i++) this.#leaves[i] = undefined;
    this.#count = count;
  }
}
