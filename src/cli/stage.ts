// What the pipeline stages that read a stream and write one share (head, filter, partition):
// inputs from stdin or files, one output stream on stdout with its back-pressure, the notes passed
// on, and a wrong stream reported as one line on stderr with exit status 1.
import { closeSync, openSync } from 'node:fs';
import { FdReader, FdWritable, READS_PER_TURN, turn } from '../pipeline/fd-io.js';
import { readBatches, StreamOutput } from '../pipeline/stdio.js';
import { StreamDecoder, Verdict, type StreamItem, type StreamThrough, type ValueItem } from '../pipeline/stream-decoder.js';
import { stdio, type CliContext } from './common.js';

export { Verdict };
export type { ValueItem };

/** Files are read in chunks this large: fewer reads, and more records written per write. */
export const FILE_CHUNK_BYTES = 1 << 20;

/**
 * The bytes of a stage's input: a file, or stdin ('-'), read with blocking reads where stdin is
 * the process's own (fd-io.ts), else through the context's stream; and, for the former, the way
 * to tell it which of the bytes read are no longer referenced (their memory is then reused).
 */
export interface StageInput {
  chunks: AsyncIterable<Uint8Array | string>;
  /** Where the input is a descriptor read with blocking calls: FdReader.readNow(). */
  readNow?: () => Uint8Array | null | undefined;
  /** Only the last `retained` bytes read are still referenced: the memory before may be read into. */
  recycle?: (retained: number) => void;
  close(): void;
}

export function stageInput(ctx: CliContext, file: string): StageInput {
  if (file === '-' && ctx.stdinFd === undefined) return { chunks: stdio(ctx, 'stdin') as AsyncIterable<Uint8Array>, close() {} };
  const fd = file === '-' ? (ctx.stdinFd as number) : openSync(file, 'r');
  const reader = new FdReader(fd, file === '-' ? () => stdio(ctx, 'stdin') as AsyncIterable<Uint8Array> : undefined);
  return {
    chunks: reader.chunks(),
    readNow: () => reader.readNow(),
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
 * wants to `out` and returns false to end the stream there. Resolves with the exit status.
 */
export async function runStage(
  name: string,
  ctx: CliContext,
  files: string[],
  onValue: (item: ValueItem, out: StreamOutput) => boolean,
): Promise<number> {
  const out = new StreamOutput(outputSink(ctx));
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
        for await (const batch of readBatches(input.chunks, { source, batchDone })) {
          let more = true;
          for (const item of batch) {
            if (item.kind === 'note') out.note(item.note);
            if (item.kind !== 'value') continue;
            if (!onValue(item, out)) {
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

/**
 * A stage that keeps or drops values by their position alone (head, filter --every, partition):
 * `decide` is asked once per value, in order, across the inputs (stdin when there are none).
 * Resolves with the exit status.
 */
export async function runPassStage(name: string, ctx: CliContext, files: string[], decide: () => Verdict): Promise<number> {
  const out = new StreamOutput(outputSink(ctx));
  try {
    for (const file of files.length ? files : ['-']) if (!(await streamThrough(ctx, file, out, decide))) break;
    await out.end();
    return 0;
  } catch (err) {
    ctx.err(`sluice ${name}: ${(err as Error).message}`);
    return 1;
  }
}

/**
 * Stream one input's values into `out` as `decide` says, notes passed on. Where the input's byte
 * order is the output's, value records are not decoded: each one's bytes go out as they are
 * read (a read's kept bytes in one write, as cat writes what it read); otherwise values are
 * decoded and re-encoded. Resolves false when the stream stopped early: a verdict (LAST, STOP),
 * the reader gone, or Ctrl-C. A wrong or truncated input throws (a DecodeError).
 */
export async function streamThrough(
  ctx: CliContext,
  file: string,
  out: StreamOutput,
  decide: () => Verdict,
  input: StageInput = stageInput(ctx, file),
): Promise<boolean> {
  let stopped = false;
  const through: StreamThrough = {
    littleEndian: out.littleEndian,
    decide(type, typeRecord) {
      const verdict = decide();
      if (verdict === Verdict.PASS || verdict === Verdict.LAST) out.begin(type, typeRecord);
      return verdict;
    },
    write: (bytes) => out.bytes(bytes),
  };
  const onItem = (item: StreamItem): void => {
    if (stopped) return;
    if (item.kind === 'note') out.note(item.note);
    if (item.kind !== 'value') return; // a value in the other byte order: decoded
    const verdict = decide();
    if (verdict === Verdict.PASS || verdict === Verdict.LAST) {
      out.write(item.type, item.value, { changed: item.changed, overrun: item.overrun });
    }
    if (verdict === Verdict.LAST || verdict === Verdict.STOP) stopped = true;
  };
  const decoder = new StreamDecoder(onItem, { source: file === '-' ? 'stdin' : file, through });
  /** Take a chunk; false: wait for out.drained() before the next. */
  const take = (chunk: Uint8Array | string): boolean => {
    decoder.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    return out.flush();
  };
  /** After a chunk is written: true or false when the stream is done (see above), undefined to go on. */
  const outcome = (): boolean | undefined => {
    // Everything handed on is written: what was read may be read into again.
    if (out.buffered === 0) input.recycle?.(decoder.retainedBytes);
    if (stopped || decoder.stopped || out.closed || ctx.signal.aborted) return false;
    if (decoder.ended) return true;
    return undefined;
  };
  try {
    // Blocking reads while the descriptor blocks, without a promise per chunk; else chunks.
    for (let reads = 1; input.readNow; reads++) {
      const chunk = input.readNow();
      if (chunk === undefined) break;
      if (chunk === null) return (decoder.finish(), true);
      if (!take(chunk)) await out.drained();
      const done = outcome();
      if (done !== undefined) return done;
      if (reads % READS_PER_TURN === 0) await turn();
    }
    for await (const chunk of input.chunks) {
      if (!take(chunk)) await out.drained();
      const done = outcome();
      if (done !== undefined) return done;
    }
    decoder.finish();
    return true;
  } finally {
    input.close();
  }
}
