// MirrorServer: PvaPy's PvaMirrorServer. Hosts read-only mirrors of pvAccess (or Channel
// Access) channels on a Sluice Server, which can serve other PVs too. A mirror PV appears with
// the first update of its source, with the source's structure, follows it (partial updates stay
// partial, arrays are passed on by reference), disappears when the source goes away (its clients
// see the channel close) and comes back with the source. Several monitors of the source, with a
// request such as `_[pydistributor=updates:1;group:mirror;trigger:uniqueId]`, share the
// reception; each one's initial update (the source's current value) is mirrored only once.
// Mirrors support the server's distributor plugin: the main use is data distribution in front
// of a source that lacks it.
import { EventEmitter } from 'node:events';
import { CaClient, type CaClientOptions } from '../ca/client.js';
import { InvalidArgumentError } from '../errors.js';
import { PvaClient, type PvaClientOptions } from '../pva/client/client.js';
import { PvaServer, type PvaServerOptions } from '../pva/server/server.js';
import { SharedPV } from '../pv/shared-pv.js';
import type { BitSet } from '../pvdata/bitset.js';
import { fieldCount, memberOffsets } from '../pvdata/field-numbering.js';
import { sameType, type Member, type StructureDesc } from '../pvdata/types.js';
import type { PVUpdate } from '../pvdata/update.js';
import type { PVStructure } from '../pvdata/values.js';
import { caUpstream, pvaUpstream, type Upstream, type UpstreamMonitor } from '../runtime/upstream.js';
import { providerOf, sourceRequest, type MirrorProvider } from './channel-map.js';

export interface MirrorOptions {
  /** Source provider: 'pva' (default) or 'ca' (case-insensitive). */
  provider?: MirrorProvider | string;
  /** Source server queue size (record[queueSize=N], with pipeline flow control); 0 (default) = none. */
  queueSize?: number;
  /** Monitors of the source (default 1); use with a distributor request to share the reception. */
  nMonitors?: number;
  /**
   * Source request descriptor: '' (default, the whole structure), what goes inside `field(…)`
   * (e.g. `_[pydistributor=updates:1;group:mirror;trigger:uniqueId]`), or a complete pvRequest.
   */
  request?: string;
}

export interface MirrorCounters {
  /** Source updates received and mirrored (duplicate initial updates of several monitors not counted). */
  nReceived: number;
  /** Source updates that arrived squashed (by the source server or this client's queue). */
  nOverruns: number;
}

export interface MirrorServerOptions {
  /** Serve on this server (left open by close()); default a new one made from `serverOptions`. */
  server?: PvaServer;
  serverOptions?: PvaServerOptions;
  /** Monitor pvAccess sources with this client (left open by close()); default a new one. */
  client?: PvaClient;
  clientOptions?: PvaClientOptions;
  /** Monitor Channel Access sources with this client (left open by close()); default a new one. */
  caClient?: CaClient;
  caClientOptions?: CaClientOptions;
  /** Replace the upstreams the sources are monitored through (tests, or sources of your own). */
  providers?: Partial<Record<MirrorProvider, Upstream>>;
  /** Delay before monitoring a source again after its monitor failed (default: the client's reconnect delay). */
  retryDelayMs?: number;
}

/**
 * Events: 'up' (mirrorName, type) when a mirror PV appears; 'down' (mirrorName, reason) when it
 * disappears; 'warning' (mirrorName, Error) when a source monitor fails (it is tried again).
 */
export class MirrorServer extends EventEmitter {
  readonly server: PvaServer;
  readonly #ownServer: boolean;
  readonly #mirrors = new Map<string, MirrorChannel>();
  readonly #providers: Partial<Record<MirrorProvider, Upstream>>;
  readonly #made: Upstream[] = [];
  readonly #clientOptions: PvaClientOptions;
  readonly #caClientOptions: CaClientOptions;
  readonly retryDelayMs: number;

