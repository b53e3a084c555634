// Where updates come from when they come from another server: one input abstraction over the
// pvAccess and Channel Access clients, used by the mirror and by the processing hosts (consumer
// and collector inputs, metadata channels) alike. An upstream monitor yields PVUpdates (value,
// changed, overrun; a CA update is a complete value, all changed), says when its channel (re)connects or is lost, counts what it received and
// what was squashed on the way, and ends when the PV goes away for good or when it is closed.
import type { CaClient } from '../ca/client.js';
import type { CaSubscription } from '../ca/subscription.js';
import type { PvaClient } from '../pva/client/client.js';
import type { PvaSubscription } from '../pva/client/subscription.js';
import type { PVRequest } from '../pvdata/pvrequest.js';
import type { PVUpdate } from '../pvdata/update.js';

export type UpstreamProtocol = 'pva' | 'ca';

/**
 * A monitor of an upstream channel: an async iterator of updates that emits 'connect' when its
 * channel (re)connects (its next update is then the current value) and 'disconnect' (with the
 * reason) when it loses it, and ends when the PV closes for good or close() is called.
 */
export interface UpstreamMonitor extends AsyncIterable<PVUpdate> {
  /** A 'disconnect' listener gets the reason; a 'connect' listener nothing it needs. */
  on(event: 'connect' | 'disconnect', listener: (err: Error) => void): unknown;
  off(event: 'connect' | 'disconnect', listener: (err: Error) => void): unknown;
  /** The next update (resolves at once while some are pending). */
  next(): Promise<IteratorResult<PVUpdate>>;
  /** Updates received from the server so far. */
  readonly received: number;
  /** Updates squashed so far, by the upstream server or in this client's queue. */
  readonly overruns: number;
  /** Times the channel was (re)connected. */
  readonly connects: number;
  /** Updates received and not yet taken (some may predate a 'disconnect'). */
  readonly pending: number;
  close(): void;
}

export interface UpstreamMonitorOptions {
  /**
   * pvAccess: > 0 asks the server for a queue of this size (record[queueSize=N], unless the
   * request sets it) with pipeline flow control; 0: the server's default, no flow control.
   * Channel Access (no server queue): the size of the client's queue; 0: the upstream's default.
   */
  queueSize: number;
  /** pvAccess request ('' or absent: the whole structure); Channel Access has none. */
  request?: string | PVRequest | undefined;
}

/** Makes monitors of upstream channels of one protocol. */
export interface Upstream {
  readonly protocol: UpstreamProtocol;
  monitor(name: string, opts: UpstreamMonitorOptions): UpstreamMonitor;
  /** Release the client (when the upstream owns it). */
  close(): void;
}

export interface PvaUpstreamOptions {
  /** Close the client with the upstream (default false). */
  owned?: boolean;
  /** Pipeline credit: updates the server may send ahead of consumption (at least the queue size). */
  window: number;
  /** Grow the credit to this many bytes of updates once the update size is known. */
  windowBytes?: number | undefined;
}

/** pvAccess upstream channels through a Client. */
export function pvaUpstream(client: PvaClient, o: PvaUpstreamOptions): Upstream {
  return {
    protocol: 'pva',
    monitor(name, opts) {
      const request = opts.request ?? '';
      // A server queue comes with pipeline flow control, so that nothing is lost between the
      // upstream's queue and ours; without one the server's default applies, as in PvaPy.
      const sub =
        opts.queueSize > 0
          ? client.monitor(name, {
              request,
              queueSize: opts.queueSize,
              pipeline: true,
              window: Math.max(opts.queueSize, o.window),
              ...(o.windowBytes ? { windowBytes: o.windowBytes } : {}),
            })
          : client.monitor(name, { request });
      return new SubscriptionMonitor(sub, () => sub.stats.serverOverruns + sub.stats.queueOverruns);
    },
    close() {
      if (o.owned) client.close();
    },
  };
}

export interface CaUpstreamOptions {
  /** Close the client with the upstream (default false). */
  owned?: boolean;
  /** Client queue size when a monitor asks for none (default: the CA client's, 4). */
  queueSize?: number;
}

/** Channel Access upstream channels through a CaClient (no pvRequest: a request does not apply). */
export function caUpstream(client: CaClient, o: CaUpstreamOptions = {}): Upstream {
  return {
    protocol: 'ca',
    monitor(name, opts) {
      const size = opts.queueSize > 0 ? opts.queueSize : (o.queueSize ?? 0);
      const sub = client.monitor(name, size > 0 ? { queueSize: size } : {});
      return new SubscriptionMonitor(sub, () => sub.stats.overruns);
    },
    close() {
      if (o.owned) client.close();
    },
  };
}

/** A subscription of either protocol (both yield PVUpdates) as an UpstreamMonitor. */
class SubscriptionMonitor implements UpstreamMonitor {
  readonly #sub: (PvaSubscription | CaSubscription) & AsyncIterator<PVUpdate>;
  readonly #overruns: () => number;
  constructor(sub: (PvaSubscription | CaSubscription) & AsyncIterator<PVUpdate>, overruns: () => number) {
    this.#sub = sub;
    this.#overruns = overruns;
  }
  get received(): number {
    return this.#sub.stats.received;
  }
  get overruns(): number {
    return this.#overruns();
  }
  get connects(): number {
    return this.#sub.stats.connects;
  }
  get pending(): number {
    return this.#sub.pending;
  }
  next(): Promise<IteratorResult<PVUpdate>> {
    return this.#sub.next();
  }
  [Symbol.asyncIterator](): AsyncIterator<PVUpdate> {
    return this.#sub;
  }
  on(event: 'connect' | 'disconnect', listener: (err: Error) => void): this {
    this.#sub.on(event, listener);
    return this;
  }
  off(event: 'connect' | 'disconnect', listener: (err: Error) => void): this {
    this.#sub.off(event, listener);
    return this;
  }
  close(): void {
    this.#sub.close();
  }
}
