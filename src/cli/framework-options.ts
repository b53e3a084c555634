// Option handling shared by `sluice consumer` and `sluice collector`: numbers, JSON dictionaries
// and --metadata-channels.
import type { CaClient } from '../ca/client.js';
import type { PvaClient } from '../pva/client/client.js';
import { MetadataChannels, parseMetadataChannels, type MetadataChannelSpec } from '../runtime/metadata.js';
import { outOfRange, MAX_ID, MAX_PROCESSES, MAX_QUEUE, MAX_SECONDS, type Range } from '../consumer/options.js';
import { UsageError } from './args.js';

/** A string option of a framework command: short name, help text, value name and default. */
export const stringOption = (short: string, description: string, value = 'X', def?: string) =>
  ({ type: 'string', short, value, description, ...(def !== undefined ? { default: def } : {}) }) as const;

export function metadataOption(text: string | undefined): MetadataChannelSpec[] {
  if (!text) return [];
  try {
    return parseMetadataChannels(text);
  } catch (err) {
    throw new UsageError(`--metadata-channels: ${(err as Error).message}`);
  }
}

/** Builds the channels with the consumer's (or collector's) own client, or nothing. */
export function metadataFactory(
  specs: MetadataChannelSpec[],
  serverQueueSize: number,
  receiverQueueSize: number,
): ((client: PvaClient, caClient: () => CaClient) => MetadataChannels) | undefined {
  if (specs.length === 0) return undefined;
  return (client, caClient) => new MetadataChannels(specs, { client, caClient, serverQueueSize, receiverQueueSize });
}

/** A number option's value, or a usage error naming the option. */
export function numberOption(text: string | undefined, name: string): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n))
    throw new UsageError(`--${name} expects a number, not '${text ?? ''}'`);
  return n;
}

export { describeRange, MAX_ID, MAX_PROCESSES, MAX_QUEUE, MAX_SECONDS, outOfRange, type Range } from '../consumer/options.js';

/** A number option within its range, or one usage error naming the option and the range. */
export function rangedOption(text: string | undefined, name: string, r: Range): number {
  const n = text === undefined || text.trim() === '' ? NaN : Number(text);
  const bad = outOfRange(n, r);
  if (bad) throw new UsageError(`--${name} ${bad}, not '${text ?? ''}'`);
  return r.note && n < r.min ? r.min : n;
}

/** A channel name option: absent is fine (undefined), empty or blank is a usage error. */
export function channelOption(text: string | undefined, name: string): string | undefined {
  if (text !== undefined && text.trim() === '') throw new UsageError(`--${name} must not be empty`);
  return text;
}

/** A JSON dictionary option (absent: {}), or a usage error naming the option. */
export function jsonOption(text: string | undefined, name: string): Record<string, unknown> {
  if (!text) return {};
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${name} is not a JSON dictionary: ${(err as Error).message}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new UsageError(`--${name} is not a JSON dictionary: not a JSON object`);
  return o as Record<string, unknown>;
}

/**
 * The ranges of the number options that `sluice consumer` and `sluice collector` share (by long
 * name); a command's own options add to these.
 */
export const FRAMEWORK_RANGES: Record<string, Range> = {
  'consumer-id': { min: 0, max: MAX_ID, integer: true },
  'collector-id': { min: 0, max: MAX_ID, integer: true },
  'n-consumers': { min: 1, max: MAX_PROCESSES, integer: true },
  'server-queue-size': { min: 0, max: MAX_QUEUE, integer: true },
  'receiver-queue-size': { min: -1, max: MAX_QUEUE, integer: true, note: '< 0: none, 0: unbounded' },
  'accumulate-objects': { min: 0, max: MAX_QUEUE, integer: true, note: '<= 0: no' },
  'accumulation-timeout': { min: 0, max: MAX_SECONDS },
  'collector-cache-size': { min: -1, max: MAX_QUEUE, integer: true, note: '< 0: 10 x the producers' },
  'cache-timeout': { min: 0, max: MAX_SECONDS },
  'oid-offset': { min: 0, max: 2_147_483_647, integer: true, note: '<= 0: derived' },
  'skip-initial-updates': { min: 0, max: 2_147_483_647, integer: true },
  'distributor-updates': { min: 1, max: MAX_QUEUE, integer: true },
  'n-distributor-sets': { min: 1, max: MAX_PROCESSES, integer: true },
  runtime: { min: 0, max: MAX_SECONDS, note: '<= 0: until stopped' },
  'report-period': { min: 0, max: MAX_SECONDS, note: '<= 0: none' },
  'processing-timeout': { min: 0, max: MAX_SECONDS, note: '<= 0: none' },
};

/** A framework number option, checked against FRAMEWORK_RANGES. */
export function frameworkNumber(text: string | undefined, name: string): number {
  const r = FRAMEWORK_RANGES[name];
  return r ? rangedOption(text, name, r) : numberOption(text, name);
}
