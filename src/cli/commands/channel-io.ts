// sluice channel write / read: values into a channel (from the command line, or relayed from a
// PV's monitor) and out of it through a reader buffer on the server, printed as sluice monitor does.
import { InvalidArgumentError } from '../../errors.js';
import type { ChannelClient } from '../../channels/client.js';
import type { ChannelWriter } from '../../channels/writer.js';
import type { ReaderPolicy } from '../../pv/source.js';
import { READER_POLICIES } from '../../pv/source.js';
import { inferType } from '../../pvdata/infer.js';
import { ntscalar, ntscalarArray } from '../../pvdata/nt/index.js';
import type { StructureDesc } from '../../pvdata/types.js';
import type { PVStructure, PVValue } from '../../pvdata/values.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { channelClientOptions, withChannelClient } from '../channel-options.js';
import { jsonOption, parseCount, parseSeconds, sleep, type CliContext } from '../common.js';
import { makeClient } from '../pva-client.js';
import { formatValue, toJSONValue } from '../format.js';
import { parseJSONText } from '../parse-value.js';
import { buildPut } from './put.js';

export const writeSpec = defineCommand({
  name: 'channel write',
  summary: 'Write values into a channel (as its owner, or as one more writer of a multi-writer channel).',
  usage: ['[options] NAME VALUE...', '[options] --from PV NAME'],
  description:
    'VALUE is given as to sluice put: a bare value for the value field, FIELD=VALUE pairs, or JSON. A channel ' +
    'without a type yet takes one from the first VALUE (a number: NTScalar double; a JSON array of numbers: ' +
    'NTScalarArray double; other text: NTScalar string; a JSON object: its inferred structure). With --from, ' +
    "every update of the PV's monitor is written (the channel takes the PV's type). The writer waits while the " +
    'channel has no reader (--drop: drops and counts instead), then ends with its end-of-transfer mark.',
  options: {
    ...channelClientOptions,
    key: { type: 'string', short: 'k', value: 'KEY', description: 'The key of a private channel.' },
    count: {
      type: 'string',
      short: 'n',
      value: 'N',
      description: 'Write the value N times (with --from: relay N updates). Default 1; with --from, until Ctrl-C.',
    },
    from: { type: 'string', value: 'PV', description: 'Relay the updates of this PV (found by the pvAccess search).' },
    interval: { type: 'string', value: 'SEC', description: 'Seconds between values written from the command line (default 0).' },
    drop: { type: 'boolean', description: 'While the channel has no reader, drop values (counted) instead of waiting.' },
  },
  minPositionals: 1,
  examples: [
    'sluice channel write demo 1.5',
    'sluice channel write -n 100 demo \'{"value":[1,2,3]}\'',
    'sluice channel write --from IMG:image frames',
  ],
});

export const readSpec = defineCommand({
  name: 'channel read',
  summary: 'Read a channel through a reader buffer on the server, printing each value as sluice monitor does.',
  usage: ['[options] NAME'],
  description:
    'The server keeps this reader a buffer of --queue-size values that overflows by --policy (ring: drop the oldest; ' +
    "clear: empty it; skip: drop the new value; wait: hold the writers back; raise: refuse the writer's put) and keeps " +
    'every --fill-rate-th value. Stops after every writer sent its end mark, after --count values, or on Ctrl-C; ' +
    "then prints what was received, the values missing from the writers' sequences, and the overruns.",
  options: {
    ...channelClientOptions,
    key: { type: 'string', short: 'k', value: 'KEY', description: 'The key of a private channel.' },
    'queue-size': { type: 'string', value: 'N', description: 'Size of the reader buffer on the server (default 100).' },
    policy: { type: 'string', value: 'POLICY', description: `Overflow policy: ${READER_POLICIES.join(', ')} (default ring).` },
    'fill-rate': { type: 'string', value: 'N', description: 'Keep every N-th value (default 1: all).' },
    count: { type: 'string', short: 'n', value: 'N', description: 'Exit after N values.' },
    writer: { type: 'boolean', description: 'Print who wrote each value (writer id and sequence number).' },
    quiet: { type: 'boolean', short: 'q', description: 'Print no values, only the summary.' },
    json: jsonOption,
  },
  minPositionals: 1,
  maxPositionals: 1,
  examples: ['sluice channel read demo', 'sluice channel read --queue-size 10 --policy ring --fill-rate 5 -n 20 demo'],
});

