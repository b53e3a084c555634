// The publishing loop of the simulator. Frame n (0-based) is due at start + n/fps, the start
// being the first frame: pacing is against that absolute schedule, so it never drifts, and
// when the loop is late (timers are coarse, the CPU was busy, a lossless wait) the frames that
// are due go out back to back until it has caught up, as PvaPy's timers do. fps <= 0 publishes
// as fast as possible. In lossless mode a post that leaves a subscriber's queue full is
// followed by a wait until every queue has room, so nothing is ever squashed.
//
// Time comes from a SimClock so the schedule can be tested with a fake clock.
import type { SharedPV } from '../pv/shared-pv.js';
import { timeNow, timeToSeconds, type TimeStamp } from '../pvdata/nt/common.js';
import type { SimFrames } from './frame-cache.js';

export interface SimClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Resolves after `ms`, or early when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Lets I/O run (sockets, new connections, Ctrl-C) between frames. */
  yield(): Promise<void>;
}

export const realClock: SimClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
    }),
  yield: () => new Promise((resolve) => setImmediate(resolve)),
};

/** PvaPy publishes a frame up to 0.1 ms early rather than sleep again for so little. */
const EARLY_MS = 0.1;
/** Late frames due within the runtime still go out until this long after it, then the run ends. */
const LATE_GRACE_MS = 1000;
/** Frames posted back to back before the loop lets I/O run. */
const YIELD_EVERY = 32;
/** Largest NTNDArray uniqueId (an int). */
const MAX_UNIQUE_ID = 2 ** 31 - 1;

export interface PublisherOptions {
  pv: SharedPV;
  /** Where frames come from: generated (FrameCache) or read from files (FileFrames). */
  cache: SimFrames;
  /** Frames per second; <= 0 as fast as possible. */
  fps: number;
  /** Publishing time from the first frame, in ms; <= 0 unlimited. */
  runtimeMs: number;
  /** Wait whenever a subscriber's queue is full instead of letting the server squash updates. */
  lossless?: boolean;
  /** PVs of `{double value; time_t timeStamp}` posted before each frame with its time stamp. */
  metadata?: readonly SharedPV[];
  /** Call onProgress every this many frames (<= 0 never). */
  reportPeriod?: number;
  onProgress?: (p: Progress) => void;
  clock?: SimClock;
  /** Time stamp of a frame (default the wall clock). */
  timeStamp?: () => TimeStamp;
  /** Metadata values in [0, 1) (default Math.random). */
  random?: () => number;
}

export interface Progress {
  /** uniqueId of the frame just published. */
  frameId: number;
  /** Its time stamp, seconds since the epoch. */
  time: number;
  /** Frames per second from the first frame to this one (0 after the first). */
  fps: number;
  /** Seconds from the first frame to this one. */
  runtime: number;
}

/** `clients`: the clients awaited (waitClients) did not all come within the runtime. */
export type EndReason = 'runtime' | 'frames' | 'aborted' | 'closed' | 'clients';

export interface PublishSummary {
  reason: EndReason;
  frames: number;
  /** Seconds from the first frame to the last. */
  runtime: number;
  fps: number;
  /** Megabytes (10^6 bytes) of pixels per second. */
  mbps: number;
  frameBytes: number;
}

export class FramePublisher {
  readonly #o: PublisherOptions;
  readonly #clock: SimClock;
  readonly #pvs: readonly SharedPV[];
  /** Frames published so far (the last uniqueId, until ids wrap). */
  published = 0;
  #first = 0;
  #last = 0;

  constructor(o: PublisherOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#pvs = [...(o.metadata ?? []), o.pv];
  }

