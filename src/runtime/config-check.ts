// Numbers the framework accepts, and the check of a `configure` command's framework keys
// (all or nothing), shared by every host: consumers and collectors.
import { InvalidArgumentError } from '../errors.js';

/** The bounds of a number option; `note` says what values at or below `min` mean, if anything. */
export interface Range {
  min: number;
  max: number;
  integer?: boolean;
  /** e.g. '<= 0: until stopped': any value up to `min` is then accepted (and means that). */
  note?: string;
}

/** Longest time setTimeout honours (2^31 - 1 ms); beyond it Node fires at once. */
export const MAX_SECONDS = 2_147_483;
/** Largest queue, cache or count option: bounds memory, far beyond any real use. */
export const MAX_QUEUE = 1_000_000;
/** Most consumer processes (or producers) one command may start. */
export const MAX_PROCESSES = 256;
/** Object and consumer ids are uint in the status PVs. */
export const MAX_ID = 4_294_967_295;

export function describeRange(r: Range): string {
  const what = r.integer ? 'an integer' : 'a number';
  if (r.note) return `${what} up to ${r.max} (${r.note})`;
  return `${what} from ${r.min} to ${r.max}`;
}

/** Check a number against a range: the reason it is out, or null. */
export function outOfRange(n: unknown, r: Range): string | null {
  if (typeof n !== 'number' || !Number.isFinite(n)) return `must be ${describeRange(r)}`;
  if ((r.integer && !Number.isInteger(n)) || n > r.max || (!r.note && n < r.min)) return `must be ${describeRange(r)}`;
  return null;
}

/** The framework's own keys of a `configure` control command, and their ranges. */
export const CONFIG_RANGES: Record<string, Range> = {
  skipInitialUpdates: { min: 0, max: 2_147_483_647, integer: true },
  objectIdOffset: { min: 1, max: 2_147_483_647, integer: true },
  nSequentialUpdates: { min: 1, max: MAX_QUEUE, integer: true },
  receiverQueueSize: { min: 0, max: MAX_QUEUE, integer: true },
  collectorCacheSize: { min: 1, max: MAX_QUEUE, integer: true },
};

/**
 * Check the framework keys of a `configure` before any is applied (all or nothing); `keys` are
 * the ones this host knows. Throws naming the key and its range.
 */
export function checkConfig(cfg: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) {
    if (!(k in cfg)) continue;
    const bad = outOfRange(cfg[k], CONFIG_RANGES[k] as Range);
    if (bad) throw new InvalidArgumentError(`${k} ${bad}, not ${JSON.stringify(cfg[k])}`);
  }
}
