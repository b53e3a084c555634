// The channel map of `sluice mirror` (PvaPy's pvapy-mirror-server --channel-map): a comma-separated
// list of tuples `(mirrorChannel,sourceChannel[,provider][,sourceQueueSize[,nSourceMonitors,
// sourceRequestDescriptor]])`. Tuples are found by their parentheses, respecting nesting, and
// their elements are split at the commas outside any () or [], so a request descriptor such as
// `field(value,uniqueId)` or `_[pydistributor=updates:1;group:mirror;trigger:uniqueId]` stays one
// element. The validation messages are PvaPy's.
import { InvalidArgumentError } from '../errors.js';
import type { UpstreamProtocol } from '../runtime/upstream.js';

export type MirrorProvider = UpstreamProtocol;

export interface ChannelMapEntry {
  mirrorName: string;
  sourceName: string;
  provider: MirrorProvider;
  /** Source server queue size; 0 = no queue option (and no pipeline). */
  queueSize: number;
  /** Monitors of the source (at least 1). */
  nMonitors: number;
  /** Source request descriptor ('' = the whole structure). */
  request: string;
}

const PROVIDERS: readonly MirrorProvider[] = ['pva', 'ca'];

/** A provider name, case-insensitive (`PVA`, `Ca`), or undefined when it is neither. */
export function providerOf(text: string): MirrorProvider | undefined {
  const p = text.trim().toLowerCase();
  return (PROVIDERS as readonly string[]).includes(p) ? (p as MirrorProvider) : undefined;
}

/**
 * Parse a channel map. Throws InvalidArgumentError with PvaPy's messages: "Channel map is not
 * specified", "Invalid channel map entry: …" (fewer than 2 or more than 6 elements),
 * "Invalid source provider type specified for entry: …", "Invalid source queue size specified
 * for entry: …" (not an integer ≥ 0), "Invalid number of source monitors specified for entry: …"
 * (not an integer ≥ 1); and for what PvaPy does not check: unbalanced parentheses, text
 * between tuples, empty names and a mirror channel given twice.
 */
export function parseChannelMap(text: string | undefined): ChannelMapEntry[] {
  if (text === undefined || text.trim() === '') throw new InvalidArgumentError('Channel map is not specified');
  const entries = splitTuples(text).map(parseEntry);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.mirrorName)) throw new InvalidArgumentError(`Mirror channel ${e.mirrorName} is specified more than once`);
    seen.add(e.mirrorName);
  }
  return entries;
}

/** The contents of each top-level `( … )`; a map without parentheses is one tuple (`a,b`). */
export function splitTuples(text: string): string[] {
  const s = text.trim();
  if (!s.startsWith('(')) {
    // PvaPy also takes a single tuple without its parentheses.
    if (!balanced(s)) throw new InvalidArgumentError(`Invalid channel map: unbalanced parentheses in '${text}'`);
    return [s];
  }
  const tuples: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ',' || /\s/.test(c)) {
      i++;
      continue;
    }
    if (c !== '(') throw new InvalidArgumentError(`Invalid channel map: unexpected '${s.slice(i)}' between tuples in '${text}'`);
    const end = closing(s, i);
    if (end < 0) throw new InvalidArgumentError(`Invalid channel map: unbalanced parentheses in '${text}'`);
    tuples.push(s.slice(i + 1, end));
    i = end + 1;
  }
  return tuples;
}

/** Index of the `)` closing the `(` at `open` (nesting of () and [] respected), or -1. */
function closing(s: string, open: number): number {
  const stack: string[] = [];
  for (let i = open; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '(' || c === '[') stack.push(c === '(' ? ')' : ']');
    else if (c === ')' || c === ']') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return c === ')' ? i : -1;
    }
  }
  return -1;
}

/** Are () and [] properly nested? */
function balanced(s: string): boolean {
  const stack: string[] = [];
  for (const c of s) {
    if (c === '(' || c === '[') stack.push(c === '(' ? ')' : ']');
    else if ((c === ')' || c === ']') && stack.pop() !== c) return false;
  }
  return stack.length === 0;
}

/** Split at the commas outside () and []. */
export function splitElements(tuple: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of tuple) {
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

/** Bounds of the numbers of an entry: the source queue is memory, each monitor a subscription. */
const MAX_QUEUE_SIZE = 1_000_000;
const MAX_MONITORS = 256;

function parseEntry(tuple: string): ChannelMapEntry {
  const e = tuple.trim();
  const me = splitElements(e);
  if (me.length > 6 || me.length < 2 || !me[0] || !me[1]) throw new InvalidArgumentError(`Invalid channel map entry: ${e}`);
  const provider = providerOf(me[2] ?? 'pva');
  if (!provider) throw new InvalidArgumentError(`Invalid source provider type specified for entry: ${e}`);
  const queueSize = integer(me[3] ?? '0');
  if (queueSize === undefined || queueSize < 0 || queueSize > MAX_QUEUE_SIZE) {
    throw new InvalidArgumentError(`Invalid source queue size specified for entry: ${e} (allowed: 0 to ${MAX_QUEUE_SIZE})`);
  }
  const nMonitors = integer(me[4] ?? '1');
  if (nMonitors === undefined || nMonitors < 1 || nMonitors > MAX_MONITORS) {
    throw new InvalidArgumentError(`Invalid number of source monitors specified for entry: ${e} (allowed: 1 to ${MAX_MONITORS})`);
  }
  return { mirrorName: me[0], sourceName: me[1], provider, queueSize, nMonitors, request: me[5] ?? '' };
}

function integer(text: string): number | undefined {
  const s = text.trim();
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * A source request descriptor as a pvRequest, as PvaPy reads it: the descriptor goes inside
 * `field(…)`; one that already is a complete pvRequest (`field(…)`, `record[…]…`) is taken as it is.
 */
export function sourceRequest(descriptor: string): string {
  const d = descriptor.trim();
  if (d === '') return '';
  if (/^(record\s*\[|field\s*\(|putField\s*\(|getField\s*\()/.test(d)) return d;
  return `field(${d})`;
}
