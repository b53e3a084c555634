// Keeping a host responsive around user code that may never finish: the processing time-out's
// watchdog (one timer per host, not per object), and bounded waits at shutdown. A process()
// stuck in a synchronous loop blocks the whole thread, watchdog and signals included: only an
// asynchronous one (a promise that never settles) can be caught here.
import type { ProcessingController } from './processing-controller.js';

/** How long stopping waits for a pending process() or stop() without a processing time-out. */
export const STOP_GRACE_MS = 5000;

/** The shutdown wait: the processing time-out when there is one, else STOP_GRACE_MS. */
export function graceMs(processingTimeoutS: number | undefined): number {
  return processingTimeoutS && processingTimeoutS > 0 ? processingTimeoutS * 1000 : STOP_GRACE_MS;
}

/** Resolves true when `p` settles within `ms`, false otherwise (it is then left to itself). */
export function settledWithin(p: unknown, ms: number): Promise<boolean> {
  if (!(p instanceof Promise)) return Promise.resolve(true);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    late,
  ]).finally(() => clearTimeout(timer));
}

/**
 * Check the controller's pending process() a few times per time-out (at least once a second);
 * `onTimeout` is called once with the message. Null when there is no time-out.
 */
export function startWatchdog(c: ProcessingController, onTimeout: (message: string) => void): NodeJS.Timeout | null {
  const limit = c.options.processingTimeoutMs ?? 0;
  if (limit <= 0) return null;
  const timer = setInterval(
    () => {
      const message = c.checkTimeout();
      if (message) {
        clearInterval(timer);
        onTimeout(message);
      }
    },
    Math.max(10, Math.min(1000, limit / 4)),
  );
  timer.unref();
  return timer;
}
