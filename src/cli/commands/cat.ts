// sluice cat: the first stage of a pipeline. PVs' monitors, or recorded stream files, become one
// stream on stdout (docs/stream-format.md), with back-pressure: while stdout is full, the PVs'
// pipelined monitors stop taking updates and their servers hold them.
import { existsSync } from 'node:fs';
import { inputChunks } from '../../pipeline/fd-io.js';
import { StreamOutput } from '../../pipeline/stdio.js';
import type { StreamMarks } from '../../pipeline/stream-format.js';
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import type { StructureDesc } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { describeFailure, parseCount, parseSeconds, requestOption, stdio, type CliContext } from '../common.js';
import { FILE_CHUNK_BYTES, outputSink, stageInput, streamThrough, Verdict, type StageInput } from '../stage.js';
import type { ToolSubscription } from '../tool-client.js';
import { providerOf, providerOption } from '../tool-options.js';

export const spec = defineCommand({
  name: 'cat',
  summary: 'Write PVs\u2019 updates, or recorded stream files, to stdout as one Sluice stream (a pipeline\u2019s first stage).',
  usage: ['[options] PV|FILE|-...'],
  description:
    'A SOURCE that names an existing file (or - for stdin) is read as a Sluice stream (docs/stream-format.md) ' +
    'and its values copied; any other SOURCE is a PV, monitored with pipeline flow control, whose updates are ' +
    'written with their changed and overrun marks. Files are read one after the other, PVs at the same time. ' +
    'A note record naming the source goes before a value whenever the source changes. The stream ends (end record, ' +
    'exit 0) when every source has ended or given its --count values, or on Ctrl-C. While stdout is full nothing ' +
    'more is read: a slow next stage holds back the PVs\u2019 servers rather than losing updates in between. ' +
    'Logs and errors go to stderr only; a closed stdout (`| head`) ends the command quietly.',
  options: {
    count: { type: 'string', short: 'n', value: 'N', description: 'Stop each source after N values.' },
    request: requestOption,
    'queue-size': {
      type: 'string',
      value: 'N',
      description: 'Monitor queue of client and server (record[queueSize=N]); default 100.',
      default: '100',
    },
    'connect-timeout': {
      type: 'string',
      value: 'SEC',
      description: 'Give up (exit 1) when a PV has not connected after SEC seconds; 0 waits forever.',
      default: '0',
    },
    provider: providerOption,
  },
  minPositionals: 1,
  examples: [
    'sluice cat -n 100 sim:image > frames.sls',
    'sluice cat frames.sls | sluice to-json',
    'sluice cat sim:image | sluice head -n 10 | sluice publish copy:image',
  ],
});

type Args = ParsedArgs<typeof spec.options>;
type Emit = (source: string, type: StructureDesc, value: PVStructure, marks: StreamMarks) => Promise<boolean>;

export async function run(args: Args, ctx: CliContext): Promise<number> {
  const count = args.values.count === undefined ? Infinity : parseCount(args.values.count, '--count');
  const queueSize = parseCount(args.values['queue-size'], '--queue-size');
  const connectMs = parseSeconds(args.values['connect-timeout'], '--connect-timeout', true);
  const request = parsePVRequest(args.values.request ?? '');
  const files = args.positionals.filter((s) => s === '-' || existsSync(s));
  const pvs = args.positionals.filter((s) => !files.includes(s));
  // Blocking writes only when no PV monitor needs the event loop meanwhile.
  const out = new StreamOutput(pvs.length === 0 ? outputSink(ctx) : stdio(ctx, 'stdout'));
  let lastSource = '';
  /** A note naming the source of the values that follow, when it changes. */
  const from = (source: string): void => {
    if (source === lastSource) return;
    lastSource = source;
    out.note({ source });
  };
  /** Write one value, naming its source first if it changed; waits while stdout is full. */
  const emit: Emit = async (source, type, value, marks) => {
    from(source);
    if (!out.write(type, value, marks)) await out.drained();
    return !out.closed;
  };

  let ok = true;
  const fileJob = (async () => {
    for (const file of files) {
      // Blocking reads (into reused memory) only when no PV monitor needs the event loop meanwhile.
      const input: StageInput =
        pvs.length === 0
          ? stageInput(ctx, file)
          : { chunks: file === '-' ? stdio(ctx, 'stdin') : inputChunks(file, FILE_CHUNK_BYTES), close() {} };
      let n = 0;
      // Recorded values stream through as read; the note naming the file goes before the first.
      const decide = (): Verdict => {
        from(file);
        return ++n < count ? Verdict.PASS : Verdict.LAST;
      };
      try {
        await streamThrough(ctx, file, out, decide, input);
        if (out.closed) return;
        if (ctx.signal.aborted) break;
      } catch (err) {
        ok = false;
        ctx.err(`sluice cat: ${(err as Error).message}`);
        return;
      } finally {
        if ('destroy' in input.chunks && typeof input.chunks.destroy === 'function') input.chunks.destroy();
      }
    }
  })();

  // Loaded only for PVs: a cat of files starts without the network stack.
  const client = pvs.length
    ? (await import('../tool-client.js')).makeToolClient(ctx, providerOf(args.values.provider), connectMs || 5000)
    : null;
  const subs = pvs.map((name) => ({
    name,
    sub: (client as NonNullable<typeof client>).monitor(name, { request, queueSize, pipeline: true }),
  }));
  const closeAll = (): void => subs.forEach((s) => s.sub.close());
  ctx.signal.addEventListener('abort', closeAll, { once: true });
  try {
    const results = await Promise.all(subs.map((s) => follow(s.name, s.sub, count, connectMs, emit, ctx)));
    if (results.includes(false)) ok = false;
    await fileJob;
    await out.end();
  } finally {
    ctx.signal.removeEventListener('abort', closeAll);
    closeAll();
    client?.close();
  }
  return ok ? 0 : 1;
}

async function follow(
  name: string,
  sub: ToolSubscription,
  count: number,
  connectMs: number,
  emit: Emit,
  ctx: CliContext,
): Promise<boolean> {
  let failed = false;
  const timer = connectMs
    ? setTimeout(() => {
        failed = true;
        ctx.err(describeFailure(`not connected after ${connectMs / 1000} s`, name));
        sub.close();
      }, connectMs)
    : null;
  sub.on('connect', () => timer && clearTimeout(timer));
  let n = 0;
  try {
    for await (const u of sub) {
      const more = await emit(name, u.type, u.value, { changed: u.changed, overrun: u.overrun });
      if (!more || ++n >= count) break;
    }
  } catch (err) {
    failed = true;
    ctx.err(describeFailure(err, name));
  } finally {
    if (timer) clearTimeout(timer);
  }
  return !failed;
}
