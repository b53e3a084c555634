// What the pipeline stages that read a stream and write one share (head, filter): inputs from
// stdin or files, one output stream on stdout with its back-pressure, the notes passed on, and
// a wrong stream reported as one line on stderr with exit status 1.
import { createReadStream } from 'node:fs';
import { readStream, StreamOutput } from '../pipeline/stdio.js';
import type { StreamItem } from '../pipeline/stream-decoder.js';
import { stdio, type CliContext } from './common.js';

export type ValueItem = Extract<StreamItem, { kind: 'value' }>;

/**
 * Run `onValue` for every value of the inputs (stdin when there are none); it writes what it
 * wants to `out` and returns false to end the stream there. Resolves with the exit status.
 */
export async function runStage(
  name: string,
  ctx: CliContext,
  files: string[],
  onValue: (item: ValueItem, out: StreamOutput) => boolean,
): Promise<number> {
  const out = new StreamOutput(stdio(ctx, 'stdout'));
  try {
    for (const file of files.length ? files : ['-']) {
      const input = file === '-' ? stdio(ctx, 'stdin') : createReadStream(file);
      for await (const item of readStream(input, { source: file === '-' ? 'stdin' : file })) {
        if (item.kind === 'note') out.note(item.note);
        if (item.kind !== 'value') continue;
        const more = onValue(item, out);
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
