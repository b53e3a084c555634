// A consumer's printed statistics (groups chosen with --report-stats), and the combined
// statistics of several consumers at exit. The lines every host shares are in runtime/report-lines.ts.
import type { ConsumerStats } from './consumer.js';
import type { MetadataStats } from '../runtime/metadata.js';
import type { ProcessorStats } from '../runtime/processing-controller.js';

import { line, metadataLines, type ReportGroup } from '../runtime/report-lines.js';

export function formatStats(title: string, s: ConsumerStats, groups: Set<ReportGroup>): string {
  const out = [`${title} (input ${s.inputChannel})`];
  if (groups.has('receiver')) out.push(line('receiverStats', s.receiverStats));
  if (groups.has('publisher')) out.push(line('publisherStats', s.publisherStats));
  if (groups.has('queue')) out.push(line('queueStats', { ...s.queueStats }));
  if (groups.has('metadata')) out.push(...metadataLines(s.metadataStats));
  if (groups.has('processor')) out.push(line('processorStats', { ...s.processorStats }));
  if (groups.has('user') && Object.keys(s.userStats).length) out.push(line('userStats', s.userStats));
  return out.join('\n');
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

function sumGroup(all: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of all) for (const [k, v] of Object.entries(o)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Combined statistics of several consumers (PvaPy "Combined System Stats"): counters and rates
 * summed; start and first ids/times the minimum, end and last the maximum; times recomputed.
 */
export function combineStats(all: ConsumerStats[]): ConsumerStats {
  const ps = all.map((s) => s.processorStats);
  const active = ps.filter((p) => p.nProcessed + p.nErrors > 0);
  const min = (f: (p: ProcessorStats) => number, from = active): number => (from.length ? Math.min(...from.map(f)) : 0);
  const max = (f: (p: ProcessorStats) => number, from = active): number => (from.length ? Math.max(...from.map(f)) : 0);
  const firstObjectTime = min((p) => p.firstObjectTime);
  const lastObjectTime = max((p) => p.lastObjectTime);
  const startTime = min((p) => p.startTime, ps);
  const endTime = max((p) => p.endTime, ps);
  const processorStats: ProcessorStats = {
    runtime: endTime - startTime,
    startTime,
    endTime,
    receivingTime: lastObjectTime - firstObjectTime,
    firstObjectTime,
    lastObjectTime,
    firstObjectId: min((p) => p.firstObjectId),
    lastObjectId: max((p) => p.lastObjectId),
    nProcessed: sum(ps.map((p) => p.nProcessed)),
    processedRate: sum(ps.map((p) => p.processedRate)),
    nErrors: sum(ps.map((p) => p.nErrors)),
    errorRate: sum(ps.map((p) => p.errorRate)),
    nMissed: sum(ps.map((p) => p.nMissed)),
    missedRate: sum(ps.map((p) => p.missedRate)),
    nSkipped: sum(ps.map((p) => p.nSkipped)),
    nRuns: max((p) => p.nRuns, ps), // every consumer sees the same runs
  };
  return {
    consumerId: 0,
    inputChannel: [...new Set(all.map((s) => s.inputChannel))].join(','),
    receiverStats: sumGroup(all.map((s) => s.receiverStats)),
    publisherStats: sumGroup(all.map((s) => s.publisherStats)),
    queueStats: sumGroup(all.map((s) => ({ ...s.queueStats }))) as unknown as ConsumerStats['queueStats'],
    processorStats,
    userStats: sumGroup(all.map((s) => s.userStats)),
    metadataStats: combineMetadata(all.map((s) => s.metadataStats)),
  };
}

/** Per metadata channel (by position: every consumer has the same list), counters summed. */
function combineMetadata(all: MetadataStats[][]): MetadataStats[] {
  const first = all[0] ?? [];
  return first.map((m, i) => ({
    channel: m.channel,
    receiverStats: sumGroup(all.map((s) => s[i]?.receiverStats ?? {})),
    queueStats: sumGroup(all.map((s) => ({ ...(s[i]?.queueStats ?? {}) }))) as unknown as MetadataStats['queueStats'],
  }));
}
