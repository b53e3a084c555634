// sluice consumer: PvaPy's pvapy-hpc-consumer. Receives a stream (monitor, hosted PV or RPC),
// runs a processor on every object, publishes its output, serves control and status PVs.
import { DataConsumer } from '../../consumer/consumer.js';
import type { InputMode, OutputMode } from '../../runtime/io.js';
import { channelName, distributorUsed, inputRequest, objectIdOffset, parseIdList } from '../../consumer/options.js';
import {
  channelOption,
  frameworkNumber,
  MAX_ID,
  jsonOption,
  metadataFactory,
  metadataOption,
  stringOption as s,
} from '../framework-options.js';
import { childChannel, runConsumer, runConsumerProcesses } from '../../consumer/run.js';
import { loadProcessor } from '../../processing/loader.js';
import { makeLogger, type LogLevel } from '../../runtime/logger.js';
import { parseReportGroups } from '../../runtime/report-lines.js';
import { accessOptions, accessSettings, loadAccess, reloadAccessOnHangup } from '../access-options.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import type { CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'consumer',
  summary: 'Process a stream with a user processor (PvaPy pvapy-hpc-consumer), with control, status and output PVs.',
  usage: ['--input-channel NAME [options]'],
  description:
    'Every option of pvapy-hpc-consumer except EJFAT. In channel names, * is replaced by the consumer id ' +
    '(formatted with --id-format-spec) and _ means pvapy:consumer:ID:output|status|control. Several consumers ' +
    '(--n-consumers, --consumer-id-list) run as separate processes; the combined statistics are printed at the end. ' +
    'Control PV commands (pvput NAME \'{"command":"..."}\'): configure (args: JSON), reset_stats, get_stats, stop. ' +
    'Numbers out of range (queues up to 1000000, seconds up to 2147483) are refused with exit status 2.',
  options: {
    version: { type: 'boolean', short: 'v', description: "Print Sluice's version and exit (PvaPy's -v)." },
    'consumer-id': s('id', 'Consumer id (the first one, with several consumers).', 'ID', '1'),
    'n-consumers': s('nc', 'Number of consumers (1 to 256), each a separate process with consecutive ids.', 'N', '1'),
    'consumer-id-list': s(
      'cid',
      'Explicit ids (at most 256, each 0 to 2^32-1): 1,3,5 or range(first,last+1[,step]); overrides --consumer-id/--n-consumers.',
      'LIST',
    ),
    'input-channel': s('ic', 'Input channel (required); * is replaced by the consumer id.', 'NAME'),
    'input-mode': s(
      'im',
      'pva (monitor a remote channel), ca (monitor a Channel Access channel), pvas (host the input PV: others put into it), rpc (host an RPC service).',
      'MODE',
      'pva',
    ),
    'input-args': s(
      'ia',
      "JSON dictionary for the input receiver (only PvaPy's EJFAT one reads it); the processor gets it as config.inputArgs (the JSON text), as in PvaPy.",
      'JSON',
    ),
    'output-channel': s('oc', 'Output channel (_ for the default name); none: nothing is published.', 'NAME'),
    'output-mode': s('om', 'pvas (a PV hosted here), pva (put into a remote PV), rpc (call a remote RPC service).', 'MODE', 'pvas'),
    'output-args': s(
      'oa',
      "JSON dictionary for the output publisher (only PvaPy's EJFAT one reads it); the processor gets it as config.outputArgs (the JSON text), as in PvaPy.",
      'JSON',
    ),
    'status-channel': s('sc', 'Status PV (_ for the default name).', 'NAME'),
    'control-channel': s('cc', 'Control PV (_ for the default name).', 'NAME'),
    'id-format-spec': s('ifs', 'Python-style format for ids in channel names, e.g. 03d.', 'SPEC'),
    'server-queue-size': s(
      'sqs',
      'Server-side monitor queue, record[queueSize=N] (with pipeline flow control); 0 (none) to 1000000.',
      'N',
      '0',
    ),
    'receiver-queue-size': s(
      'rqs',
      'Client queue: <0 none (process as received), 0 unbounded, >0 bounded (overflow counted as rejected).',
      'N',
      '-1',
    ),
    'accumulate-objects': s('ao', 'With a receiver queue, wait for this many objects before processing (<=0: no).', 'N', '-1'),
    'processing-timeout': s(
      'pt',
      'Seconds one process() may take (an asynchronous one: a synchronous endless loop cannot be stopped from inside); past it the consumer counts an error, prints its final report and exits with status 1. 0 (default): no limit.',
      'SEC',
      '0',
    ),
    'accumulation-timeout': s('at', 'Seconds after the last object after which queued objects are processed anyway.', 'SEC', '1'),
    'processor-file': s('pf', 'File (.ts, .js, .mjs) with the processor class; .ts needs no build step.', 'FILE'),
    'processor-class': s(
      'pc',
      'Class name in that file, or MODULE:Class, or a built-in processor by name or PvaPy class path (pvapy.hpc.adImageProcessor.AdImageProcessor); default: the passthrough processor.',
      'CLASS',
    ),
    'processor-args': s('pa', 'JSON dictionary merged into the processor config.', 'JSON'),
    'oid-field': s('of', 'Field holding the object id.', 'FIELD', 'uniqueId'),
    'oid-offset': s('oo', 'Expected id step between consecutive objects; <=0: derived from the distributor options.', 'N', '0'),
    'field-request': s('fr', 'Fields to request (the id field is added); ignored with the distributor.', 'FIELDS', ''),
    'skip-initial-updates': s('siu', 'Initial updates not processed (the first is the current value, not a new frame).', 'N', '1'),
    'distributor-plugin-name': s('dpn', 'Server-side distributor plugin name (pvDatabase calls it distributor).', 'NAME', 'pydistributor'),
    'distributor-group': s('dg', 'Distributor group (groups are independent).', 'G'),
    'distributor-set': s('ds', 'Distributor client set: all members get the same updates.', 'S'),
    'distributor-trigger': s('dt', 'Field whose change marks a new update (e.g. uniqueId; plugin default timeStamp).', 'FIELD'),
    'distributor-updates': s('du', 'Consecutive updates per client (or set) before the next one is served.', 'N'),
    'n-distributor-sets': s('nds', 'Number of client sets across separately started commands (for the id offset).', 'N', '1'),
    'metadata-channels': s(
      'mc',
      'Metadata channels pva://NAME,ca://NAME (a bare name is CA), each monitored into a queue the processor reads as metadataQueueMap.get(NAME).',
      'LIST',
    ),
    runtime: s('rt', 'Seconds to run; <=0 until stopped.', 'SEC', '0'),
    'report-period': s('rp', 'Seconds between statistics reports (and status PV refresh); <=0 none.', 'SEC', '0'),
    'report-stats': s('rs', 'Report groups: receiver, publisher, queue, processor, user, all.', 'LIST', 'all'),
    'log-level': s('ll', 'debug, info, warning, error or critical; no logging if absent.', 'LEVEL'),
    'log-file': s('lf', 'Log to this file instead of stderr.', 'FILE'),
    'disable-curses': { type: 'boolean', short: 'dc', description: 'Print reports as plain lines even on a terminal.' },
    ...accessOptions,
  },
  maxPositionals: 0,
  examples: [
    'sluice consumer --input-channel pvapy:image --control-channel consumer:*:control --status-channel consumer:*:status \\\n' +
      '  --output-channel consumer:*:output --processor-file examples/rotate-processor.ts --processor-class HpcAdImageProcessor \\\n' +
      '  --report-period 10 --log-level debug',
    'sluice consumer --input-channel pvapy:image --n-consumers 2 --distributor-updates 1 --server-queue-size 100',
  ],
});

