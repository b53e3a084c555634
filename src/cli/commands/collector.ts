// sluice collector: PvaPy's pvapy-hpc-collector. Monitors several producer channels, sorts their
// objects by id, runs a processor on them in order, publishes its output, serves control and
// status PVs.
import { DataCollector } from '../../collector/collector.js';
import { formatCollectorStats } from '../../collector/status.js';
import { channelName, formatId, inputRequest, parseIdList } from '../../consumer/options.js';
import { loadProcessor } from '../../processing/loader.js';
import { makeLogger, type LogLevel } from '../../runtime/logger.js';
import { parseReportGroups } from '../../runtime/report-lines.js';
import { runHost } from '../../runtime/run-host.js';
import { accessOptions, loadAccess, reloadAccessOnHangup } from '../access-options.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import type { CliContext } from '../common.js';
import { channelOption, frameworkNumber, jsonOption, metadataFactory, metadataOption, stringOption as s } from '../framework-options.js';

export const spec = defineCommand({
  name: 'collector',
  summary: 'Gather the streams of several producers, sorted by object id, into a processor (PvaPy pvapy-hpc-collector).',
  usage: ['--input-channel TEMPLATE --producer-id-list LIST [options]'],
  description:
    'Every option of pvapy-hpc-collector. Each producer id replaces * in the input channel (formatted with ' +
    '--id-format-spec); producers are pvAccess monitors. Objects are cached by id (several producers may deliver ' +
    'the same id, e.g. tiles of one frame) and processed in id order: an id goes as soon as every id before it ' +
    'has arrived or can no longer arrive (every producer is past it), after --cache-timeout seconds of waiting ' +
    'for a gap, or when the cache is full. Ids older than the last processed one are rejected, unless the cache ' +
    'is empty and their producer went back: a restarted stream. In channel names _ means ' +
    'pvapy:collector:ID:output|status|control. Control PV commands as for the consumer.',
  options: {
    version: { type: 'boolean', short: 'v', description: "Print Sluice's version and exit (PvaPy's -v)." },
    'collector-id': s('id', 'Collector id, used in channel names.', 'ID', '1'),
    'producer-id-list': s('pid', 'Producer ids: 1,2,3 or range(first,last+1[,step]).', 'LIST', '1,2'),
    'input-channel': s('ic', 'Producer channel template (required); * is replaced by each producer id.', 'TEMPLATE'),
    'output-channel': s('oc', 'Output PV hosted here (_ for the default name; * is the collector id).', 'NAME'),
    'status-channel': s('sc', 'Status PV (_ for the default name).', 'NAME'),
    'control-channel': s('cc', 'Control PV (_ for the default name).', 'NAME'),
    'id-format-spec': s('ifs', 'Python-style format for producer and collector ids in channel names, e.g. 03d.', 'SPEC'),
    'server-queue-size': s('sqs', 'Server-side queue of every producer (and metadata) monitor, with pipeline flow control.', 'N', '0'),
    'receiver-queue-size': s(
      'rqs',
      'Per-producer client queue: <0 none (straight into the cache), 0 unbounded, >0 bounded (at least 10 cache sizes).',
      'N',
      '-1',
    ),
    'collector-cache-size': s(
      'ccs',
      'Objects held for sorting; <0: 10 x the number of producers (never fewer than the producers).',
      'N',
      '-1',
    ),
    'cache-timeout': s('ct', 'Seconds an object waits for a missing predecessor before it is processed anyway.', 'SEC', '1'),
    'processing-timeout': s(
      'pt',
      'Seconds one process() may take (an asynchronous one); past it the collector counts an error, prints its final report and exits with status 1. 0 (default): no limit.',
      'SEC',
      '0',
    ),
    'processor-file': s('pf', 'File (.ts, .js, .mjs) with the processor class; .ts needs no build step.', 'FILE'),
    'processor-class': s(
      'pc',
      'Class name in that file, or MODULE:Class, or a built-in processor by name or PvaPy class path; default: passthrough.',
      'CLASS',
    ),
    'processor-args': s('pa', 'JSON dictionary merged into the processor config.', 'JSON'),
    'oid-field': s('of', 'Field holding the object id (the sort key).', 'FIELD', 'uniqueId'),
    'oid-offset': s('oo', 'Expected id step in the merged stream (for missed ids).', 'N', '1'),
    'field-request': s('fr', 'Fields to request from the producers (the id field is added).', 'FIELDS', ''),
    'skip-initial-updates': s(
      'siu',
      'Initial updates of each producer not collected (the first is its current value, not a new object).',
      'N',
      '1',
    ),
    'metadata-channels': s(
      'mc',
      'Metadata channels pva://NAME,ca://NAME (a bare name is CA), read by the processor as metadataQueueMap.get(NAME).',
      'LIST',
    ),
    runtime: s('rt', 'Seconds to run; <=0 until stopped.', 'SEC', '0'),
    'report-period': s('rp', 'Seconds between statistics reports (and status PV refresh); <=0 none.', 'SEC', '0'),
    'report-stats': s(
      'rs',
      'Report groups besides collector and producer stats: receiver, publisher, queue, metadata, processor, user, all.',
      'LIST',
      'all',
    ),
    'log-level': s('ll', 'debug, info, warning, error or critical; no logging if absent.', 'LEVEL'),
    'log-file': s('lf', 'Log to this file instead of stderr.', 'FILE'),
    'disable-curses': { type: 'boolean', short: 'dc', description: 'Print reports as plain lines even on a terminal.' },
    ...accessOptions,
  },
  maxPositionals: 0,
  examples: [
    'sluice collector --collector-id 1 --producer-id-list 1,2 --input-channel consumer:*:output \\\n' +
      '  --output-channel collector:*:output --control-channel collector:*:control --status-channel collector:*:status \\\n' +
      '  --server-queue-size 100 --report-period 5',
  ],
});

