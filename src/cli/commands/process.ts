// sluice process: a user processor (what `sluice consumer` runs) as a pipeline stage, stdin to
// stdout. Several copies behind `sluice partition` share a CPU-bound processing step.
import { ProcessStage } from '../../pipeline/process-stage.js';
import { readBatches, StreamOutput } from '../../pipeline/stdio.js';
import { loadProcessor } from '../../processing/loader.js';
import { PvaServer } from '../../pva/server/server.js';
import { makeLogger, type LogLevel } from '../../runtime/logger.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { stdio, type CliContext } from '../common.js';
import { jsonOption, stringOption as s } from '../framework-options.js';

const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'critical'];

export const spec = defineCommand({
  name: 'process',
  summary: 'Run a processor (as sluice consumer does) on each value of a Sluice stream, stdin to stdout.',
  usage: ['[options]'],
  description:
    'The processor is loaded as by sluice consumer (a file and class, MODULE:Class, or a built-in by name) and ' +
    'started with a context: its output type comes from getOutputType() with the first value (or openOutputChannel() ' +
    'later), and what it publishes (ctx.publish, updateOutputChannel) is written to stdout with its marks. Values ' +
    'are processed one at a time, in order; a processor that throws is counted and logged, and the stage goes on. ' +
    'At the end of the input the processor is stopped and "processed N values, E errors, published P" goes to stderr.',
  options: {
    'processor-file': s('pf', 'File (.ts, .js, .mjs) with the processor class.', 'FILE'),
    'processor-class': s('pc', 'Class name in that file, MODULE:Class, or a built-in processor; default: passthrough.', 'CLASS'),
    'processor-args': s('pa', 'JSON dictionary merged into the processor config.', 'JSON'),
    'oid-field': s('of', 'Field holding the object id.', 'FIELD', 'uniqueId'),
    'log-level': s('ll', 'debug, info, warning, error or critical (default warning), on stderr.', 'LEVEL', 'warning'),
    quiet: { type: 'boolean', short: 'q', description: 'No summary line at the end.' },
  },
  maxPositionals: 0,
  examples: ['sluice cat frames.sls | sluice process -pc DataEncryptor -pa \'{"privateKeyFilePath":"key.pem","sign":true}\' > signed.sls'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const level = v['log-level'] as string;
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level ${level}: use one of ${LOG_LEVELS.join(', ')}`);
  const objectIdField = v['oid-field'] as string;
  const processor = await loadProcessor({
    file: v['processor-file'],
    className: v['processor-class'],
    args: jsonOption(v['processor-args'], 'processor-args'),
    system: { processorId: 1, inputChannel: 'stdin', outputChannel: 'stdout', objectIdField },
  });
  const out = new StreamOutput(stdio(ctx, 'stdout'));
  const server = new PvaServer({ env: ctx.env, udpPort: false });
  const stage = new ProcessStage({
    processor,
    logger: makeLogger('process', level as LogLevel, undefined),
    server,
    objectIdField,
    write: (type, value, marks) => void out.write(type, value, marks),
  });
  await stage.start();
  try {
    // The results of one read's values are written together (see StreamOutput.cork).
    for await (const batch of readBatches(stdio(ctx, 'stdin'), { source: 'stdin' })) {
      out.cork();
      for (const item of batch) {
        if (item.kind === 'note') out.note(item.note);
        if (item.kind === 'value') await stage.process(item);
        if (out.closed || ctx.signal.aborted) break;
      }
      out.uncork();
      await out.drained();
      if (out.closed || ctx.signal.aborted) break;
    }
    await stage.stop();
    await out.end();
  } catch (err) {
    ctx.err(`sluice process: ${(err as Error).message}`);
    return 1;
  } finally {
    await server.close();
  }
  const st = stage.stats;
  if (!v.quiet) ctx.err(`sluice process: processed ${st.nProcessed} values, ${st.nErrors} errors, published ${st.nPublished}`);
  return 0;
}
