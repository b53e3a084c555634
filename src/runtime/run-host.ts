// Running a host (a consumer or a collector) in this process until it is stopped (a `stop`
// command, the runtime, Ctrl-C), with its status refreshed and its reports printed.
import { ReportWriter } from './report-writer.js';

export interface RunOptions {
  runtimeS: number;
  reportPeriodS: number;
  out: NodeJS.WriteStream;
  /** Abort to stop (Ctrl-C). */
  signal: AbortSignal;
  /** Live redraw on a terminal (off with --disable-curses or logging). */
  live: boolean;
}

/** What runHost drives: a consumer or a collector. */
export interface Runnable<S> {
  start(): Promise<void>;
  /** Resolves when a `stop` control command came. */
  readonly stopped: Promise<void>;
  refreshStatus(): S;
  stop(): Promise<S>;
  /** Counts an error of the processor's code outside process() (an unhandled promise rejection). */
  userError?(err: unknown): void;
}

/**
 * Run a consumer or collector until stopped (control command, runtime, Ctrl-C), refreshing its
 * status and printing reports; returns its final stats.
 */
export async function runHost<S>(
  c: Runnable<S>,
  o: RunOptions,
  title: string,
  format: (title: string, s: S) => string,
  onStats?: (s: S) => void,
): Promise<S> {
  // A promise of the processor's code rejected with no handler would end the process (Node's
  // default) with a stack trace and no report: count it as a processor error and go on.
  const onRejection = (reason: unknown): void => (c.userError ? c.userError(reason) : undefined);
  process.on('unhandledRejection', onRejection);
  try {
    return await runUntilStopped(c, o, title, format, onStats);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
}

async function runUntilStopped<S>(
  c: Runnable<S>,
  o: RunOptions,
  title: string,
  format: (title: string, s: S) => string,
  onStats?: (s: S) => void,
): Promise<S> {
  await c.start();
  const report = new ReportWriter(o.out, o.live);
  const stop = new Promise<void>((resolve) => {
    void c.stopped.then(resolve);
    if (o.signal.aborted) resolve();
    o.signal.addEventListener('abort', () => resolve(), { once: true });
    if (o.runtimeS > 0) setTimeout(resolve, o.runtimeS * 1000).unref();
  });
  // Status refresh at the report period, and at least every 10 s (PvaPy reference 3.3).
  const periodS = o.reportPeriodS > 0 ? Math.min(o.reportPeriodS, 10) : 10;
  const timer = setInterval(() => {
    const s = c.refreshStatus();
    onStats?.(s);
    if (o.reportPeriodS > 0) report.write(format(title, s));
  }, periodS * 1000);
  await stop;
  clearInterval(timer);
  const final = await c.stop();
  report.release();
  if (!onStats) o.out.write(format(`${title} final`, final) + '\n');
  return final;
}
