// ProcessSpawner: a Node child process that runs an RPCServer (bootstrap.ts), so objects and
// modules there are used through proxies (Pyacq's ProcessSpawner). The child's console and
// output lines come back as log records with the child's clock (log-records.ts): printed with
// ISO times and the child's name by default, or handed to the caller's onLog.
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { SluiceError, TimeoutError } from '../errors.js';
import { RPCClient } from './client.js';
import { formatLogRecord, logRecordOf, type LogRecord } from './log-records.js';
import type { CallOptions, ObjectProxy } from './proxy.js';

export interface ProcessSpawnerOptions {
  /** The child's name: its RPC PV is `<name>:rpc` and its log records carry it (default 'child'). */
  name?: string;
  /** Interface the child's server listens on (default 127.0.0.1). */
  host?: string;
  /** Milliseconds to wait for the child to report its address (default 10,000). */
  startTimeout?: number;
  /** Takes every log record of the child (then nothing is printed unless it prints). */
  onLog?: (record: LogRecord) => void;
  /** Formats a record as the line given to `log` (default formatLogRecord: ISO time, name[pid], level, message). */
  logFormat?: (record: LogRecord) => string;
  /** Where formatted lines go (default: this process's stderr); unused with onLog. */
  log?: (line: string, record: LogRecord) => void;
  /** Extra arguments for node (e.g. --max-old-space-size=...). */
  execArgv?: string[];
  /** The Node.js executable that runs the child (Pyacq's executable option; default this process's). */
  execPath?: string;
  env?: NodeJS.ProcessEnv;
}

const BOOTSTRAP = fileURLToPath(new URL('./bootstrap.js', import.meta.url));
/** How long a child asked to stop may take to exit before SIGTERM. */
const STOP_GRACE_MS = 5000;

export class ProcessSpawner {
  readonly name: string;
  readonly child: ChildProcess;
  readonly client: RPCClient;
  readonly #exited: Promise<number | null>;

  private constructor(name: string, child: ChildProcess, client: RPCClient, exited: Promise<number | null>) {
    this.name = name;
    this.child = child;
    this.client = client;
    this.#exited = exited;
  }

  static async start(options: ProcessSpawnerOptions = {}): Promise<ProcessSpawner> {
    const name = options.name ?? 'child';
    const format = options.logFormat ?? formatLogRecord;
    const print = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const deliver = options.onLog ?? ((r: LogRecord) => print(format(r), r));
    const child = fork(BOOTSTRAP, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: options.execArgv ?? [],
      ...(options.execPath ? { execPath: options.execPath } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    let errText = '';
    const remember = (r: LogRecord) => {
      if (r.stream === 'stderr') errText = (errText + r.message + '\n').slice(-4000);
    };
    // What bypassed the child's hook (Node's report of an uncaught exception, a failed start).
    for (const stream of ['stdout', 'stderr'] as const) {
      const s = child[stream];
      if (!s) continue;
      createInterface({ input: s }).on('line', (message) => {
        const time = performance.timeOrigin + performance.now();
        const r: LogRecord = {
          level: stream === 'stderr' ? 'error' : 'info',
          message,
          time,
          pid: child.pid ?? 0,
          name,
          stream,
          via: 'pipe',
        };
        remember(r);
        deliver(r);
      });
    }
    child.on('message', (m: unknown) => {
      const r = logRecordOf(m);
      if (!r) return;
      // The child chose the pid; the name is the one this spawner gave.
      r.name = name;
      remember(r);
      deliver(r);
    });
    let spawnError: Error | undefined;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      // A child that never ran (no such executable) has no exit event.
      child.on('error', (err) => {
        if (child.pid !== undefined || spawnError) return;
        spawnError = err;
        resolve(null);
      });
    });
    const timeout = options.startTimeout ?? 10_000;
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new TimeoutError(`child '${name}' did not report its RPC address within ${timeout} ms${errText ? `:\n${errText}` : ''}`));
      }, timeout);
      const started = (m: { address?: string; error?: string; log?: unknown }) => {
        if (m.log !== undefined) return;
        child.off('message', started);
        clearTimeout(timer);
        if (m.address) resolve(m.address);
        else reject(new SluiceError('ERR_REMOTE', `child '${name}' could not start its RPC server: ${m.error ?? 'no reason given'}`));
      };
      child.on('message', started);
      void exited.then((code) => {
        clearTimeout(timer);
        if (spawnError) reject(new SluiceError('ERR_REMOTE', `child '${name}' could not be started: ${spawnError.message}`));
        reject(
          new SluiceError(
            'ERR_REMOTE',
            `child '${name}' exited (code ${code}) before reporting its RPC address${errText ? `:\n${errText}` : ''}`,
          ),
        );
      });
      // A child that never ran fails this send too: the spawn error above tells why.
      child.send({ name, host: options.host ?? '127.0.0.1', logRecords: true }, () => {});
    });
    return new ProcessSpawner(name, child, RPCClient.forAddress(address), exited);
  }

  /** A proxy to a module imported in the child (`await import(specifier)` there). */
  import(specifier: string, opts?: CallOptions): Promise<ObjectProxy> {
    return this.client.import(specifier, opts);
  }

  /** Ask the child's server to close; the child then exits. Resolves with its exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      // The reply to close can lose the race with the closing connection: that is not a refusal,
      // so the child gets a grace period to exit on its own before SIGTERM.
      const asked = await this.client.closeServer().then(
        () => true,
        (err: unknown) => (err as { code?: string }).code === 'ERR_CONNECTION_CLOSED',
      );
      if (!asked || !(await this.#exitsWithin(STOP_GRACE_MS))) this.child.kill('SIGTERM');
    }
    const code = await this.#exited;
    this.client.close();
    return code;
  }

  async #exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const exited = await Promise.race([this.#exited.then(() => true as const), late]);
    clearTimeout(timer);
    return exited;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
    this.client.close();
  }

  /** The exit code (null after a signal), when the child has exited. */
  wait(): Promise<number | null> {
    return this.#exited;
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }
}
