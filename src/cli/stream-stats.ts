// Throughput of one monitored stream, for `sluice monitor --stats` and `sluice demo`: update
// rate, MB/s of update payload, ids missing from a top-level `uniqueId` (NTNDArray frame
// counters), and overruns (updates the server squashed, plus squashes in the client queue).
import type { PvaSubscriptionStats } from '../pva/client/subscription.js';
import type { PVStructure } from '../pvdata/values.js';

export interface StatsSample {
  name: string;
  /** Last line of a run: totals over the whole run instead of the last interval. */
  final: boolean;
  seconds: number;
  updates: number;
  /** Updates per second over `seconds`. */
  rate: number;
  /** Megabytes (10^6 bytes) of update payload per second. */
  mbps: number;
  /** uniqueId values skipped between consecutive updates. */
  missed: number;
  overruns: number;
}

interface Totals {
  at: number;
  updates: number;
  bytes: number;
  missed: number;
  overruns: number;
}

export class StreamStats {
  readonly name: string;
  #updates = 0;
  #missed = 0;
  #lastId: number | undefined;
  readonly #start: Totals;
  #previous: Totals;

  constructor(name: string, now = performance.now()) {
    this.name = name;
    this.#start = this.#previous = { at: now, updates: 0, bytes: 0, missed: 0, overruns: 0 };
  }

  get updates(): number {
    return this.#updates;
  }

  get missed(): number {
    return this.#missed;
  }

  /** Count one update; ids that went backwards mean the producer restarted: not counted as gaps. */
  observe(value: PVStructure): void {
    this.#updates++;
    const id = value['uniqueId'];
    if (typeof id !== 'number' && typeof id !== 'bigint') return;
    const n = Number(id);
    if (this.#lastId !== undefined && n > this.#lastId + 1) this.#missed += n - this.#lastId - 1;
    this.#lastId = n;
  }

  /** The interval since the previous sample (or the whole run when `final`). */
  sample(
    sub: Pick<PvaSubscriptionStats, 'bytes' | 'serverOverruns' | 'queueOverruns'>,
    final = false,
    now = performance.now(),
  ): StatsSample {
    const cur: Totals = {
      at: now,
      updates: this.#updates,
      bytes: sub.bytes,
      missed: this.#missed,
      overruns: sub.serverOverruns + sub.queueOverruns,
    };
    const from = final ? this.#start : this.#previous;
    this.#previous = cur;
    const seconds = Math.max(1e-9, (cur.at - from.at) / 1000);
    const updates = cur.updates - from.updates;
    return {
      name: this.name,
      final,
      seconds,
      updates,
      rate: updates / seconds,
      mbps: (cur.bytes - from.bytes) / 1e6 / seconds,
      missed: cur.missed - from.missed,
      overruns: cur.overruns - from.overruns,
    };
  }
}

/** One line of text: `PV 1000.0 updates/s 16.40 MB/s missed 0 overruns 0` (totals first when final). */
export function formatSample(s: StatsSample): string {
  const head = s.final ? `${s.name} total ${s.updates} updates in ${s.seconds.toFixed(2)} s:` : s.name;
  return `${head} ${s.rate.toFixed(1)} updates/s ${s.mbps.toFixed(2)} MB/s missed ${s.missed} overruns ${s.overruns}`;
}

/** The same sample as a JSON line (rounded so the numbers stay readable). */
export function sampleJSON(s: StatsSample): string {
  return JSON.stringify({
    name: s.name,
    final: s.final,
    seconds: round(s.seconds, 3),
    updates: s.updates,
    rate: round(s.rate, 1),
    mbps: round(s.mbps, 3),
    missed: s.missed,
    overruns: s.overruns,
  });
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
