// Where a mirror's updates come from: a small interface over a client monitor, so the mirror
// logic does not care whether the source speaks pvAccess or Channel Access. A source monitor
// yields updates, says when it (re)connects or loses its channel, counts overruns, and ends
// when the source PV goes away for good (a pvAccess final update) or when it is closed.
import type { CaClient } from '../ca/client.js';
import type { CaSubscription } from '../ca/subscription.js';
import type { Client } from '../pva/client/client.js';
import type { Subscription } from '../pva/client/subscription.js';
import type { BitSet } from '../pvdata/bitset.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';

/** One update of a source channel. */
export interface SourceUpdate {
  type: StructureDesc;
  /** The complete current value of the source (unchanged parts may be shared with earlier ones). */
  value: PVStructure;
  /** The fields that changed; absent means everything (Channel Access updates). */
  changed?: BitSet;
}

/**
 * A monitor of a source channel: an async iterator of updates that emits 'connect' when its
 * channel (re)connects (its next update is then the current value) and 'disconnect' when it
 * loses it, and ends when the source PV closes or close() is called.
 */
export interface SourceMonitor extends AsyncIterable<SourceUpdate> {
  on(event: 'connect' | 'disconnect', listener: () => void): unknown;
  off(event: 'connect' | 'disconnect', listener: () => void): unknown;
  /** Updates the source squashed or this client's queue dropped, so far. */
  readonly overruns: number;
  /** Updates received and not yet taken from the iterator (some may predate a 'disconnect'). */
  readonly pending: number;
  close(): void;
}

export interface SourceMonitorOptions {
  /** Source server queue size: 0 = no queue option (server default, no flow control). */
  queueSize: number;
  /** Request descriptor: '' (whole structure), a field list, or a complete pvRequest. */
  request: string;
}

/** Makes monitors of source channels (one per provider: pva, ca). */
export interface SourceProvider {
  monitor(name: string, opts: SourceMonitorOptions): SourceMonitor;
  /** Release the provider's client (when the mirror server owns it). */
  close(): void;
}

/** Updates the server may send ahead of the mirror taking them (with a queue, pipeline). */
const SOURCE_WINDOW = 256;

/**
 * PvaPy's request: the descriptor inside `field(…)`; one that already is a complete pvRequest
 * (`field(…)`, `record[…]…`) is taken as it is.
 */
export function sourceRequest(descriptor: string): string {
  const d = descriptor.trim();
  if (d === '') return '';
  if (/^(record\s*\[|field\s*\(|putField\s*\(|getField\s*\()/.test(d)) return d;
  return `field(${d})`;
}

/** pvAccess sources through a Client. */
export function pvaProvider(client: Client, owned: boolean): SourceProvider {
  return {
    monitor(name, opts) {
      const request = sourceRequest(opts.request);
      // A server queue comes with pipeline flow control, so that nothing is lost between the
      // source's queue and ours; without one the source's default applies, as in PvaPy.
      const sub =
        opts.queueSize > 0
          ? client.monitor(name, { request, queueSize: opts.queueSize, pipeline: true, window: Math.max(opts.queueSize, SOURCE_WINDOW) })
          : client.monitor(name, { request });
      return new SubscriptionMonitor(sub, () => sub.stats.serverOverruns + sub.stats.queueOverruns);
    },
    close() {
      if (owned) client.close();
    },
  };
}

/** A subscription of either protocol as a SourceMonitor; `overruns` reads its counters. */
class SubscriptionMonitor implements SourceMonitor {
  constructor(
    readonly sub: (Subscription | CaSubscription) & AsyncIterator<SourceUpdate>,
    readonly countOverruns: () => number,
  ) {}
  get overruns(): number {
    return this.countOverruns();
  }
  get pending(): number {
    return this.sub.pending;
  }
  [Symbol.asyncIterator](): AsyncIterator<SourceUpdate> {
    return this.sub;
  }
  on(event: 'connect' | 'disconnect', listener: () => void): this {
    this.sub.on(event, listener);
    return this;
  }
  off(event: 'connect' | 'disconnect', listener: () => void): this {
    this.sub.off(event, listener);
    return this;
  }
  close(): void {
    this.sub.close();
  }
}

/**
 * Channel Access sources through a CaClient. CA has no server queue and no pvRequest: the queue
 * size sizes the client's queue (default 4), and the request descriptor does not apply.
 */
export function caProvider(client: CaClient, owned: boolean): SourceProvider {
  return {
    monitor(name, opts) {
      const sub = client.monitor(name, opts.queueSize > 0 ? { queueSize: opts.queueSize } : {});
      return new SubscriptionMonitor(sub, () => sub.stats.overruns);
    },
    close() {
      if (owned) client.close();
    },
  };
}
