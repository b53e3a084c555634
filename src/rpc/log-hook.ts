// The child side of log forwarding: console calls and writes to process.stdout/stderr are cut
// into lines, each sent to the parent as a LogRecord over the fork IPC channel with this
// process's clock. console.debug/info/log/warn/error give the level; other stdout lines are
// 'info', other stderr lines 'error'. Without the IPC channel (the parent is gone) the lines go
// to the real streams.
import { performance } from 'node:perf_hooks';
import type { LogLevel, LogRecord } from './log-records.js';

/** A line longer than this is sent in pieces (a record never holds an unbounded buffer). */
const MAX_LINE = 64 * 1024;
/** Records sent and not yet written to the IPC channel: past it, lines are dropped and counted. */
const MAX_IN_FLIGHT = 10_000;

export function installLogHook(name: string): void {
  let level: LogLevel | undefined;
  let inFlight = 0;
  let dropped = 0;
  const sent = (): void => void inFlight--;
  const send = (record: Omit<LogRecord, 'via'>): void => {
    // A parent that reads slower than this process writes must not grow this process's memory.
    if (inFlight >= MAX_IN_FLIGHT) {
      dropped++;
      return;
    }
    if (dropped > 0) {
      const message = `${dropped} log line(s) dropped: the parent read them slower than they were written`;
      inFlight++;
      process.send?.({ log: { ...record, level: 'warn', message } }, undefined, {}, sent);
      dropped = 0;
    }
    inFlight++;
    process.send?.({ log: record }, undefined, {}, sent);
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    const s = process[stream];
    const write = s.write.bind(s) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
    let partial = '';
    const emit = (message: string): void => {
      const record: Omit<LogRecord, 'via'> = {
        level: level ?? (stream === 'stdout' ? 'info' : 'error'),
        message,
        time: performance.timeOrigin + performance.now(),
        pid: process.pid,
        name,
        stream,
      };
      if (process.connected) send(record);
      else write(`${message}\n`);
    };
    s.write = ((chunk: string | Uint8Array, encoding?: unknown, cb?: unknown): boolean => {
      const text =
        typeof chunk === 'string'
          ? chunk
          : Buffer.from(chunk).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      let buf = partial + text;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        emit(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      while (buf.length > MAX_LINE) {
        emit(buf.slice(0, MAX_LINE));
        buf = buf.slice(MAX_LINE);
      }
      partial = buf;
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') process.nextTick(done as () => void);
      return true;
    }) as typeof s.write;
    process.once('exit', () => {
      if (partial !== '') emit(partial);
    });
  }
  const levels: [keyof Console, LogLevel][] = [
    ['debug', 'debug'],
    ['info', 'info'],
    ['log', 'info'],
    ['warn', 'warn'],
    ['error', 'error'],
  ];
  for (const [method, l] of levels) {
    const original = console[method] as (...a: unknown[]) => void;
    (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]): void => {
      const outer = level;
      level = l;
      try {
        original.apply(console, args);
      } finally {
        level = outer;
      }
    };
  }
}
