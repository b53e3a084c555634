// The collector's status PV type and printed report (PvaPy reference 3.4): collector statistics,
// processor and user statistics, one producerStats_<id> per producer and one metadataStats_<n>
// per metadata channel.
import { timeT } from '../pvdata/nt/index.js';
import { t, type FieldDesc, type ScalarType, type StructureDesc } from '../pvdata/types.js';
import { group, metadataFields, monitorStatsT, processorStatsT, publisherStatsT, queueStatsT } from '../runtime/channels.js';
import type { MetadataStats } from '../runtime/metadata.js';
import type { ProcessorStats } from '../runtime/processing-controller.js';
import type { QueueStats } from '../runtime/receiver-queue.js';
import { metadataLines, type ReportGroup } from '../runtime/report-lines.js';

export interface CollectorCounters {
  nCollected: number;
  collectedRate: number;
  nRejected: number;
  rejectedRate: number;
  nMissed: number;
  missedRate: number;
  nCached: number;
  /** Runs of the producers' stream seen (one more each time their ids start again). */
  nRuns: number;
}

export interface ProducerStats {
  producerId: number;
  channel: string;
  receiverStats: Record<string, number>;
  queueStats: QueueStats;
}

export interface CollectorStats {
  collectorId: number;
  collectorStats: CollectorCounters;
  publisherStats: Record<string, number>;
  processorStats: ProcessorStats;
  userStats: Record<string, number>;
  producerStats: ProducerStats[];
  metadataStats: MetadataStats[];
}

const COUNTER: ScalarType = 'uint';
const RATE: ScalarType = 'double';

export const collectorStatsT = group({
  nCollected: COUNTER,
  collectedRate: RATE,
  nRejected: COUNTER,
  rejectedRate: RATE,
  nMissed: COUNTER,
  missedRate: RATE,
  nCached: COUNTER,
  nRuns: COUNTER,
});

export const producerStatsT = t.struct({
  producerId: t.uint,
  channel: t.string,
  receiverStats: monitorStatsT,
  queueStats: queueStatsT,
});

export function collectorStatusType(
  userTypes: Record<string, ScalarType>,
  producerIds: readonly number[],
  nMetadata: number,
): StructureDesc {
  const fields: [string, FieldDesc][] = [
    ['collectorId', t.uint],
    ['objectId', t.uint],
    ['objectTime', t.double],
    ['objectTimestamp', timeT],
    ['collectorStats', collectorStatsT],
    ['publisherStats', publisherStatsT],
    ['processorStats', processorStatsT],
  ];
  if (Object.keys(userTypes).length > 0) fields.push(['userStats', group(userTypes)]);
  for (const id of producerIds) fields.push([`producerStats_${id}`, producerStatsT]);
  fields.push(...metadataFields(nMetadata));
  return t.struct(fields);
}

function num(v: number): string {
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e9 ? v.toFixed(3) : Number(v.toPrecision(6)).toString();
}

function line(name: string, o: object): string {
  return (
    `  ${name}: ` +
    Object.entries(o)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : String(v)}`)
      .join(' ')
  );
}

/** The printed report: collector and producer statistics always, the rest by --report-stats. */
export function formatCollectorStats(title: string, s: CollectorStats, groups: Set<ReportGroup>): string {
  const out = [title, line('collectorStats', s.collectorStats)];
  for (const p of s.producerStats) {
    out.push(`  producerStats_${p.producerId} (${p.channel}):`);
    if (groups.has('receiver')) out.push('  ' + line('receiverStats', p.receiverStats));
    if (groups.has('queue')) out.push('  ' + line('queueStats', p.queueStats));
  }
  if (groups.has('publisher')) out.push(line('publisherStats', s.publisherStats));
  if (groups.has('metadata')) out.push(...metadataLines(s.metadataStats));
  if (groups.has('processor')) out.push(line('processorStats', s.processorStats));
  if (groups.has('user') && Object.keys(s.userStats).length) out.push(line('userStats', s.userStats));
  return out.join('\n');
}
