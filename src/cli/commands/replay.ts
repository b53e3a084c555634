// sluice replay: the start of a pipeline from what was saved: an HDF5 file or directory of
// `sluice save`, a stream file, or the frames of an HDF5 (areaDetector), .npy or TIFF file,
// paced at a steady rate.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pacer } from '../../pipeline/pacer.js';
import { replayItems } from '../../pipeline/replay-source.js';
import { StreamOutput } from '../../pipeline/stdio.js';
import { UsageError, defineCommand, type ParsedArgs } from '../args.js';
import { parseCount, stdio, type CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'replay',
  summary: 'Play back a saved stream (HDF5 file or directory of sluice save, stream file, frame file) on stdout, paced.',
  usage: ['[options] FILE|DIR|-'],
  description:
    'FILE is told by its first bytes: a Sluice stream, an HDF5 file written by sluice save (its values come back ' +
    'with their types, marks and notes: replaying a save gives the stream that was saved), any other HDF5 file ' +
    '(the frames of its first 3-d numeric dataset, as sluice sim reads them, with the ids of a uniqueIds or ' +
    'NDArrayUniqueId dataset beside it), an .npy or a TIFF file (frames as NTNDArray values numbered from 1). DIR ' +
    'is a directory of stream segments from sluice save, played in name order; - is stdin. Value k goes out at ' +
    'start + k/FPS, so the rate does not drift; a reader that holds the stream back for longer than one period ' +
    'restarts the schedule rather than getting a burst. A file that cannot be read stops the command with one ' +
    'line on stderr and exit status 1.',
  options: {
    'frame-rate': {
      type: 'string',
      short: 'fps',
      value: 'FPS',
      description: 'Values per second; 0 (the default) as fast as the reader takes them.',
      default: '0',
    },
    count: { type: 'string', short: 'n', value: 'N', description: 'Stop after N values (with --loop, over all passes).' },
    loop: { type: 'boolean', description: 'Start again from the beginning at the end, until -n values or Ctrl-C.' },
  },
  minPositionals: 1,
  maxPositionals: 1,
  examples: ['sluice replay -fps 10 frames.h5 | sluice publish replay:image', 'sluice replay --loop -n 1000 frames/ | sluice to-json'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const path = args.positionals[0] as string;
  const fps = Number(args.values['frame-rate']);
  if (!Number.isFinite(fps) || fps < 0) throw new UsageError(`-fps expects a non-negative number, not '${args.values['frame-rate']}'`);
  const count = args.values.count === undefined ? Infinity : parseCount(args.values.count, '--count', true);
  if (args.values.loop && path === '-') throw new UsageError('--loop needs a FILE or DIR, not stdin');
  // Made at the first item: a file that cannot be read leaves stdout empty, not a truncated stream.
  let stream: StreamOutput | null = null;
  const output = (): StreamOutput => (stream ??= new StreamOutput(stdio(ctx, 'stdout')));
  const pacer = new Pacer(fps);
  let n = 0;
  try {
    for (let pass = 0; n < count && !ctx.signal.aborted; pass++) {
      let values = 0;
      for await (const item of replayItems(path, ctx.stdin)) {
        const out = output();
        if (item.kind === 'note') {
          if (pass === 0) out.note(item.note);
          continue;
        }
        if (n >= count || out.closed || ctx.signal.aborted) break;
        const wait = pacer.delay();
        if (wait > 0) await sleep(wait, undefined, { signal: ctx.signal }).catch(() => {});
        if (ctx.signal.aborted) break;
        if (!out.write(item.type, item.value, item.changed ? { changed: item.changed, overrun: item.overrun } : undefined))
          await out.drained();
        n++;
        values++;
      }
      if (!args.values.loop || values === 0 || output().closed) break;
    }
    await output().end();
    return 0;
  } catch (err) {
    ctx.err(`sluice replay: ${(err as Error).message}`);
    return 1;
  }
}
