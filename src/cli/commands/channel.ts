// sluice channel: the channel server's channels from the command line (stream_service's client
// calls): create, list, inspect and delete them; write values in and read them out (channel-io.ts).
import type { ChannelDetails } from '../../channels/protocol.js';
import { defineCommand, UsageError, type CommandSpec, type OptionSpecs, type ParsedArgs } from '../args.js';
import { channelClientOptions, withChannelClient } from '../channel-options.js';
import { jsonOption, parseSeconds, whenAborted, type CliContext } from '../common.js';
import * as io from './channel-io.js';

export const createSpec = defineCommand({
  name: 'channel create',
  summary: 'Create a channel on the channel server.',
  usage: ['[options] NAME'],
  description:
    "The channel belongs to this command's client: without --persist it goes when its owner leaves, so the command " +
    'keeps running (holding the channel) until Ctrl-C; with --persist it returns at once and the channel stays. ' +
    'Prints the control key that deleting the channel needs. A private channel (--private) is not listed and needs ' +
    'its key (--key) to be read or written. The channel takes the type of its first writer.',
  options: {
    ...channelClientOptions,
    private: { type: 'boolean', description: 'Not listed; readers and writers need --key.' },
    key: { type: 'string', short: 'k', value: 'KEY', description: 'The key of a private channel.' },
    lifetime: { type: 'string', value: 'SEC', description: 'A temporary channel: the server deletes it SEC seconds after creation.' },
    'multi-writer': { type: 'boolean', description: 'Other clients may write too (default: only the owner).' },
    persist: { type: 'boolean', description: 'Keep the channel when this command exits.' },
    json: jsonOption,
  },
  minPositionals: 1,
  maxPositionals: 1,
  examples: [
    'sluice channel create --persist --multi-writer AnalogInput1',
    'sluice channel create --private --key s3cret --lifetime 60 tmp',
  ],
});

export const listSpec = defineCommand({
  name: 'channel list',
  summary: 'List the public channels of the channel server.',
  usage: ['[options]'],
  options: { ...channelClientOptions, json: jsonOption },
  maxPositionals: 0,
  examples: ['sluice channel list', 'sluice channel list --json'],
});

export const infoSpec = defineCommand({
  name: 'channel info',
  summary: 'Show a channel: owner, settings, type, readers with their buffers and counters, writers.',
  usage: ['[options] NAME'],
  options: {
    ...channelClientOptions,
    key: { type: 'string', short: 'k', value: 'KEY', description: 'The key of a private channel.' },
    json: jsonOption,
  },
  minPositionals: 1,
  maxPositionals: 1,
  examples: ['sluice channel info AnalogInput1'],
});

export const deleteSpec = defineCommand({
  name: 'channel delete',
  summary: 'Delete a channel (its readers end, its writers are refused).',
  usage: ['[options] --control-key KEY NAME'],
  options: {
    ...channelClientOptions,
    'control-key': { type: 'string', value: 'KEY', description: 'The control key `channel create` printed (required).' },
  },
  minPositionals: 1,
  maxPositionals: 1,
  examples: ['sluice channel delete --control-key 3f9c… AnalogInput1'],
});

interface Sub {
  spec: CommandSpec;
  run(args: ParsedArgs<OptionSpecs>, ctx: CliContext): Promise<number>;
}

/** `sluice channel <sub>`: each with its own options and --help. */
export const subcommands: Record<string, Sub> = {
  create: { spec: createSpec, run: (a, c) => runCreate(a as ParsedArgs<typeof createSpec.options>, c) },
  list: { spec: listSpec, run: (a, c) => runList(a as ParsedArgs<typeof listSpec.options>, c) },
  info: { spec: infoSpec, run: (a, c) => runInfo(a as ParsedArgs<typeof infoSpec.options>, c) },
  delete: { spec: deleteSpec, run: (a, c) => runDelete(a as ParsedArgs<typeof deleteSpec.options>, c) },
  write: { spec: io.writeSpec, run: (a, c) => io.runWrite(a as ParsedArgs<typeof io.writeSpec.options>, c) },
  read: { spec: io.readSpec, run: (a, c) => io.runRead(a as ParsedArgs<typeof io.readSpec.options>, c) },
};

export const spec = defineCommand({
  name: 'channel',
  summary: 'Create, list, inspect, delete, write and read channels of a channel server (sluice server).',
  usage: Object.values(subcommands).map((s) => `${s.spec.name.slice('channel '.length)} ${s.spec.usage[0] ?? ''}`.trimEnd()),
  description: "Run 'sluice channel <subcommand> --help' for a subcommand's options.",
  options: {},
  examples: [
    'sluice channel create --persist demo',
    'sluice channel write -n 10 demo 1.5',
    'sluice channel read --policy ring --fill-rate 5 demo',
  ],
});

