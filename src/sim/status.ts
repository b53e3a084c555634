// The simulator's status PV (--status-channel): what it has published and what its clients have
// yet to get, in the style of a consumer's status PV (objectId, objectTime, objectTimestamp, one
// statistics group) so dashboards plot it alike: publishedRate as a rate, nOverruns as losses,
// nQueued as queue fill. Refreshed on a timer from counters kept anyway: the publishing loop
// does no extra work for it.
import type { PvaServer } from '../pva/server/server.js';
import { timeT } from '../pvdata/nt/common.js';
import { t, type StructureDesc } from '../pvdata/types.js';
import { StatusPV } from '../runtime/channels.js';

/** How often the status PV is refreshed while the simulator runs (ms). */
export const SIM_STATUS_PERIOD_MS = 1000;

export const simStatsT: StructureDesc = t.struct({
  nPublished: t.ulong,
  publishedRate: t.double,
  frameRate: t.double,
  nClients: t.uint,
  nOverruns: t.ulong,
  nQueued: t.ulong,
  runtime: t.double,
});

export const simStatusType: StructureDesc = t.struct({
  channelName: t.string,
  objectId: t.uint,
  objectTime: t.double,
  objectTimestamp: timeT,
  simStats: simStatsT,
});

/** The counters a refresh reads. */
export interface SimCounters {
  /** Frames published so far. */
  published: number;
  /** Seconds from the first frame to the last. */
  runtime: number;
  /** Image channel monitors now subscribed. */
  clients: number;
  /** Frames squashed for all clients. */
  overruns: number;
  /** Frames posted but not yet sent, over the subscribed clients. */
  queued: number;
}

export class SimStatus {
  readonly #pv: StatusPV;
  readonly #channelName: string;
  readonly #frameRate: number;
  readonly #read: () => SimCounters;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #lastPublished = 0;
  #lastTime: number;

  /** Serves `name` on `server` with zeros; `read` gives the counters, `now` monotonic ms. */
  constructor(server: PvaServer, name: string, o: { channelName: string; fps: number; read: () => SimCounters; now: () => number }) {
    this.#pv = new StatusPV(server, name, simStatusType, {});
    this.#channelName = o.channelName;
    this.#frameRate = o.fps > 0 ? o.fps : 0;
    this.#read = o.read;
    this.#now = o.now;
    this.#lastTime = o.now();
    this.refresh();
  }

  /** Refresh every SIM_STATUS_PERIOD_MS until stop(); the timer keeps no process alive. */
  start(): void {
    this.#timer ??= setInterval(() => this.refresh(), SIM_STATUS_PERIOD_MS).unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Post the counters now; publishedRate is over the time since the previous refresh. */
  refresh(): void {
    const c = this.#read();
    const now = this.#now();
    const dt = (now - this.#lastTime) / 1000;
    const publishedRate = dt > 0 ? Math.max(0, c.published - this.#lastPublished) / dt : 0;
    this.#lastPublished = c.published;
    this.#lastTime = now;
    const simStats = {
      nPublished: BigInt(c.published),
      publishedRate,
      frameRate: this.#frameRate,
      nClients: c.clients,
      nOverruns: BigInt(c.overruns),
      nQueued: BigInt(c.queued),
      runtime: c.runtime,
    };
    this.#pv.post({ channelName: this.#channelName, simStats }, {}, []);
  }
}
