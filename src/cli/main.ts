#!/usr/bin/env node
// The `sluice` command: dispatches to one module per subcommand. Exit status 0 on success, 1 when
// the command ran and failed (no connection, error from the server), 2 for bad usage.
import { sluiceVersion } from '../pva/server/server-info.js';
import { helpText, markdownReference, parseCommandArgs, type CommandSpec, type OptionSpecs, type ParsedArgs } from './args.js';
import { isUsageError, type CliContext } from './common.js';
import * as call from './commands/call.js';
import * as cat from './commands/cat.js';
import * as channel from './commands/channel.js';
import * as collector from './commands/collector.js';
import * as consumer from './commands/consumer.js';
import * as dashboard from './commands/dashboard.js';
import * as demo from './commands/demo.js';
import * as filter from './commands/filter.js';
import * as fromJson from './commands/from-json.js';
import * as get from './commands/get.js';
import * as host from './commands/host.js';
import * as head from './commands/head.js';
import * as info from './commands/info.js';
import * as list from './commands/list.js';
import * as mailbox from './commands/mailbox.js';
import * as merge from './commands/merge.js';
import * as mirror from './commands/mirror.js';
import * as monitor from './commands/monitor.js';
import * as partition from './commands/partition.js';
import * as processStage from './commands/process.js';
import * as publish from './commands/publish.js';
import * as put from './commands/put.js';
import * as server from './commands/server.js';
import * as sim from './commands/sim.js';
import * as tee from './commands/tee.js';
import * as toCsv from './commands/to-csv.js';
import * as toJson from './commands/to-json.js';

interface CommandModule {
  spec: CommandSpec;
  run(args: ParsedArgs<OptionSpecs>, ctx: CliContext): Promise<number>;
  /** `sluice <command> <sub> ...`: subcommands with their own options and --help. */
  subcommands?: Record<string, CommandModule>;
}

/** In the order `sluice --help` lists them. */
const COMMANDS: CommandModule[] = [
  get,
  put,
  monitor,
  info,
  call,
  list,
  consumer,
  collector,
  mailbox,
  demo,
  dashboard,
  sim,
  mirror,
  server,
  channel,
  cat,
  head,
  filter,
  tee,
  partition,
  merge,
  processStage,
  toJson,
  fromJson,
  toCsv,
  publish,
  host,
];

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return [
    'Usage: sluice <command> [options] [arguments]',
    '       sluice <command> --help',
    '       sluice --version',
    '',
    'EPICS pvAccess from the command line, in pure TypeScript.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    'Clients find PVs through EPICS_PVA_ADDR_LIST, EPICS_PVA_AUTO_ADDR_LIST, EPICS_PVA_NAME_SERVERS,',
    'EPICS_PVA_BROADCAST_PORT and EPICS_PVA_SERVER_PORT; servers use EPICS_PVAS_* (see docs/cli.md).',
    'Exit status: 0 success, 1 failure (e.g. a PV did not connect), 2 bad usage.',
    '',
  ].join('\n');
}

/** The whole command reference of docs/cli.md (`sluice --help-markdown`, not advertised). */
export function markdownCommandReference(): string {
  return COMMANDS.flatMap((c) => [c, ...Object.values(c.subcommands ?? {})])
    .map((c) => markdownReference(c.spec))
    .join('\n');
}

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    ctx.err(generalHelp().trimEnd());
    return 2;
  }
  if (first === '-h' || first === '--help' || (first === 'help' && rest.length === 0)) {
    ctx.out(generalHelp().trimEnd());
    return 0;
  }
  if (first === '-V' || first === '--version') {
    ctx.out(`sluice ${sluiceVersion()}`);
    return 0;
  }
  if (first === '--help-markdown') {
    ctx.out(markdownCommandReference().trimEnd());
    return 0;
  }
  const name = first === 'help' ? (rest[0] as string) : first;
  let cmd = COMMANDS.find((c) => c.spec.name === name);
  let args0 = rest;
  const subName = first === 'help' ? rest[1] : rest[0];
  const sub = subName !== undefined ? cmd?.subcommands?.[subName] : undefined;
  if (sub) {
    cmd = sub;
    args0 = first === 'help' ? rest : rest.slice(1);
  }
  if (!cmd) {
    ctx.err(`sluice: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.spec.name).join(', ')}.`);
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
