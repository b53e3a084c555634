#!/usr/bin/env node
// The `sluice` command: dispatches to one module per subcommand. Exit status 0 on success, 1 when
// the command ran and failed (no connection, error from the server), 2 for bad usage.
import { sluiceVersion } from '../version.js';
import { helpText, markdownReference, parseCommandArgs, type CommandSpec, type OptionSpecs, type ParsedArgs } from './args.js';
import { isUsageError, type CliContext } from './common.js';

interface CommandModule {
  spec: CommandSpec;
  run(args: ParsedArgs<OptionSpecs>, ctx: CliContext): Promise<number>;
  /** `sluice <command> <sub> ...`: subcommands with their own options and --help. */
  subcommands?: Record<string, CommandModule>;
}

/**
 * In the order `sluice --help` lists them. Each module is loaded only when its command runs (or
 * for help): a pipeline stage starts without loading the servers, consumers and codecs it never uses.
 */
const COMMANDS: Array<[name: string, load: () => Promise<CommandModule>]> = [
  ['get', () => import('./commands/get.js')],
  ['put', () => import('./commands/put.js')],
  ['monitor', () => import('./commands/monitor.js')],
  ['info', () => import('./commands/info.js')],
  ['call', () => import('./commands/call.js')],
  ['list', () => import('./commands/list.js')],
  ['consumer', () => import('./commands/consumer.js')],
  ['collector', () => import('./commands/collector.js')],
  ['mailbox', () => import('./commands/mailbox.js')],
  ['demo', () => import('./commands/demo.js')],
  ['dashboard', () => import('./commands/dashboard.js')],
  ['sim', () => import('./commands/sim.js')],
  ['mirror', () => import('./commands/mirror.js')],
  ['server', () => import('./commands/server.js')],
  ['channel', () => import('./commands/channel.js')],
  ['cat', () => import('./commands/cat.js')],
  ['head', () => import('./commands/head.js')],
  ['filter', () => import('./commands/filter.js')],
  ['tee', () => import('./commands/tee.js')],
  ['partition', () => import('./commands/partition.js')],
  ['merge', () => import('./commands/merge.js')],
  ['process', () => import('./commands/process.js')],
  ['to-json', () => import('./commands/to-json.js')],
  ['from-json', () => import('./commands/from-json.js')],
  ['to-csv', () => import('./commands/to-csv.js')],
  ['from-csv', () => import('./commands/from-csv.js')],
  ['save', () => import('./commands/save.js')],
  ['replay', () => import('./commands/replay.js')],
  ['publish', () => import('./commands/publish.js')],
  ['host', () => import('./commands/host.js')],
];

const loadAll = (): Promise<CommandModule[]> => Promise.all(COMMANDS.map(([, load]) => load()));

async function generalHelp(): Promise<string> {
  const commands = await loadAll();
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2;
  return [
    'Usage: sluice <command> [options] [arguments]',
    '       sluice <command> --help',
    '       sluice --version',
    '',
    'EPICS pvAccess from the command line, in pure TypeScript.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    'Clients find PVs through EPICS_PVA_ADDR_LIST, EPICS_PVA_AUTO_ADDR_LIST, EPICS_PVA_NAME_SERVERS,',
    'EPICS_PVA_BROADCAST_PORT and EPICS_PVA_SERVER_PORT; servers use EPICS_PVAS_* (see docs/cli.md).',
    'Exit status: 0 success, 1 failure (e.g. a PV did not connect), 2 bad usage.',
    '',
  ].join('\n');
}

/** The whole command reference of docs/cli.md (`sluice --help-markdown`, not advertised). */
export async function markdownCommandReference(): Promise<string> {
  return (await loadAll())
    .flatMap((c) => [c, ...Object.values(c.subcommands ?? {})])
    .map((c) => markdownReference(c.spec))
    .join('\n');
}

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    ctx.err((await generalHelp()).trimEnd());
    return 2;
  }
  if (first === '-h' || first === '--help' || (first === 'help' && rest.length === 0)) {
    ctx.out((await generalHelp()).trimEnd());
    return 0;
  }
  if (first === '-V' || first === '--version') {
    ctx.out(`sluice ${sluiceVersion()}`);
    return 0;
  }
  if (first === '--help-markdown') {
    ctx.out((await markdownCommandReference()).trimEnd());
    return 0;
  }
  const name = first === 'help' ? (rest[0] as string) : first;
  const entry = COMMANDS.find(([n]) => n === name);
  let cmd = entry ? await entry[1]() : undefined;
  let args0 = rest;
  const subName = first === 'help' ? rest[1] : rest[0];
  const sub = subName !== undefined ? cmd?.subcommands?.[subName] : undefined;
  if (sub) {
    cmd = sub;
    args0 = first === 'help' ? rest : rest.slice(1);
  }
  if (!cmd) {
    ctx.err(`sluice: unknown command '${name}'. Commands: ${COMMANDS.map(([n]) => n).join(', ')}.`);
    return 2;
  }
  if (first === 'help') {
    ctx.out(helpText(cmd.spec).trimEnd());
    return 0;
  }
  try {
    const args = parseCommandArgs(cmd.spec, args0);
    if (args.values.help) {
      ctx.out(helpText(cmd.spec).trimEnd());
      return 0;
    }
    if ((args.values as Record<string, unknown>)['version'] === true) {
      ctx.out(`sluice ${sluiceVersion()}`);
      return 0;
    }
    return await cmd.run(args, ctx);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (isUsageError(err)) {
      ctx.err(`sluice ${cmd.spec.name}: ${message}`);
      ctx.err(`Run 'sluice ${cmd.spec.name} --help' for usage.`);
      return 2;
    }
    ctx.err(`sluice ${cmd.spec.name}: ${message}`);
    return 1;
  }
}

function runAsProgram(): void {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    // The first Ctrl-C stops the command cleanly; a second one stops the process at once.
    if (++signals > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `sluice monitor X | head` closes our stdout: that is a normal end, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const ctx: CliContext = {
    env: process.env,
    out: (line) => void process.stdout.write(line + '\n'),
    err: (line) => void process.stderr.write(line + '\n'),
    signal: controller.signal,
    stdin: process.stdin,
    stdout: process.stdout,
  };
  main(process.argv.slice(2), ctx).then(
    (code) => exitAfterFlush(code),
    (err: unknown) => {
      process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      exitAfterFlush(1);
    },
  );
}

/** Exit once stdout and stderr have taken everything (they may be pipes), even if handles linger. */
function exitAfterFlush(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

runAsProgram();