type Values = ParsedArgs<typeof spec.options>['values'];

const num = (v: Values, name: keyof Values & string): number => frameworkNumber(v[name] as string | undefined, name);

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const template = channelOption(v['input-channel'], 'input-channel');
  if (template === undefined) throw new UsageError('--input-channel is required');
  for (const c of ['output-channel', 'status-channel', 'control-channel'] as const) channelOption(v[c], c);
  let producerIds: number[];
  try {
    producerIds = parseIdList(v['producer-id-list'] as string);
  } catch (err) {
    throw new UsageError(`--producer-id-list: ${(err as Error).message}`);
  }
  const id = num(v, 'collector-id');
  const fmt = v['id-format-spec'];
  const producers = producerIds.map((pid) => ({ id: pid, channel: template.split('*').join(formatId(pid, fmt)) }));
  const name = (tpl: string | undefined, what: string): string | undefined => channelName(tpl, 'collector', what, id, fmt);
  const ccs = num(v, 'collector-cache-size');
  const cacheSize = Math.max(producers.length, ccs < 0 ? 10 * producers.length : ccs);
  const cacheTimeoutS = num(v, 'cache-timeout');
  const idField = v['oid-field'] as string;
  const offset = Math.max(1, num(v, 'oid-offset'));
  const serverQueueSize = num(v, 'server-queue-size');
  const receiverQueueSize = num(v, 'receiver-queue-size');
  const reportGroups = parseReportGroups(v['report-stats'] as string);
  const logLevel = v['log-level'] as LogLevel | undefined;
  const metadataSpecs = metadataOption(v['metadata-channels']);
  const system = {
    processorId: id,
    inputChannel: producers.map((p) => p.channel).join(','),
    outputChannel: name(v['output-channel'], 'output'),
    objectIdField: idField,
    objectIdOffset: offset,
    skipInitialUpdates: num(v, 'skip-initial-updates'),
    fieldRequest: v['field-request'] as string,
  };
  const processor = await loadProcessor({
    file: v['processor-file'],
    className: v['processor-class'],
    args: jsonOption(v['processor-args'], 'processor-args'),
    system,
  });
  const collector = new DataCollector({
    collectorId: id,
    producers,
    inputRequest: inputRequest(serverQueueSize, system.fieldRequest, idField, { pluginName: 'pydistributor' }).build(),
    serverQueueSize,
    receiverQueueSize,
    cacheSize,
    cacheTimeoutS,
    outputChannel: system.outputChannel,
    statusChannel: name(v['status-channel'], 'status'),
    controlChannel: name(v['control-channel'], 'control'),
    objectIdField: idField,
    objectIdOffset: offset,
    skipInitialUpdates: system.skipInitialUpdates,
    processingTimeoutS: num(v, 'processing-timeout'),
    processor,
    logger: makeLogger(`collector-${id}`, logLevel, v['log-file']),
    metadata: metadataFactory(metadataSpecs, serverQueueSize, receiverQueueSize),
    access: await loadAccess(v, ctx),
  });
  reloadAccessOnHangup(v, ctx, (p) => (collector.server.access = p));
  const runOptions = {
    runtimeS: num(v, 'runtime'),
    reportPeriodS: num(v, 'report-period'),
    out: process.stdout,
    signal: ctx.signal,
    live: !v['disable-curses'] && !logLevel && process.stdout.isTTY === true,
  };
  await runHost(collector, runOptions, `collector ${id}`, (title, s) => formatCollectorStats(title, s, reportGroups));
  return collector.failure ? 1 : 0;
}
