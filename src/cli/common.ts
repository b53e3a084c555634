// What every command shares: the context main hands it (environment, output, a signal for
// Ctrl-C), the options pvget/pvput/pvmonitor all have (-r, -w, -v, --json), and the way errors
// become one line on stderr that names the PV.
import { serverConfigFromEnv } from '../pva/config.js';
import { DEFAULT_SERVER_PORT } from '../pva/constants.js';
import { SluiceError } from '../errors.js';
import { UsageError, type OptionSpec } from './args.js';

export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  /** Writes one line (a newline is added) to stdout. */
  out(line: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  /** Aborted on SIGINT or SIGTERM: long-running commands stop cleanly when it fires. */
  readonly signal: AbortSignal;
  /** Binary standard input and output, for the pipeline commands (stream format on stdin/stdout). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
}

/** The binary stdin or stdout a pipeline command needs; a usage error where main() runs without them. */
export function stdio<K extends 'stdin' | 'stdout'>(ctx: CliContext, which: K): NonNullable<CliContext[K]> {
  const s = ctx[which];
  if (!s) throw new UsageError(`this command needs a binary ${which}`);
  return s as NonNullable<CliContext[K]>;
}

export const DEFAULT_TIMEOUT_SEC = 5;

export const requestOption = {
  type: 'string',
  short: 'r',
  value: 'REQ',
  description: "pvRequest, e.g. 'field(value,alarm)' or 'record[queueSize=10]' (default: the whole structure).",
} as const satisfies OptionSpec;

export const timeoutOption = {
  type: 'string',
  short: 'w',
  value: 'SEC',
  description: 'Seconds to wait for the channel to connect and the operation to complete.',
  default: String(DEFAULT_TIMEOUT_SEC),
} as const satisfies OptionSpec;

export const verboseOption = {
  type: 'boolean',
  short: 'v',
  description: 'Print the full structure, one field per line, instead of the compact NT form.',
} as const satisfies OptionSpec;

export const jsonOption = {
  type: 'boolean',
  description: 'Print one JSON object per line (64-bit integers beyond 2^53 as strings).',
} as const satisfies OptionSpec;

export const portOption = {
  type: 'string',
  value: 'PORT',
  description: `TCP port to serve on; 0 picks a free one (default: EPICS_PVAS_SERVER_PORT or ${DEFAULT_SERVER_PORT}).`,
} as const satisfies OptionSpec;

export const hostOption = {
  type: 'string',
  value: 'ADDR',
  description: 'Interface address to serve on (default: all interfaces).',
} as const satisfies OptionSpec;

/** Seconds from the command line as milliseconds; `allowZero` lets 0 mean "no limit". */
export function parseSeconds(text: string | undefined, option: string, allowZero = false): number {
  const s = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(s) || s < 0 || (s === 0 && !allowZero)) {
    throw new UsageError(`${option} expects a ${allowZero ? 'non-negative' : 'positive'} number of seconds, not '${text}'`);
  }
  return Math.round(s * 1000);
}

export function parseCount(text: string | undefined, option: string, allowZero = false): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text.trim()) || (n === 0 && !allowZero)) {
    throw new UsageError(`${option} expects a ${allowZero ? 'non-negative' : 'positive'} integer, not '${text}'`);
  }
  return n;
}

/** The TCP port a server command listens on: --port, else the environment, else 5075. */
export function serverPort(text: string | undefined, env: NodeJS.ProcessEnv): { port: number; explicit: boolean } {
  if (text !== undefined) {
    if (!/^\d{1,5}$/.test(text) || Number(text) > 0xffff) throw new UsageError(`--port expects a port number, not '${text}'`);
    return { port: Number(text), explicit: true };
  }
  return { port: serverConfigFromEnv(env).serverPort, explicit: false };
}

/** What to check when a channel never connects. */
export const NOT_CONNECTED_HINT = 'is its server running, and reachable through EPICS_PVA_ADDR_LIST or EPICS_PVA_NAME_SERVERS?';

/**
 * One line describing a failure, naming the PV unless the message already does (client errors
 * usually do: "channel X not connected after 5000 ms").
 */
export function describeFailure(err: unknown, pv?: string): string {
  let msg = err instanceof Error ? err.message : String(err);
  if (/not connected after/.test(msg)) msg += ` (${NOT_CONNECTED_HINT})`;
  if (!pv || msg.includes(pv)) return msg;
  return `${pv}: ${msg}`;
}

/** Errors that mean "the command line is wrong" (exit 2) rather than "it did not work" (exit 1). */
export function isUsageError(err: unknown): boolean {
  return err instanceof SluiceError && (err.code === 'ERR_USAGE' || err.code === 'ERR_PVREQUEST');
}

/** Resolves when the signal aborts (Ctrl-C). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** A promise that resolves after `ms`, or early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
