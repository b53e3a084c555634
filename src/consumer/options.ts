// Turning consumer command-line options into concrete settings, as PvaPy does (reference 1.1,
// 3.1, 4.2, 4.3): id lists, `*` and `_` in channel names, the monitor pvRequest, and the
// automatic object-id offset.
import { SluiceError } from '../errors.js';
import { pvRequest, type PVRequestBuilder } from '../pvdata/pvrequest-builder.js';
import { MAX_ID } from '../runtime/config-check.js';

// Where they are defined now; the CLI and tests take them from here too.
export {
  CONFIG_RANGES,
  checkConfig,
  describeRange,
  MAX_ID,
  MAX_PROCESSES,
  MAX_QUEUE,
  MAX_SECONDS,
  outOfRange,
  type Range,
} from '../runtime/config-check.js';

/** Most ids an id list may hold: each id is a process (consumer) or a monitor (collector). */
export const MAX_IDS = 256;

/**
 * `1,3,5` or `range(first,last+1[,step])`: at most MAX_IDS distinct ids from 0 to 2^32 - 1,
 * counted before any list is made (a huge range is refused, not allocated).
 */
export function parseIdList(text: string): number[] {
  const t = text.trim();
  const m = /^range\(\s*(-?\d+)\s*,\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?\)$/.exec(t);
  let ids: number[];
  if (m) {
    const [a, b, step] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)];
    if (step === 0) throw new SluiceError('ERR_USAGE', `range step must not be 0 in '${text}'`);
    const count = Math.max(0, Math.ceil((b - a) / step));
    if (count === 0) throw new SluiceError('ERR_USAGE', `'${text}' is an empty id list`);
    if (!(count <= MAX_IDS)) throw new SluiceError('ERR_USAGE', `'${text}' has ${count} ids; at most ${MAX_IDS} are allowed`);
    ids = Array.from({ length: count }, (_, i) => a + i * step);
  } else {
    const parts = t.split(',').map((s) => s.trim());
    if (parts.some((s) => !/^-?\d+$/.test(s))) {
      throw new SluiceError('ERR_USAGE', `'${text}' is not an id list (use 1,3,5 or range(1,5))`);
    }
    if (parts.length > MAX_IDS)
      throw new SluiceError('ERR_USAGE', `'${text.slice(0, 40)}...' has ${parts.length} ids; at most ${MAX_IDS} are allowed`);
    ids = parts.map(Number);
  }
  const bad = ids.find((id) => !(Number.isSafeInteger(id) && id >= 0 && id <= MAX_ID));
  if (bad !== undefined) throw new SluiceError('ERR_USAGE', `id ${bad} in '${text}' is not from 0 to ${MAX_ID}`);
  if (new Set(ids).size !== ids.length) throw new SluiceError('ERR_USAGE', `'${text}' has the same id twice`);
  return ids;
}

/**
 * A Python-style format spec for ids (`03d` → 001, `d`, `x`, `>4`): enough of the mini-language
 * for integers: fill/align, sign, zero padding, width, type d/x/X/o/b.
 */
export function formatId(id: number, spec: string | undefined): string {
  if (!spec) return String(id);
  const m = /^(?:(.)?([<>=^]))?([+\- ])?(0)?(\d+)?([dxXob])?$/.exec(spec);
  if (!m) throw new SluiceError('ERR_USAGE', `unsupported id format spec '${spec}'`);
  const [, fillChar, align, sign, zero, widthText, type] = m;
  const base = type === 'x' || type === 'X' ? 16 : type === 'o' ? 8 : type === 'b' ? 2 : 10;
  let digits = Math.abs(id).toString(base);
  if (type === 'X') digits = digits.toUpperCase();
  const signText = id < 0 ? '-' : sign === '+' ? '+' : sign === ' ' ? ' ' : '';
  const width = Number(widthText ?? 0);
  if (zero && !align) return signText + digits.padStart(width - signText.length, '0');
  const body = signText + digits;
  const fill = fillChar ?? ' ';
  if (body.length >= width) return body;
  const pad = width - body.length;
  if (align === '<') return body + fill.repeat(pad);
  if (align === '^') return fill.repeat(Math.floor(pad / 2)) + body + fill.repeat(Math.ceil(pad / 2));
  return fill.repeat(pad) + body;
}

/** `_` → `pvapy:<kind>:<id>:<what>`; `*` → the formatted id. */
export function channelName(
  template: string | undefined,
  kind: 'consumer' | 'collector',
  what: string,
  id: number,
  spec?: string,
): string | undefined {
  if (!template) return undefined;
  const fid = formatId(id, spec);
  if (template === '_') return `pvapy:${kind}:${fid}:${what}`;
  return template.split('*').join(fid);
}

export interface DistributorOptions {
  pluginName: string;
  group?: string | undefined;
  set?: string | undefined;
  trigger?: string | undefined;
  updates?: number | undefined;
}

export function distributorUsed(d: DistributorOptions): boolean {
  return d.group !== undefined || d.set !== undefined || d.trigger !== undefined || d.updates !== undefined;
}

/**
 * The input monitor's pvRequest: `record[queueSize=N]` when a server queue is asked for, then
 * either the distributor (`field(_[pydistributor=group:g;set:s;trigger:t;updates:u])`, with only
 * the parameters given) or the field request (text, with or without `field(…)`) with the id field
 * added first when the request names fields but not that one.
 */
export function inputRequest(serverQueueSize: number, fieldRequest: string, idField: string, d: DistributorOptions): PVRequestBuilder {
  const req = pvRequest();
  if (serverQueueSize > 0) req.record({ queueSize: serverQueueSize });
  if (distributorUsed(d)) return req.plugin(d.pluginName, { group: d.group, set: d.set, trigger: d.trigger, updates: d.updates });
  const user = pvRequest(fieldRequest);
  if (user.selectsFields() && !user.has(idField)) req.field(idField);
  return req.merge(user);
}

/** inputRequest as text: what the consumer's and collector's inputRequest option holds. */
export function monitorRequest(serverQueueSize: number, fieldRequest: string, idField: string, d: DistributorOptions): string {
  return inputRequest(serverQueueSize, fieldRequest, idField, d).toString();
}

/**
 * Expected id step between consecutive objects at one consumer: given, else derived from the
 * distributor (`(sets-1)*updates+1` across sets, `(consumers-1)*updates+1` within one), else 1.
 */
export function objectIdOffset(given: number, nConsumers: number, nSets: number, updates: number | undefined): number {
  if (given > 0) return given;
  if (updates !== undefined && updates > 0) return nSets > 1 ? (nSets - 1) * updates + 1 : (nConsumers - 1) * updates + 1;
  return 1;
}
