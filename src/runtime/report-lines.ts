// The lines of a printed statistics report that every host shares: the report groups
// (--report-stats) and the metadata channels' lines.
import { SluiceError } from '../errors.js';
import type { MetadataStats } from './metadata.js';

export const REPORT_GROUPS = ['receiver', 'publisher', 'queue', 'metadata', 'processor', 'user'] as const;
export type ReportGroup = (typeof REPORT_GROUPS)[number];

export function parseReportGroups(text: string): Set<ReportGroup> {
  const words = text
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  if (words.includes('all')) return new Set(REPORT_GROUPS);
  const bad = words.filter((w) => !(REPORT_GROUPS as readonly string[]).includes(w));
  if (bad.length) throw new SluiceError('ERR_USAGE', `unknown report group(s) ${bad.join(', ')}: use ${REPORT_GROUPS.join(', ')} or all`);
  return new Set(words as ReportGroup[]);
}

/** A number as reports print it: integers whole, others to 6 significant digits. */
export function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e9 ? v.toFixed(3) : Number(v.toPrecision(6)).toString();
}

/** One indented `name: k=v k=v` line. */
export function line(name: string, o: Record<string, number>): string {
  return (
    `  ${name}: ` +
    Object.entries(o)
      .map(([k, v]) => `${k}=${num(v)}`)
      .join(' ')
  );
}

export function metadataLines(all: readonly MetadataStats[]): string[] {
  return all.flatMap((m, i) => [
    `  metadataStats_${i + 1} (${m.channel}):`,
    '  ' + line('receiverStats', m.receiverStats),
    '  ' + line('queueStats', { ...m.queueStats }),
  ]);
}
