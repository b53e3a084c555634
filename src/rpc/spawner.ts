// ProcessSpawner: a Node child process that runs an RPCServer (bootstrap.ts), so objects and
// modules there are used through proxies (Pyacq's ProcessSpawner). The child's stdout and stderr
// come back line by line, prefixed with its name, to a logger.
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SluiceError, TimeoutError } from '../errors.js';
import { RPCClient } from './client.js';
import type { CallOptions, ObjectProxy } from './proxy.js';

export interface ProcessSpawnerOptions {
  /** The child's name: its RPC PV is `<name>:rpc` and its log lines are prefixed with it (default 'child'). */
  name?: string;
  /** Interface the child's server listens on (default 127.0.0.1). */
  host?: string;
  /** Milliseconds to wait for the child to report its address (default 10,000). */
  startTimeout?: number;
  /** Where the child's output lines go (default: this process's stderr). */
  log?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Extra arguments for node (e.g. --max-old-space-size=...). */
  execArgv?: string[];
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
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const child = fork(BOOTSTRAP, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: options.execArgv ?? [],
      ...(options.env ? { env: options.env } : {}),
    });
    let errText = '';
    for (const stream of ['stdout', 'stderr'] as const) {
      const s = child[stream];
      if (!s) continue;
      createInterface({ input: s }).on('line', (line) => {
        if (stream === 'stderr') errText = (errText + line + '\n').slice(-4000);
        log(`[${name}] ${line}`, stream);
      });
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const timeout = options.startTimeout ?? 10_000;
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new TimeoutError(`child '${name}' did not report its RPC address within ${timeout} ms${errText ? `:\n${errText}` : ''}`));
      }, timeout);
      child.once('message', (m: { address?: string; error?: string }) => {
        clearTimeout(timer);
        if (m.address) resolve(m.address);
        else reject(new SluiceError('ERR_REMOTE', `child '${name}' could not start its RPC server: ${m.error ?? 'no reason given'}`));
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(
          new SluiceError(
            'ERR_REMOTE',
            `child '${name}' exited (code ${code}) before reporting its RPC address${errText ? `:\n${errText}` : ''}`,
          ),
        );
      });
      child.send({ name, host: options.host ?? '127.0.0.1' });
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
