// Spawning the real `sluice` CLI in end-to-end tests: collects stdout and stderr, waits for
// a line matching a pattern (an event, not a sleep), and kills the process when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout line matching `re` (rejects after ms or if the process ends). */
  line(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Every CLI process a test started and that has not ended: killed when this test process ends. */
const live = new Set<ChildProcess>();
function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}
process.on('exit', killAll);
// A test file killed by the runner (a time-out, Ctrl-C) must not leave servers running for hours.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killAll();
    process.kill(process.pid, sig);
  });
}

/** Spawn the real CLI; the process is tracked and killed if this test process ends first. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export function startCli(t: TestContext, args: string[], env: NodeJS.ProcessEnv, lineTimeoutMs = 10_000): CliProcess {
  const child = spawnCli(args, env) as ChildProcess & { stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream };
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (d: string) => ((out += d), waiters.forEach((w) => w())));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => (waiters.forEach((w) => w()), resolve(code))));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const line = (re: RegExp, ms = lineTimeoutMs) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = out
          .split('\n')
          .map((l) => l.match(re))
          .find((x) => x);
        if (m) return done(() => resolve(m));
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`sluice ${args.join(' ')} ended without a line matching ${re}\nstdout: ${out}\nstderr: ${err}`)));
        }
      };
      const late = () => new Error(`no line matching ${re} within ${ms} ms\nstdout: ${out}\nstderr: ${err}`);
      const timer = setTimeout(() => done(() => reject(late())), ms);
      const done = (f: () => void) => (clearTimeout(timer), waiters.delete(check), f());
      waiters.add(check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, line, exited, kill: (s) => void child.kill(s) };
}

/** A UDP port free right now, for a test's own search port (never the shared 5076). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Environment for spawned CLIs and test clients that find each other only on loopback: UDP
 * search on a free port of this test's own (never the shared 5076), servers on any TCP port,
 * no beacons, and none of the caller's other EPICS_* settings.
 */
export async function loopbackEnv(): Promise<NodeJS.ProcessEnv> {
  const udp = String(await freeUdpPort());
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EPICS_')) env[k] = v;
  return {
    ...env,
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '127.0.0.1',
    EPICS_PVA_BROADCAST_PORT: udp,
    EPICS_PVAS_BROADCAST_PORT: udp,
    EPICS_PVAS_SERVER_PORT: '0',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
  };
}