  constructor(options: MirrorServerOptions = {}) {
    super();
    this.server = options.server ?? new PvaServer(options.serverOptions);
    this.#ownServer = options.server === undefined;
    this.#providers = { ...options.providers };
    this.#clientOptions = options.clientOptions ?? {};
    this.#caClientOptions = options.caClientOptions ?? (this.#clientOptions.env ? { env: this.#clientOptions.env } : {});
    if (options.client && !this.#providers.pva) this.#providers.pva = sourceUpstream('pva', options.client, false);
    if (options.caClient && !this.#providers.ca) this.#providers.ca = sourceUpstream('ca', options.caClient, false);
    this.retryDelayMs = options.retryDelayMs ?? options.client?.reconnectDelayMs ?? this.#clientOptions.reconnectDelayMs ?? 1000;
  }

  /** Listen (when the server is ours to start); resolves with the TCP port. */
  listen(): Promise<number> {
    return this.server.listen();
  }

  #provider(p: MirrorProvider): Upstream {
    let provider = this.#providers[p];
    if (!provider) {
      provider =
        p === 'pva'
          ? sourceUpstream('pva', new PvaClient(this.#clientOptions), true)
          : sourceUpstream('ca', new CaClient(this.#caClientOptions), true);
      this.#providers[p] = provider;
      this.#made.push(provider);
    }
    return provider;
  }

  /**
   * Mirror `sourceName` as `mirrorName`. The mirror PV is served from the first source update
   * on. Throws when the name is already a mirror or a PV of the server, or an option is invalid.
   */
  addMirror(mirrorName: string, sourceName: string, options: MirrorOptions = {}): void {
    if (!mirrorName) throw new InvalidArgumentError('empty mirror channel name');
    if (!sourceName) throw new InvalidArgumentError(`mirror ${mirrorName}: empty source channel name`);
    if (this.#mirrors.has(mirrorName)) throw new InvalidArgumentError(`${mirrorName} is already a mirror channel`);
    if (this.server.lookup(mirrorName)) throw new InvalidArgumentError(`the server already has a PV named ${mirrorName}`);
    const provider = providerOf(options.provider ?? 'pva');
    if (!provider) throw new InvalidArgumentError(`mirror ${mirrorName}: unknown provider '${options.provider}' (pva or ca)`);
    const queueSize = options.queueSize ?? 0;
    if (!Number.isSafeInteger(queueSize) || queueSize < 0) {
      throw new InvalidArgumentError(`mirror ${mirrorName}: the source queue size must be an integer >= 0, not ${queueSize}`);
    }
    const nMonitors = options.nMonitors ?? 1;
    if (!Number.isSafeInteger(nMonitors) || nMonitors < 1) {
      throw new InvalidArgumentError(`mirror ${mirrorName}: the number of source monitors must be an integer >= 1, not ${nMonitors}`);
    }
    const m = new MirrorChannel(this, mirrorName, sourceName, this.#provider(provider), {
      provider,
      queueSize,
      nMonitors,
      request: options.request ?? '',
    });
    m.start(); // a provider that throws leaves nothing registered
    this.#mirrors.set(mirrorName, m);
  }

  /** Stop mirroring: the source monitors close and the mirror PV goes (clients see it close). */
  removeMirror(mirrorName: string): boolean {
    const m = this.#mirrors.get(mirrorName);
    if (!m) return false;
    this.#mirrors.delete(mirrorName);
    m.stop();
    return true;
  }

  removeAll(): void {
    for (const name of [...this.#mirrors.keys()]) this.removeMirror(name);
  }

  has(mirrorName: string): boolean {
    return this.#mirrors.has(mirrorName);
  }

  /** The mirror channel names, in the order they were added. */
  names(): string[] {
    return [...this.#mirrors.keys()];
  }

  /** Is the mirror PV served now (its source connected and updating)? */
  isUp(mirrorName: string): boolean {
    return this.#get(mirrorName).isUp;
  }

  /** This mirror's counters (not summed over mirrors) since it was added or reset. */
  counters(mirrorName: string): MirrorCounters {
    return this.#get(mirrorName).counters();
  }

  resetCounters(mirrorName: string): void {
    this.#get(mirrorName).resetCounters();
  }

  #get(mirrorName: string): MirrorChannel {
    const m = this.#mirrors.get(mirrorName);
    if (!m) throw new InvalidArgumentError(`${mirrorName} is not a mirror channel`);
    return m;
  }

  /** Remove every mirror, release what this object created (client, server). */
  async close(): Promise<void> {
    this.removeAll();
    for (const p of this.#made.splice(0)) p.close();
    if (this.#ownServer) await this.server.close();
  }
}

/** Updates the server may send ahead of the mirror taking them (with a queue, pipeline). */
const SOURCE_WINDOW = 256;

/**
 * The upstream a mirror monitors its sources through. A source queue comes with pipeline flow
 * control (credit SOURCE_WINDOW); CA has no server queue, so the queue size sizes the client's
 * queue (default 4), and the request descriptor does not apply.
 */
function sourceUpstream(protocol: 'pva', client: PvaClient, owned: boolean): Upstream;
function sourceUpstream(protocol: 'ca', client: CaClient, owned: boolean): Upstream;
function sourceUpstream(protocol: MirrorProvider, client: PvaClient | CaClient, owned: boolean): Upstream {
  return protocol === 'pva'
    ? pvaUpstream(client as PvaClient, { owned, window: SOURCE_WINDOW })
    : caUpstream(client as CaClient, { owned });
}

interface Slot {
  monitor: UpstreamMonitor | null;
  /** The next update of this monitor is its initial one (the source's current value). */
  fresh: boolean;
  /** Updates the current monitor delivered. */
  got: number;
  /** The source's channel was lost: what was received before is relayed, then the mirror goes down. */
  lost: boolean;
  retry: NodeJS.Timeout | null;
}

interface ChannelSettings {
  provider: MirrorProvider;
  queueSize: number;
  nMonitors: number;
  request: string;
}

/** One mirror: its source monitors, its PV while the source is there, and its counters. */
class MirrorChannel {
  readonly #owner: MirrorServer;
  readonly name: string;
  readonly source: string;
  readonly settings: ChannelSettings;
  readonly #provider: Upstream;
  readonly #slots: Slot[];
  #pv: SharedPV | null = null;
  #stopped = false;
  #received = 0;
  /** Overruns of monitors that ended (their successors count from zero). */
  #pastOverruns = 0;
  #base = { nReceived: 0, nOverruns: 0 };
  /** The last warning, not repeated until the mirror comes up again. */
  #lastWarning = '';

  constructor(owner: MirrorServer, name: string, source: string, provider: Upstream, settings: ChannelSettings) {
    this.#owner = owner;
    this.name = name;
    this.source = source;
    this.#provider = provider;
    this.settings = settings;
    this.#slots = Array.from({ length: settings.nMonitors }, () => ({ monitor: null, fresh: true, got: 0, lost: false, retry: null }));
  }

  get isUp(): boolean {
    return this.#pv !== null;
  }

  start(): void {
    try {
      for (const s of this.#slots) this.#open(s);
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const s of this.#slots) {
      if (s.retry) clearTimeout(s.retry);
      s.retry = null;
      const m = s.monitor;
      s.monitor = null;
      if (m) {
        this.#pastOverruns += m.overruns;
        m.close();
      }
    }
    this.#down('mirror removed');
  }

  counters(): { nReceived: number; nOverruns: number } {
    let overruns = this.#pastOverruns;
    for (const s of this.#slots) overruns += s.monitor?.overruns ?? 0;
    return { nReceived: this.#received - this.#base.nReceived, nOverruns: overruns - this.#base.nOverruns };
  }

  resetCounters(): void {
    const c = this.counters();
    this.#base = { nReceived: this.#base.nReceived + c.nReceived, nOverruns: this.#base.nOverruns + c.nOverruns };
  }

  /** Monitor the source in this slot and relay its updates until the monitor ends. */
  #open(slot: Slot): void {
    const { queueSize, request } = this.settings;
    const monitor = this.#provider.monitor(this.source, { queueSize, request: sourceRequest(request) });
    slot.monitor = monitor;
    slot.fresh = true;
    slot.got = 0;
    slot.lost = false;
    const lostSource = `source ${this.source} disconnected`;
    monitor.on('connect', () => {
      slot.fresh = true;
      slot.lost = false;
    });
    // Every monitor of a channel loses it at once (they share it): the first one to have relayed
    // the updates it received before takes the mirror down.
    monitor.on('disconnect', () => {
      slot.lost = true;
      // An update may be on its way to the loop below (handed over, not pending): after it.
      setImmediate(() => {
        if (slot.lost && slot.monitor === monitor && monitor.pending === 0) this.#down(lostSource);
      });
    });
    void (async () => {
      let failure: Error | null = null;
      try {
        for await (const u of monitor) {
          this.#onUpdate(slot, u);
          if (slot.lost && monitor.pending === 0) this.#down(lostSource);
        }
      } catch (err) {
        // plain Error: a thrown non-Error value, of which nothing but its text is known
        failure = err instanceof Error ? err : new Error(String(err));
      }
      if (this.#stopped || slot.monitor !== monitor) return; // closed by us
      slot.monitor = null;
      this.#pastOverruns += monitor.overruns;
      this.#down(failure ? `source ${this.source} monitor failed: ${failure.message}` : `source ${this.source} closed`);
      if (failure) this.#warn(failure);
      // The source PV closed (a final update): monitor it again, to follow it when it returns.
      // After a failure, or a monitor that ended without any update, wait a little first.
      const delay = failure || slot.got === 0 ? this.#owner.retryDelayMs : 0;
      const reopen = (): void => {
        slot.retry = null;
        if (this.#stopped) return;
        try {
          this.#open(slot);
        } catch (err) {
          this.#warn(err);
          slot.retry = setTimeout(reopen, this.#owner.retryDelayMs);
        }
      };
      if (delay === 0) reopen();
      else slot.retry = setTimeout(reopen, delay);
    })();
  }

  #onUpdate(slot: Slot, u: PVUpdate): void {
    // Received before the channel was lost, after another monitor took the mirror down: stale.
    if (slot.lost && !this.#pv) return;
    slot.got++;
    if (slot.fresh) {
      slot.fresh = false;
      // Another monitor's initial update made (or keeps) the mirror: this one is a duplicate.
      if (this.#pv) return;
    }
    this.#received++;
    const pv = this.#pv;
    if (!pv || !sameType(pv.type as StructureDesc, u.type)) {
      if (pv) this.#down(`source ${this.source} changed its type`);
      this.#up(u);
      return;
    }
    // Backpressure-free: the mirror never waits for its clients; a full client queue squashes
    // updates in the server (counted in server.stats.overruns), as for any SharedPV. The
    // source's marks go on as they came: a partial update stays partial, and what the source
    // squashed reaches the mirror's clients as overrun (with what the mirror squashes itself).
    // The update's BitSets are not touched after delivery: posted by reference, not copied.
    if (this.#slots.length === 1 || u.changed.get(0)) pv.post(u.value, u);
    // With several monitors each keeps its own copy of the source value, which misses what went
    // to the others: take only the changed fields from it.
    else pv.post(applyChanged(u.type, pv.value as PVStructure, u.value, u.changed), u);
  }

  #up(u: PVUpdate): void {
    const pv = SharedPV.readonly().open(u.type, u.value);
    try {
      this.#owner.server.addPV(this.name, pv);
    } catch (err) {
      this.#warn(err);
      return;
    }
    this.#lastWarning = '';
    this.#pv = pv;
    this.#owner.emit('up', this.name, u.type);
  }

  #warn(err: unknown): void {
    // plain Error: a thrown non-Error value, of which nothing but its text is known
    const e = err instanceof Error ? err : new Error(String(err));
    if (e.message === this.#lastWarning) return;
    this.#lastWarning = e.message;
    this.#owner.emit('warning', this.name, e);
  }

  #down(reason: string): void {
    const pv = this.#pv;
    if (!pv) return;
    this.#pv = null;
    this.#owner.server.removePV(this.name); // its clients see a disconnect and search again
    this.#owner.emit('down', this.name, reason);
  }
}

/**
 * `base` with the fields marked in `changed` taken from `src` (both complete values of `desc`);
 * new objects only along changed paths, arrays by reference.
 */
export function applyChanged(desc: StructureDesc, base: PVStructure, src: PVStructure, changed: BitSet, at = 0): PVStructure {
  if (changed.get(at)) return src;
  if (!changed.anyInRange(at + 1, at + fieldCount(desc))) return base;
  const out: PVStructure = { ...base };
  const offs = memberOffsets(desc);
  for (let i = 0; i < desc.fields.length; i++) {
    const m = desc.fields[i] as Member;
    const bit = at + (offs[i] as number);
    if (m.type.kind === 'structure') {
      out[m.name] = applyChanged(m.type, (base[m.name] ?? {}) as PVStructure, src[m.name] as PVStructure, changed, bit);
    } else if (changed.get(bit)) out[m.name] = src[m.name];
  }
  return out;
}
