// The access options of the serving commands (consumer, collector, mirror, sim, mailbox, demo):
// an ACF, a PV list, client-IP host matching; their environment defaults; reload on SIGHUP.
import { AccessPolicy } from '../access/policy.js';
import { PvaServer } from '../pva/server/server.js';
import { SluiceError } from '../errors.js';
import { UsageError, type OptionSpec } from './args.js';
import { serverPort, type CliContext } from './common.js';

export const accessOptions = {
  'access-file': {
    type: 'string',
    value: 'FILE',
    description:
      'EPICS access security file (ACF: UAG, HAG, ASG rules) deciding who may read, put and call RPCs; ' +
      'control PVs are in ASG CONTROL. Default SLUICE_ACCESS_FILE; none: everything allowed. Reloaded on SIGHUP.',
  },
  'access-pvlist': {
    type: 'string',
    value: 'FILE',
    description:
      'PV list placing PV name patterns in ASGs (REGEX ALLOW [ASG [ASL]], REGEX DENY [FROM HOST...]). Default SLUICE_ACCESS_PVLIST.',
  },
  'access-check-ip': {
    type: 'boolean',
    description:
      "Match HAG hosts by the client's IP address, not the host name it announces (EPICS asCheckClientIP). Default SLUICE_ACCESS_CHECK_IP=YES.",
  },
} as const satisfies Record<string, OptionSpec>;

export interface AccessValues {
  'access-file'?: string | undefined;
  'access-pvlist'?: string | undefined;
  'access-check-ip'?: boolean | undefined;
}

/** The files and mode from the options, else the environment; null when no rules are configured. */
export function accessSettings(
  v: AccessValues,
  env: NodeJS.ProcessEnv,
): { acfFile?: string; pvlistFile?: string; checkClientIp: boolean } | null {
  const acfFile = v['access-file'] ?? (env['SLUICE_ACCESS_FILE'] || undefined);
  const pvlistFile = v['access-pvlist'] ?? (env['SLUICE_ACCESS_PVLIST'] || undefined);
  const checkClientIp = v['access-check-ip'] ?? /^(YES|TRUE|1)$/i.test(env['SLUICE_ACCESS_CHECK_IP'] ?? '');
  if (!acfFile && !pvlistFile) return null;
  return { ...(acfFile ? { acfFile } : {}), ...(pvlistFile ? { pvlistFile } : {}), checkClientIp };
}

/** The command-line form of the settings, for child processes (consumers, demo). */
export function accessArgv(v: AccessValues): string[] {
  const out: string[] = [];
  if (v['access-file']) out.push('--access-file', v['access-file']);
  if (v['access-pvlist']) out.push('--access-pvlist', v['access-pvlist']);
  if (v['access-check-ip']) out.push('--access-check-ip');
  return out;
}

/**
 * Load the configured rules (undefined when none). A file that does not parse is a usage error
 * at start-up, naming file:line. Refusals and trapped puts are logged on stderr.
 */
export async function loadAccess(v: AccessValues, ctx: CliContext): Promise<AccessPolicy | undefined> {
  const s = accessSettings(v, ctx.env);
  if (!s) return undefined;
  try {
    return await AccessPolicy.load({ ...s, log: (line) => ctx.err(line) });
  } catch (err) {
    if (err instanceof SluiceError) throw new UsageError(err.message);
    throw new UsageError(`access rules: ${(err as Error).message}`);
  }
}

/**
 * With rules configured, SIGHUP reloads them and hands them to `apply` (until the command ends);
 * a file that no longer parses keeps the rules in force and says why.
 */
export function reloadAccessOnHangup(v: AccessValues, ctx: CliContext, apply: (p: AccessPolicy) => void): void {
  const s = accessSettings(v, ctx.env);
  if (!s) return;
  const files = [s.acfFile, s.pvlistFile].filter(Boolean).join(' and ');
  const onHangup = (): void => {
    AccessPolicy.load({ ...s, log: (line) => ctx.err(line) }).then(
      (p) => {
        apply(p);
        ctx.out(`access rules reloaded from ${files}`);
      },
      (err: unknown) => ctx.err(`access rules not reloaded (the previous ones stay): ${(err as Error).message}`),
    );
  };
  process.on('SIGHUP', onHangup);
  ctx.signal.addEventListener('abort', () => process.off('SIGHUP', onHangup), { once: true });
}

/**
 * A pvAccess server on --port/--host (or EPICS_PVAS_* defaults) that enforces the access options,
 * reloading them on SIGHUP: what the commands that serve PVs of their own (publish, mailbox, mirror) share.
 */
export async function servingServer(v: AccessValues & { port?: string; host?: string }, ctx: CliContext): Promise<PvaServer> {
  const { port, explicit } = serverPort(v.port, ctx.env);
  const access = await loadAccess(v, ctx);
  const server = new PvaServer({
    env: ctx.env,
    ...(explicit ? { port } : {}),
    ...(v.host ? { host: v.host } : {}),
    ...(access ? { access } : {}),
  });
  reloadAccessOnHangup(v, ctx, (p) => (server.access = p));
  return server;
}
