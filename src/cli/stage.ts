// What the pipeline stages that read a stream and write one share (head, filter, partition):
// inputs from stdin or files, one output stream on stdout with its back-pressure, the notes passed
// on, and a wrong stream reported as one line on stderr with exit status 1.
import { createReadStream } from 'node:fs';
import { readBatches, StreamOutput } from '../pipeline/stdio.js';
import type { RecordItem, ValueItem } from '../pipeline/stream-decoder.js';
import { stdio, type CliContext } from './common.js';

export type { RecordItem, ValueItem };

/** Files are read in chunks this large: fewer reads, and more records written per write. */
export const FILE_CHUNK_BYTES = 1 << 20;

/**
 * Run `onValue` for every value of the inputs (stdin when there are none); it writes what it
 * wants to `out` and returns false to end the stream there. With `decode: false` a stage that
 * does not look at values gets them as records to pass on (`out.pass`), undecoded. Resolves with
 * the exit status.
 */
export async function runStage<Decode extends boolean = true>(
  name: string,
  ctx: CliContext,
  files: string[],
  onValue: (item: Decode extends false ? ValueItem | RecordItem : ValueItem, out: StreamOutput) => boolean,
  options: { decode?: Decode } = {},
): Promise<number> {
  const out = new StreamOutput(stdio(ctx, 'stdout'));
  const undecoded = options.decode === false ? { littleEndian: out.littleEndian } : undefined;
  const handle = onValue as (item: ValueItem | RecordItem, out: StreamOutput) => boolean;
  try {
    for (const file of files.length ? files : ['-']) {
      const input = file === '-' ? stdio(ctx, 'stdin') : createReadStream(file, { highWaterMark: FILE_CHUNK_BYTES });
      const source = file === '-' ? 'stdin' : file;
      for await (const batch of readBatches(input, { source, undecoded })) {
        let more = true;
        for (const item of batch) {
          if (item.kind === 'note') out.note(item.note);
          if (item.kind !== 'value' && item.kind !== 'record') continue;
          if (!handle(item, out)) {
            more = false;
            break;
          }
        }
        await out.drained();
        if (!more || out.closed || ctx.signal.aborted) {
          await out.end();
          return 0;
        }
      }
    }
    await out.end();
    return 0;
  } catch (err) {
    ctx.err(`sluice ${name}: ${(err as Error).message}`);
    return 1;
  }
}