export async function runWrite(args: ParsedArgs<typeof writeSpec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const [name, ...words] = args.positionals as [string, ...string[]];
  if (v.from && words.length) throw new UsageError('give VALUE or --from PV, not both');
  if (!v.from && !words.length) throw new UsageError('no VALUE to write (or --from PV)');
  const count = v.count === undefined ? (v.from ? Infinity : 1) : parseCount(v.count, '--count');
  const intervalMs = v.interval === undefined ? 0 : parseSeconds(v.interval, '--interval', true);
  const wopts = { whenInactive: v.drop ? ('drop' as const) : ('pause' as const), ...(v.key !== undefined ? { key: v.key } : {}) };
  return withChannelClient(v, ctx, name, async (client) => {
    let writer: ChannelWriter | null = null;
    const stop = () => void writer?.end().catch(() => {});
    try {
      if (v.from) {
        const source = makeClient(ctx, parseSeconds(v.timeout ?? '5', '--timeout'));
        const sub = source.monitor(v.from, { queueSize: 16, pipeline: true });
        const abort = () => sub.close();
        ctx.signal.addEventListener('abort', abort, { once: true });
        try {
          let n = 0;
          for await (const u of sub) {
            writer ??= await openTyped(client, name, u.type, wopts);
            if (!writer.write(u.value)) await writer.drained();
            if (++n >= count) break;
          }
        } finally {
          ctx.signal.removeEventListener('abort', abort);
          sub.close();
          source.close();
        }
      } else {
        const typed = (await client.channelInfo(name, v.key)).typed;
        writer = await client.openWriter(name, { ...wopts, ...(typed ? {} : { type: typeOfWords(words) }) });
        const value = buildPut(writer.type, {}, words, (w) => ctx.err(`warning: ${w}`));
        // A type with a time stamp gets the time of each write, as sluice put's server would stamp it.
        const stamp = writer.type.fields.some((f) => f.name === 'timeStamp') && value['timeStamp'] === undefined;
        ctx.signal.addEventListener('abort', stop, { once: true });
        for (let i = 0; i < count && !ctx.signal.aborted; i++) {
          const v = stamp ? { ...value, timeStamp: timeStampNow() } : value;
          if (!writer.write(v)) await writer.drained();
          if (intervalMs) await sleep(intervalMs, ctx.signal);
        }
      }
      if (writer) {
        await writer.end();
        const s = writer.stats;
        ctx.err(`${name}: wrote ${s.acknowledged} value(s)${s.dropped ? `, dropped ${s.dropped} while no reader` : ''}`);
      }
      return 0;
    } finally {
      ctx.signal.removeEventListener('abort', stop);
    }
  });
}

async function openTyped(
  client: ChannelClient,
  name: string,
  type: StructureDesc,
  wopts: { whenInactive: 'pause' | 'drop'; key?: string },
): Promise<ChannelWriter> {
  const typed = (await client.channelInfo(name, wopts.key)).typed;
  return client.openWriter(name, { ...wopts, ...(typed ? {} : { type }) });
}

function timeStampNow(): PVStructure {
  const ms = Date.now();
  return { secondsPastEpoch: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000, userTag: 0 };
}

/** A channel type for values given on the command line (see writeSpec's description). */
export function typeOfWords(words: string[]): StructureDesc {
  const only = words.length === 1 ? (words[0] as string) : null;
  if (only === null || only.includes('=')) {
    if (words.every((w) => w.includes('='))) throw new InvalidArgumentError('FIELD=VALUE pairs need a channel that has a type');
    return ntscalarArray.type('string');
  }
  if (only.startsWith('{')) {
    const t = inferType(jsonToPV(parseJSONText(only, 'VALUE')));
    if (t.kind !== 'structure') throw new InvalidArgumentError('VALUE: a JSON object is needed for a structure');
    return t;
  }
  if (only.startsWith('[')) {
    const items = parseJSONText(only, 'VALUE') as unknown[];
    return ntscalarArray.type(Array.isArray(items) && items.every((x) => typeof x === 'number') ? 'double' : 'string');
  }
  return ntscalar.type(only.trim() !== '' && Number.isFinite(Number(only)) ? 'double' : 'string');
}

function jsonToPV(j: unknown): PVValue {
  if (Array.isArray(j)) return j.every((x) => typeof x === 'number') ? Float64Array.from(j as number[]) : j.map(String);
  if (j !== null && typeof j === 'object') {
    const o: PVStructure = {};
    for (const [k, x] of Object.entries(j)) o[k] = jsonToPV(x);
    return o;
  }
  if (typeof j === 'number' || typeof j === 'boolean' || typeof j === 'string') return j;
  return String(j);
}

export async function runRead(args: ParsedArgs<typeof readSpec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const name = args.positionals[0] as string;
  const policy = v.policy as ReaderPolicy | undefined;
  if (policy !== undefined && !READER_POLICIES.includes(policy))
    throw new UsageError(`--policy must be one of ${READER_POLICIES.join(', ')}`);
  const count = v.count === undefined ? Infinity : parseCount(v.count, '--count');
  const options = {
    ...(v['queue-size'] !== undefined ? { queueSize: parseCount(v['queue-size'], '--queue-size') } : {}),
    ...(policy !== undefined ? { policy } : {}),
    ...(v['fill-rate'] !== undefined ? { fillRate: parseCount(v['fill-rate'], '--fill-rate') } : {}),
    ...(v.key !== undefined ? { key: v.key } : {}),
    ends: v.writer === true,
  };
  return withChannelClient(v, ctx, name, async (client) => {
    const reader = client.subscribe(name, options);
    const abort = () => reader.close();
    ctx.signal.addEventListener('abort', abort, { once: true });
    let seen = 0;
    try {
      for await (const m of reader) {
        if (!v.quiet) {
          const type = reader.type as StructureDesc;
          if (v.json) ctx.out(JSON.stringify({ name, writer: m.writer, overrun: m.overrun, value: toJSONValue(type, m.value) }));
          else
            ctx.out(
              `${name} ${v.writer ? `[${m.writer.id}#${m.writer.seq}${m.writer.end ? ' end' : ''}] ` : ''}${formatValue(type, m.value, false)}`,
            );
        }
        if (++seen >= count) break;
      }
      const s = reader.stats;
      ctx.err(`${name}: received ${s.received}, missing from writer sequences ${s.gaps}, overruns ${s.overruns}`);
      return 0;
    } finally {
      ctx.signal.removeEventListener('abort', abort);
      reader.close();
    }
  });
}