type Values = ParsedArgs<typeof spec.options>['values'];

const int = (v: Values, name: keyof Values & string): number => frameworkNumber(v[name] as string | undefined, name);
const json = (v: Values, name: keyof Values & string): Record<string, unknown> => jsonOption(v[name] as string | undefined, name);

function idList(text: string): number[] {
  try {
    return parseIdList(text);
  } catch (err) {
    throw new UsageError(`--consumer-id-list: ${(err as Error).message}`);
  }
}

function consecutiveIds(first: number, n: number): number[] {
  if (first + n - 1 > MAX_ID) throw new UsageError(`--consumer-id ${first} with --n-consumers ${n} goes beyond the largest id ${MAX_ID}`);
  return Array.from({ length: n }, (_, i) => first + i);
}

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const input = channelOption(v['input-channel'], 'input-channel');
  if (input === undefined) throw new UsageError('--input-channel is required');
  for (const c of ['output-channel', 'status-channel', 'control-channel'] as const) channelOption(v[c], c);
  const inputMode = (v['input-mode'] as string).toLowerCase();
  const outputMode = (v['output-mode'] as string).toLowerCase();
  if (!['pva', 'ca', 'pvas', 'rpc'].includes(inputMode))
    throw new UsageError(`--input-mode must be pva, ca, pvas or rpc, not '${inputMode}'`);
  if (!['pva', 'pvas', 'rpc'].includes(outputMode)) throw new UsageError(`--output-mode must be pvas, pva or rpc, not '${outputMode}'`);
  const metadataSpecs = metadataOption(v['metadata-channels']);
  const nSets = int(v, 'n-distributor-sets');
  const dist = {
    pluginName: v['distributor-plugin-name'] as string,
    group: v['distributor-group'],
    set: v['distributor-set'],
    trigger: v['distributor-trigger'],
    updates: v['distributor-updates'] !== undefined ? int(v, 'distributor-updates') : undefined,
  };
  if (nSets > 1 && dist.set === undefined) throw new UsageError('--n-distributor-sets > 1 needs --distributor-set');
  const ids =
    v['consumer-id-list'] !== undefined ? idList(v['consumer-id-list']) : consecutiveIds(int(v, 'consumer-id'), int(v, 'n-consumers'));
  const reportGroups = parseReportGroups(v['report-stats'] as string);
  const logLevel = v['log-level'] as LogLevel | undefined;
  const run = {
    runtimeS: int(v, 'runtime'),
    reportPeriodS: int(v, 'report-period'),
    reportGroups,
    out: process.stdout,
    signal: ctx.signal,
    live: !v['disable-curses'] && !logLevel && process.stdout.isTTY === true,
  };
  const childId = process.env['SLUICE_CONSUMER_ID'];
  const offset = childId
    ? Number(process.env['SLUICE_CONSUMER_OID_OFFSET'])
    : objectIdOffset(int(v, 'oid-offset'), ids.length, nSets, dist.updates);
  const access = await loadAccess(v, ctx); // bad files are refused before any child starts
  if (!childId && ids.length > 1) {
    await runConsumerProcesses(ids, offset, process.argv.slice(2), { ...run, forwardHangup: accessSettings(v, ctx.env) !== null });
    return 0;
  }
  const id = childId ? Number(childId) : (ids[0] as number);
  const spec2 = v['id-format-spec'];
  const name = (tpl: string | undefined, what: string): string | undefined => channelName(tpl, 'consumer', what, id, spec2);
  const idField = v['oid-field'] as string;
  const serverQueueSize = int(v, 'server-queue-size');
  const nSequentialUpdates = dist.updates !== undefined && dist.updates > 0 ? dist.updates : 1;
  const system = {
    processorId: id,
    inputChannel: name(input, 'input') as string,
    inputMode,
    outputChannel: name(v['output-channel'], 'output'),
    outputMode,
    objectIdField: idField,
    objectIdOffset: offset,
    skipInitialUpdates: int(v, 'skip-initial-updates'),
    nSequentialUpdates,
    fieldRequest: v['field-request'] as string,
    // PvaPy hands both to the processor as given (None when absent); our receivers take no arguments.
    inputArgs: v['input-args'] ?? null,
    outputArgs: v['output-args'] ?? null,
  };
  const processor = await loadProcessor({
    file: v['processor-file'],
    className: v['processor-class'],
    args: json(v, 'processor-args'),
    system,
  });
  json(v, 'input-args');
  json(v, 'output-args');
  const consumer = new DataConsumer({
    consumerId: id,
    inputChannel: system.inputChannel,
    inputMode: inputMode as InputMode,
    outputChannel: system.outputChannel,
    outputMode: outputMode as OutputMode,
    statusChannel: name(v['status-channel'], 'status'),
    controlChannel: name(v['control-channel'], 'control'),
    inputRequest: inputRequest(serverQueueSize, distributorUsed(dist) ? '' : system.fieldRequest, idField, dist).build(),
    serverQueueSize,
    receiverQueueSize: int(v, 'receiver-queue-size'),
    accumulateObjects: int(v, 'accumulate-objects'),
    accumulationTimeoutS: int(v, 'accumulation-timeout'),
    objectIdField: idField,
    objectIdOffset: offset,
    nSequentialUpdates,
    skipInitialUpdates: system.skipInitialUpdates,
    processingTimeoutS: int(v, 'processing-timeout'),
    processor,
    logger: makeLogger(`consumer-${id}`, logLevel, v['log-file']),
    metadata: metadataFactory(metadataSpecs, serverQueueSize, int(v, 'receiver-queue-size')),
    access,
  });
  reloadAccessOnHangup(v, ctx, (p) => (consumer.server.access = p));
  const child = childChannel();
  const final = await runConsumer(consumer, child ? { ...run, signal: child.stop, live: false } : run, child?.onStats);
  child?.final(final);
  return consumer.failure ? 1 : 0;
}
