// Log records of spawned processes (Pyacq's log server and RPCLogHandler idea): a child's console
// calls and stdout/stderr lines become records stamped with the child's clock, its pid and its
// name, carried to the parent over the fork IPC channel. The parent prints them (formatLogRecord)
// or hands them to the user, so logs of many processes can be merged and sorted by time.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  level: LogLevel;
  /** One line of text (a multi-line message gives one record per line). */
  message: string;
  /** When the child wrote it: ms since the epoch on the child's clock (sub-millisecond resolution). */
  time: number;
  pid: number;
  /** The spawner's name for the child. */
  name: string;
  /** The stream the line was written to. */
  stream: 'stdout' | 'stderr';
  /**
   * 'child': sent by the child's log hook; 'pipe': read from the child's raw stdout/stderr (output
   * that bypassed the hook, such as Node's report of an uncaught exception), stamped on arrival.
   */
  via: 'child' | 'pipe';
  /** The Host that ran the process, on records a Manager collects from Hosts. */
  host?: string;
}

const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];

/** `2026-12-06T19:40:01.123Z worker[4242] info: hello`: the child's time in ISO form, its name and pid. */
export function formatLogRecord(r: LogRecord): string {
  return `${new Date(r.time).toISOString()} ${r.name}[${r.pid}] ${r.level}: ${r.message}`;
}

/** A record from an IPC message, checked (the child runs user code: its messages are data, not trusted shapes). */
export function logRecordOf(m: unknown): LogRecord | undefined {
  const r = (m as { log?: Record<string, unknown> } | null)?.log;
  if (!r || typeof r !== 'object') return undefined;
  const level = LEVELS.includes(r['level'] as string) ? (r['level'] as LogLevel) : 'info';
  const time = typeof r['time'] === 'number' && Number.isFinite(r['time']) ? r['time'] : Date.now();
  return {
    level,
    message: String(r['message'] ?? ''),
    time,
    pid: typeof r['pid'] === 'number' ? r['pid'] : 0,
    name: String(r['name'] ?? ''),
    stream: r['stream'] === 'stderr' ? 'stderr' : 'stdout',
    via: 'child',
  };
}