export function run(args: ParsedArgs<OptionSpecs>): Promise<number> {
  const sub = args.positionals[0];
  throw new UsageError(sub ? `unknown subcommand '${sub}' (${Object.keys(subcommands).join(', ')})` : 'which subcommand?');
}

async function runCreate(args: ParsedArgs<typeof createSpec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const name = args.positionals[0] as string;
  if (v.private && !v.key) throw new UsageError('--private needs --key');
  const lifetime = v.lifetime === undefined ? undefined : parseSeconds(v.lifetime, '--lifetime') / 1000;
  return withChannelClient(v, ctx, name, async (client) => {
    const r = await client.createChannel(name, {
      public: !v.private,
      ...(v.key !== undefined ? { key: v.key } : {}),
      ...(lifetime !== undefined ? { lifetime } : {}),
      multiWriter: v['multi-writer'] === true,
      persist: v.persist === true,
    });
    if (v.json) ctx.out(JSON.stringify({ name: r.name, controlKey: r.controlKey }));
    else ctx.out(`created ${r.name}; control key ${r.controlKey}`);
    if (!v.persist) {
      ctx.err(`${r.name} stays while this command runs (Ctrl-C deletes it; --persist keeps it)`);
      await whenAborted(ctx.signal);
    }
    return 0;
  });
}

function runList(args: ParsedArgs<typeof listSpec.options>, ctx: CliContext): Promise<number> {
  return withChannelClient(args.values, ctx, undefined, async (client) => {
    const list = await client.listChannels();
    if (args.values.json) {
      for (const c of list) ctx.out(JSON.stringify(c));
      return 0;
    }
    const rows = list.map((c) => [
      c.name,
      c.owner,
      c.multiWriter ? 'multi' : 'single',
      c.persist ? 'yes' : 'no',
      c.expiresIn < 0 ? '-' : `${Math.round(c.expiresIn)}s`,
      String(c.readers),
      String(c.writers),
      String(c.messages),
      String(c.bytes),
    ]);
    ctx.out(table(['NAME', 'OWNER', 'WRITERS', 'PERSIST', 'EXPIRES', 'READERS', 'OPEN', 'MESSAGES', 'BYTES'], rows));
    return 0;
  });
}

function runInfo(args: ParsedArgs<typeof infoSpec.options>, ctx: CliContext): Promise<number> {
  const name = args.positionals[0] as string;
  return withChannelClient(args.values, ctx, name, async (client) => {
    const d = await client.channelInfo(name, args.values.key);
    ctx.out(args.values.json ? JSON.stringify(d) : formatDetails(d));
    return 0;
  });
}

function runDelete(args: ParsedArgs<typeof deleteSpec.options>, ctx: CliContext): Promise<number> {
  const name = args.positionals[0] as string;
  const key = args.values['control-key'];
  if (!key) throw new UsageError('--control-key is required');
  return withChannelClient(args.values, ctx, name, async (client) => {
    await client.deleteChannel(name, key);
    ctx.out(`deleted ${name}`);
    return 0;
  });
}

export function formatDetails(d: ChannelDetails): string {
  const lines = [
    `${d.name}`,
    `  owner ${d.owner}, ${d.public ? 'public' : 'private'}, ${d.multiWriter ? 'multi-writer' : 'single writer'}` +
      `${d.persist ? ', persists' : ''}${d.expiresIn >= 0 ? `, expires in ${Math.round(d.expiresIn)} s` : ''}`,
    `  ${d.messages} messages, ${d.bytes} bytes`,
    `  type: ${d.typed ? d.type.split('\n').join('\n        ') : '(none yet: the first writer gives it)'}`,
  ];
  lines.push(`  readers (${d.readerList.length}):`);
  for (const r of d.readerList) {
    lines.push(
      `    ${r.client || r.peer} ${r.policy} queue ${r.queued}/${r.queueSize} fillRate ${r.fillRate}: posted ${r.posted} ` +
        `sent ${r.sent} dropped ${r.dropped} fill-skipped ${r.fillSkipped} overruns ${r.overruns}`,
    );
  }
  lines.push(`  writers (${d.writerList.length}):`);
  for (const w of d.writerList) lines.push(`    ${w.id} seq ${w.seq}${w.ended ? ' (ended)' : ''}`);
  return lines.join('\n');
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
