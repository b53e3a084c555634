// What the pipeline stages that read a stream and write one share (head, filter, partition):
// inputs from stdin or files, one output stream on stdout with its back-pressure, the notes passed
// on, and a wrong stream reported as one line on stderr with exit status 1.
import { closeSync, openSync } from 'node:fs';
import { FdReader, FdWritable } from '../pipeline/fd-io.js';
import { readBatches, StreamOutput } from '../pipeline/stdio.js';
import type { RecordItem, ValueItem } from '../pipeline/stream-decoder.js';
import { stdio, type CliContext } from './common.js';

export type { RecordItem, ValueItem };

/** Files are read in chunks this large: fewer reads, and more records written per write. */
export const FILE_CHUNK_BYTES = 1 << 20;

/**
 * The bytes of a stage's input: a file, or stdin ('-'), read with blocking reads where stdin is
 * the process's own (fd-io.ts), else through the context's stream; and, for the former, the way
 * to tell it which of the bytes read are no longer referenced (their memory is then reused).
 */
export function stageInput(
  ctx: CliContext,
  file: string,
): { chunks: AsyncIterable<Uint8Array | string>; recycle?: (retained: number) => void; close(): void } {
  if (file === '-' && ctx.stdinFd === undefined) return { chunks: stdio(ctx, 'stdin') as AsyncIterable<Uint8Array>, close() {} };
  const fd = file === '-' ? (ctx.stdinFd as number) : openSync(file, 'r');
  const reader = new FdReader(fd, file === '-' ? () => stdio(ctx, 'stdin') as AsyncIterable<Uint8Array> : undefined);
  return {
    chunks: reader.chunks(),
    recycle: (retained) => reader.recycle(retained),
    close: () => file !== '-' && closeSync(fd),
  };
}

/** A stage's stdout: descriptor 1 written with blocking writes where it is the process's own. */
export function outputSink(ctx: CliContext): NodeJS.WritableStream {
  if (ctx.stdoutFd !== undefined) return new FdWritable(ctx.stdoutFd, () => stdio(ctx, 'stdout'));
  return stdio(ctx, 'stdout');
}

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
  const out = new StreamOutput(outputSink(ctx));
  const undecoded = options.decode === false ? { littleEndian: out.littleEndian } : undefined;
  const handle = onValue as (item: ValueItem | RecordItem, out: StreamOutput) => boolean;
  try {
    for (const file of files.length ? files : ['-']) {
      const source = file === '-' ? 'stdin' : file;
      const input = stageInput(ctx, file);
      // What a batch's items refer to is written (or copied) once out.buffered is 0 after the
      // batch: their memory may then be read into again.
      const batchDone = (retained: number): void => {
        if (out.buffered === 0) input.recycle?.(retained);
      };
      try {
        for await (const batch of readBatches(input.chunks, { source, undecoded, batchDone })) {
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
      } finally {
        input.close();
      }
    }
    await out.end();
    return 0;
  } catch (err) {
    ctx.err(`sluice ${name}: ${(err as Error).message}`);
    return 1;
  }
}
