// Option handling shared by `sluice consumer` and `sluice collector`: numbers, JSON dictionaries
// and --metadata-channels.
import type { CaClient } from '../ca/client.js';
import type { Client } from '../pva/client/client.js';
import { MetadataChannels, parseMetadataChannels, type MetadataChannelSpec } from '../consumer/metadata.js';
import { UsageError } from './args.js';

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
): ((client: Client, caClient: () => CaClient) => MetadataChannels) | undefined {
  if (specs.length === 0) return undefined;
  return (client, caClient) => new MetadataChannels(specs, { client, caClient, serverQueueSize, receiverQueueSize });
}

/** A number option's value, or a usage error naming the option. */
export function numberOption(text: string | undefined, name: string): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, not '${text ?? ''}'`);
  return n;
}

/** A JSON dictionary option (absent: {}), or a usage error naming the option. */
export function jsonOption(text: string | undefined, name: string): Record<string, unknown> {
  if (!text) return {};
  try {
    const o: unknown = JSON.parse(text);
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('not a JSON object');
    return o as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--${name} is not a JSON dictionary: ${(err as Error).message}`);
  }
}
