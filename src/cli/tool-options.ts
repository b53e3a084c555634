// The options the EPICS client tools share (pvAccessCPP's pvget/pvput/pvmonitor/pvinfo/pvcall
// and PVXS's pvx* tools), declared once so that "rename the command" works: the output mode
// (-M, -R, -v, -F tree), the array limit (-#), the provider (-p), -V, -d, and the deprecated
// options pvget accepts and ignores (-t, -i, -n, -q, -c, -F).
import { UsageError, type OptionSpec } from './args.js';
import { jsonOption, requestOption, timeoutOption, type CliContext } from './common.js';

export const providerOption = {
  type: 'string',
  short: 'p',
  value: 'NAME',
  description: 'Provider: pva (pvAccess) or ca (Channel Access, with EPICS_CA_* settings).',
  default: 'pva',
} as const satisfies OptionSpec;

export const versionOption = { type: 'boolean', short: 'V', description: 'Print the version and exit.' } as const satisfies OptionSpec;

export const debugOption = {
  type: 'boolean',
  short: 'd',
  description:
    'Debug lines on stderr: the EPICS_* settings in effect and the server each PV was reached on (monitor: each connect and disconnect).',
} as const satisfies OptionSpec;

export const modeOption = {
  type: 'string',
  short: 'M',
  value: 'MODE',
  description:
    'Output mode, as pvget -M: nt (the compact NT form, the default), raw (the whole structure) or json (NAME and one line of JSON).',
} as const satisfies OptionSpec;

export const rawOption = {
  type: 'boolean',
  short: 'R',
  description: 'Raw mode: the whole structure, no NT formatting (same as -M raw).',
} as const satisfies OptionSpec;

export const arrayLimitOption = {
  type: 'string',
  short: '#',
  value: 'N',
  description: 'Print at most N elements of each array, then "..." (0: all, the default).',
} as const satisfies OptionSpec;

export const formatOption = {
  type: 'string',
  short: 'F',
  value: 'FMT',
  description: 'tree: the whole structure (pvxget -F tree); delta or any other value is accepted and ignored (pvget -F).',
} as const satisfies OptionSpec;

/** Verbosity counts: -v, -vv, -vvv. */
export const verbosityOption = {
  type: 'boolean',
  short: 'v',
  multiple: true,
  description: 'Show the entire structure (raw mode).',
} as const satisfies OptionSpec;

function ignored(short: string, what: string): OptionSpec & { type: 'boolean' } {
  return { type: 'boolean', short, description: `Accepted and ignored, as ${what} does.` };
}

/** pvget's deprecated options: accepted, no effect. */
export const pvgetIgnored = {
  terse: ignored('t', 'pvget'),
  'no-format': ignored('i', 'pvget'),
  numeric: ignored('n', 'pvget'),
  quiet: ignored('q', 'pvget'),
  clean: ignored('c', 'pvget'),
} as const;

export type Mode = 'nt' | 'raw' | 'json';

export interface OutputChoice {
  mode: Mode;
  arrayLimit: number;
  verbosity: number;
}

/** The output mode and array limit the options ask for; a bad -M or -# is a usage error. */
export function outputChoice(v: {
  mode?: string;
  raw?: boolean;
  verbose?: boolean[] | boolean;
  format?: string;
  'array-limit'?: string;
}): OutputChoice {
  const verbosity = Array.isArray(v.verbose) ? v.verbose.length : v.verbose ? 1 : 0;
  let mode: Mode = 'nt';
  if (v.mode !== undefined) {
    if (v.mode !== 'nt' && v.mode !== 'raw' && v.mode !== 'json') throw new UsageError(`-M expects raw, nt or json, not '${v.mode}'`);
    mode = v.mode;
  }
  // As pvget: -v turns the NT form into the raw form, but leaves JSON alone.
  if (mode === 'nt' && (v.raw || verbosity > 0 || v.format === 'tree')) mode = 'raw';
  let arrayLimit = 0;
  if (v['array-limit'] !== undefined) {
    const text = v['array-limit'];
    if (!/^\d+$/.test(text.trim())) throw new UsageError(`-# expects a number of elements (0 for all), not '${text}'`);
    arrayLimit = Number(text);
  }
  return { mode, arrayLimit, verbosity };
}

export type Provider = 'pva' | 'ca';

export function providerOf(text: string | undefined, allowed: readonly Provider[] = ['pva', 'ca']): Provider {
  const p = (text ?? 'pva') as Provider;
  if (!allowed.includes(p)) throw new UsageError(`-p expects ${allowed.join(' or ')}, not '${text}'`);
  return p;
}

/** Writes `debug: ...` lines on stderr when -d was given, nothing otherwise. */
export function debugLog(ctx: CliContext, on: boolean | undefined): (line: string) => void {
  return on ? (line) => ctx.err(`debug: ${line}`) : () => undefined;
}

/** -d: the EPICS_* variables in effect for the provider, one `debug:` line each. */
export function debugEnvironment(log: (line: string) => void, env: NodeJS.ProcessEnv, provider: Provider): void {
  const prefix = provider === 'ca' ? 'EPICS_CA_' : 'EPICS_PVA_';
  const set = Object.keys(env)
    .filter((k) => k.startsWith(prefix))
    .sort();
  log(`provider ${provider}; ${set.length ? set.map((k) => `${k}=${env[k]}`).join(' ') : `no ${prefix}* variable set (defaults apply)`}`);
}

/** Channel Access has no pvRequest: say so rather than ignore -r silently. */
export function warnIgnoredRequest(ctx: CliContext, provider: Provider, request: string | undefined): void {
  if (provider === 'ca' && request) ctx.err('warning: -r is ignored with -p ca (Channel Access has no pvRequest)');
}

/**
 * What the tools that read or write a PV's value once (get, put, call) all take: the request, the
 * time-out, the output mode, the array limit, the provider, JSON output, -d and -V.
 */
export const valueToolOptions = {
  request: requestOption,
  timeout: timeoutOption,
  verbose: verbosityOption,
  mode: modeOption,
  raw: rawOption,
  'array-limit': arrayLimitOption,
  provider: providerOption,
  json: jsonOption,
  debug: debugOption,
  version: versionOption,
} as const;
