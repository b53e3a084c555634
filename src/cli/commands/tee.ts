// sluice tee: one stream copied to stdout and to files or named pipes, as ktools pipelines fan a
// stream out to several processes. An output that falls behind does not hold the others back:
// past --max-buffer it misses values (counted, said on stderr at the end), unless --block.
import { createWriteStream } from 'node:fs';
import { readStream, StreamOutput } from '../../pipeline/stdio.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { parseCount, stdio, type CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'tee',
  summary: 'Copy a Sluice stream from stdin to stdout and to each FILE or named pipe.',
  usage: ['[options] FILE|FIFO...'],
  description:
    'Every output gets the whole stream (notes, values, the end record) unless it falls behind: an output whose ' +
    'unwritten bytes exceed --max-buffer MiB misses values until it has caught up, each miss counted and reported ' +
    'on stderr at the end (the values it gets are whole, so its reader sees fewer values, not broken ones). With ' +
    '--block every value goes to every output and the fastest waits for the slowest, as Unix tee does. A named ' +
    'pipe is opened for writing when its reader opens it.',
  options: {
    block: { type: 'boolean', description: 'Lose nothing: wait for the slowest output.' },
    'max-buffer': {
      type: 'string',
      value: 'MIB',
      description: 'Unwritten MiB an output may hold before it misses values (default 64).',
      default: '64',
    },
  },
  minPositionals: 1,
  examples: ['sluice cat sim:image | sluice tee fifo/a fifo/b | sluice to-json > ids.jsonl'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const maxBytes = parseCount(args.values['max-buffer'], '--max-buffer') * 1024 * 1024;
  const block = args.values.block === true;
  // process.stdout writes to a pipe synchronously (on Linux): a slow reader there would stall
  // every output. The same descriptor as a file stream is written from the thread pool instead.
  const stdout = stdio(ctx, 'stdout') === process.stdout ? createWriteStream('', { fd: 1, autoClose: false }) : stdio(ctx, 'stdout');
  const outputs = [
    { name: 'stdout', out: new StreamOutput(stdout), missed: 0 },
    ...args.positionals.map((path) => ({ name: path, out: new StreamOutput(createWriteStream(path)), missed: 0 })),
  ];
  try {
    // Values are copied to the outputs as read, undecoded.
    const undecoded = { littleEndian: (outputs[0] as (typeof outputs)[0]).out.littleEndian };
    for await (const item of readStream(stdio(ctx, 'stdin'), { source: 'stdin', undecoded })) {
      if (item.kind === 'note') for (const o of outputs) o.out.note(item.note);
      if (item.kind !== 'value' && item.kind !== 'record') continue;
      for (const o of outputs) {
        if (o.out.closed) continue;
        if (!block && o.out.buffered > maxBytes) o.missed++;
        else o.out.pass(item);
      }
      const open = outputs.filter((o) => !o.out.closed);
      if (open.length === 0) break;
      if (block) await Promise.all(open.map((o) => o.out.drained()));
      // All behind: wait for the first to catch up (losing values only while another keeps up).
      else if (open.every((o) => o.out.buffered > maxBytes)) await Promise.race(open.map((o) => o.out.drained()));
    }
    await Promise.all(outputs.map((o) => o.out.end()));
  } catch (err) {
    ctx.err(`sluice tee: ${(err as Error).message}`);
    return 1;
  }
  for (const o of outputs)
    if (o.missed) ctx.err(`sluice tee: ${o.name} missed ${o.missed} values (it fell behind by more than ${maxBytes / 1048576} MiB)`);
  return 0;
}
