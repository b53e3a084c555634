// Sessions with the real `sluice` CLI for the end-to-end tests of the client commands: an
// environment that finds servers only on loopback, a command run to completion, and a spawned
// `sluice mailbox` to talk to.
import type { TestContext } from 'node:test';
import { startCli, type CliProcess } from './cli.js';

/** The caller's environment minus any EPICS setting, plus loopback-only pvAccess settings. */
export function envFor(port?: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EPICS_')) env[k] = v;
  Object.assign(env, {
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
    EPICS_PVAS_BROADCAST_PORT: '0', // servers answer UDP searches on a free port: no clashes
  });
  if (port !== undefined) env['EPICS_PVA_NAME_SERVERS'] = `127.0.0.1:${port}`;
  return Object.assign(env, extra);
}

export type Cli = CliProcess;

export function start(t: TestContext, args: string[], env: NodeJS.ProcessEnv): Cli {
  return startCli(t, args, env);
}

/** Run `sluice ...args` to completion. */
export async function run(
  t: TestContext,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string }> {
  const cli = start(t, args, env);
  const code = await cli.exited;
  return { code, out: cli.stdout(), err: cli.stderr() };
}

/** `sluice mailbox` on a free port; resolves once it prints where it listens. */
export async function mailbox(t: TestContext, ...pvs: string[]): Promise<{ port: number; env: NodeJS.ProcessEnv; cli: Cli }> {
  const cli = start(t, ['mailbox', '--port', '0', '--host', '127.0.0.1', ...pvs], envFor());
  const m = await cli.line(/^listening on 127\.0\.0\.1:(\d+)$/);
  const port = Number(m[1]);
  return { port, env: envFor(port), cli };
}