  async run(signal: AbortSignal): Promise<PublishSummary> {
    const { fps, runtimeMs, cache } = this.#o;
    const clock = this.#clock;
    const period = fps > 0 ? 1000 / fps : 0;
    const limited = runtimeMs > 0;
    const start = clock.now();
    let reason: EndReason = 'frames';
    let burst = 0;
    for (let n = 0; ; n++) {
      if (signal.aborted) {
        reason = 'aborted';
        break;
      }
      if (!this.#o.pv.isOpen) {
        reason = 'closed'; // the PV was closed under us (embedding code, server shutdown)
        break;
      }
      if (n >= cache.limit) break;
      if (period > 0) {
        // The schedule ends the run: frame n is published only if due within the runtime.
        const offset = n * period;
        // Frames due after the runtime are not published, nor late ones more than LATE_GRACE_MS
        // after it (a rate the machine cannot reach must not stretch the run).
        if (limited && (offset >= runtimeMs || clock.now() - start >= runtimeMs + LATE_GRACE_MS)) {
          reason = 'runtime';
          break;
        }
        const wait = start + offset - clock.now();
        if (wait > EARLY_MS) {
          await clock.sleep(wait, signal);
          burst = 0;
          n--; // not published yet: check again (early wake-up, abort)
          continue;
        }
      } else if (limited && n > 0 && clock.now() - start >= runtimeMs) {
        reason = 'runtime';
        break;
      }
      // Frames read from files may still be on their way (streaming): wait for the next one.
      const pending = cache.ready?.(n, signal);
      if (pending !== undefined) {
        if (!(await pending)) {
          reason = signal.aborted ? 'aborted' : 'frames';
          break;
        }
        burst = 0;
        n--; // not published yet: check again (abort, PV closed, schedule)
        continue;
      }
      const room = this.#publish(n);
      if (!room && this.#o.lossless) {
        // Never wait past the end of the runtime for a slow subscriber.
        const left = limited ? start + runtimeMs - clock.now() : Infinity;
        if (left <= 0 || !(await this.#waitForRoom(left, signal))) {
          reason = signal.aborted ? 'aborted' : 'runtime';
          break;
        }
        burst = 0;
      } else if (++burst >= YIELD_EVERY) {
        await clock.yield();
        burst = 0;
      }
    }
    return this.summary(reason);
  }

  /** Post the metadata values, then frame n with uniqueId n + 1; false if a queue is now full. */
  #publish(n: number): boolean {
    const o = this.#o;
    const ts = (o.timeStamp ?? timeNow)();
    let room = true;
    if (o.metadata) {
      const random = o.random ?? Math.random;
      // A complete value: SharedPV takes it as it is, without merging.
      for (const m of o.metadata) if (!m.post({ value: random(), timeStamp: ts })) room = false;
    }
    const frame = o.cache.frame(n);
    // uniqueId is an int: after 2^31 - 1 frames (7 hours at 80 kHz) it starts again at 1, which
    // consumers read as a restarted producer rather than a gap.
    const id = (n % MAX_UNIQUE_ID) + 1;
    if (!o.pv.post({ ...frame, uniqueId: id, dataTimeStamp: ts, timeStamp: ts })) room = false;
    const count = n + 1;
    const now = this.#clock.now();
    if (count === 1) this.#first = now;
    this.#last = now;
    this.published = count;
    const rp = o.reportPeriod ?? 0;
    if (rp > 0 && count % rp === 0 && o.onProgress) {
      const runtime = (now - this.#first) / 1000;
      o.onProgress({ frameId: id, time: timeToSeconds(ts), fps: count > 1 && runtime > 0 ? (count - 1) / runtime : 0, runtime });
    }
    return room;
  }

  /** Resolves true once every PV has room, false if `ms` pass or the signal aborts first. */
  async #waitForRoom(ms: number, signal: AbortSignal): Promise<boolean> {
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    let drained = false;
    const room = Promise.all(this.#pvs.map((p) => p.drained())).then(() => {
      drained = true;
    });
    // Unlimited: only Ctrl-C (or the PV closing, which resolves drained()) ends the wait.
    const timeout = Number.isFinite(ms)
      ? this.#clock.sleep(ms, both)
      : new Promise<void>((r) => (both.aborted ? r() : both.addEventListener('abort', () => r(), { once: true })));
    await Promise.race([room, timeout]);
    stop.abort();
    return drained && !signal.aborted;
  }

  /** Frames so far, and rates between the first and the last. */
  summary(reason: EndReason = 'aborted'): PublishSummary {
    const frames = this.published;
    const runtime = frames > 1 ? (this.#last - this.#first) / 1000 : 0;
    const fps = runtime > 0 ? (frames - 1) / runtime : 0;
    const frameBytes = this.#o.cache.frameBytes;
    return { reason, frames, runtime, fps, mbps: (frameBytes * fps) / 1e6, frameBytes };
  }
}
