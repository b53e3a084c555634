// Running consumers: one in this process (with its report loop), or several, each in its own
// OS process (PvaPy's --n-consumers), with the combined statistics printed at the end.
import { fork } from 'node:child_process';
import type { ReportGroup } from '../runtime/report-lines.js';
import { ReportWriter } from '../runtime/report-writer.js';
import { runHost, type RunOptions } from '../runtime/run-host.js';
import type { DataConsumer, ConsumerStats } from './consumer.js';
import { combineStats, formatStats } from './report.js';

export interface ConsumerRunOptions extends RunOptions {
  reportGroups: Set<ReportGroup>;
  /** Several processes: pass SIGHUP on to each (they reload their access rules). */
  forwardHangup?: boolean;
}

/** Run one consumer until stopped; returns its final stats. */
export function runConsumer(c: DataConsumer, o: ConsumerRunOptions, onStats?: (s: ConsumerStats) => void): Promise<ConsumerStats> {
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
  o: ConsumerRunOptions,
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
