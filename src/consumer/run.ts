// Running consumers: one in this process (with its report loop), or several, each in its own
// OS process (PvaPy's --n-consumers), with the combined statistics printed at the end; and the
// run loop that collectors share.
import { fork } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import type { ProcessorLogger } from '../processing/user-data-processor.js';
import type { DataConsumer, ConsumerStats } from './consumer.js';
import { combineStats, formatStats, ReportWriter, type ReportGroup } from './report.js';

export interface RunOptions {
  runtimeS: number;
  reportPeriodS: number;
  reportGroups: Set<ReportGroup>;
  out: NodeJS.WriteStream;
  /** Abort to stop (Ctrl-C). */
  signal: AbortSignal;
  /** Live redraw on a terminal (off with --disable-curses or logging). */
  live: boolean;
  /** Several processes: pass SIGHUP on to each (they reload their access rules). */
  forwardHangup?: boolean;
}

const LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type LogLevel = (typeof LEVELS)[number];

/** A logger for processors and the framework: `--log-level` and `--log-file` (stderr by default). */
export function makeLogger(name: string, level: LogLevel | undefined, file: string | undefined): ProcessorLogger {
  const min = level ? LEVELS.indexOf(level) : LEVELS.length; // no level: silent, as PvaPy
  const emit = (lv: LogLevel, msg: string): void => {
    if (LEVELS.indexOf(lv) < min) return;
    const text = `${new Date().toISOString()} ${name} ${lv.toUpperCase()}: ${msg}\n`;
    if (file) appendFileSync(file, text);
    else process.stderr.write(text);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warning', m),
    error: (m) => emit('error', m),
    warning: (m) => emit('warning', m),
    critical: (m) => emit('critical', m),
  };
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

/** Run one consumer until stopped; returns its final stats. */
export function runConsumer(c: DataConsumer, o: RunOptions, onStats?: (s: ConsumerStats) => void): Promise<ConsumerStats> {
  return runHost(c, o, `consumer ${c.options.consumerId}`, (title, s) => formatStats(title, s, o.reportGroups), onStats);
}

/** Messages between the parent and a consumer child process. */
type ChildMessage = { type: 'stats' | 'final'; stats: ConsumerStats };

/**
 * Several consumers: this process starts one child per id (the same command line, told its id
 * and offset through the environment), shows their reports, and prints the combined stats.
 */
export async function runConsumerProcesses(
  ids: number[],
  objectIdOffset: number,
  argv: string[],
  o: RunOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConsumerStats[]> {
  const latest = new Map<number, ConsumerStats>();
  const finals = new Map<number, ConsumerStats>();
  const report = new ReportWriter(o.out, o.live);
  const children = ids.map((id) => {
    const child = fork(process.argv[1] as string, argv, {
      env: { ...env, SLUICE_CONSUMER_ID: String(id), SLUICE_CONSUMER_OID_OFFSET: String(objectIdOffset) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'final') finals.set(id, m.stats);
      else latest.set(id, m.stats);
    });
    return { id, child, exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))) };
  });
  const stopAll = (): void => {
    for (const c of children) if (c.child.connected) c.child.send({ type: 'stop' });
  };
  o.signal.addEventListener('abort', stopAll, { once: true });
  const hangup = (): void => children.forEach((c) => c.child.kill('SIGHUP'));
  if (o.forwardHangup) process.on('SIGHUP', hangup);
  const runtime = o.runtimeS > 0 ? setTimeout(stopAll, o.runtimeS * 1000) : null;
  const ticker =
    o.reportPeriodS > 0
      ? setInterval(() => {
          const blocks = [...latest.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([id, s]) => formatStats(`consumer ${id}`, s, o.reportGroups));
          if (blocks.length) report.write(blocks.join('\n'));
        }, o.reportPeriodS * 1000)
      : null;
  const codes = await Promise.all(children.map((c) => c.exited));
  process.off('SIGHUP', hangup);
  if (runtime) clearTimeout(runtime);
  if (ticker) clearInterval(ticker);
  report.release();
  const all = ids.map((id) => finals.get(id)).filter((s): s is ConsumerStats => s !== undefined);
  for (const s of all) o.out.write(formatStats(`consumer ${s.consumerId} final`, s, o.reportGroups) + '\n');
  if (all.length) o.out.write(formatStats('Combined System Stats', combineStats(all), o.reportGroups) + '\n');
  const failed = codes.filter((c) => c !== 0).length;
  if (failed) o.out.write(`${failed} of ${ids.length} consumer processes exited with an error\n`);
  return all;
}

/** In a child: report to the parent, and stop when it says so (Ctrl-C goes to the parent). */
export function childChannel(): { onStats: (s: ConsumerStats) => void; final: (s: ConsumerStats) => void; stop: AbortSignal } | null {
  if (!process.send || !process.env['SLUICE_CONSUMER_ID']) return null;
  const ac = new AbortController();
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') ac.abort();
  });
  process.on('disconnect', () => ac.abort()); // the parent died
  process.on('SIGINT', () => {}); // the parent decides
  return {
    onStats: (s) => process.send?.({ type: 'stats', stats: s }),
    final: (s) => process.send?.({ type: 'final', stats: s }),
    stop: ac.signal,
  };
}
