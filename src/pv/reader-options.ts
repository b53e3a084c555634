// A reader's server-side buffer from its pvRequest options (`record[queueSize=10,policy=ring,
// fillRate=5]`), checked: a reader that asks for something we cannot do is told so at once,
// not served with another buffer than it asked for.
import { SluiceError } from '../errors.js';
import { optionInt } from '../pvdata/pvrequest.js';
import { READER_POLICIES, type ReaderPolicy } from './source.js';

export interface ReaderBuffer {
  /** Entries the queue holds; undefined: the server's default. */
  queueSize: number | undefined;
  /** undefined: squash into the newest entry when full (pvAccess's behaviour). */
  policy: ReaderPolicy | undefined;
  /** Keep every n-th post (1: all). */
  fillRate: number;
}

const INTEGER = /^\s*\+?\d+\s*$/;

function positiveInt(options: Readonly<Record<string, string>>, key: string): number | undefined {
  const text = options[key];
  if (text === undefined) return undefined;
  const n = INTEGER.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new SluiceError('ERR_PVREQUEST', `record option ${key}=${text} is not an integer >= 1`);
  }
  return n;
}

/**
 * The buffer `options` (record._options) ask for; throws ERR_PVREQUEST naming the option and
 * what it may be. Without policy and fillRate, queueSize is read leniently as monitors always
 * read it (a non-number: the default; below 1: one entry), so that existing clients keep working.
 */
export function readerBufferOf(options: Readonly<Record<string, string>>): ReaderBuffer {
  const policyText = options['policy'];
  let policy: ReaderPolicy | undefined;
  if (policyText !== undefined) {
    const p = policyText.trim().toLowerCase();
    if (!(READER_POLICIES as readonly string[]).includes(p)) {
      throw new SluiceError('ERR_PVREQUEST', `record option policy=${policyText} is not one of ${READER_POLICIES.join(', ')}`);
    }
    policy = p as ReaderPolicy;
  }
  const fillRate = positiveInt(options, 'fillRate');
  let queueSize: number | undefined;
  if (policy !== undefined || fillRate !== undefined) queueSize = positiveInt(options, 'queueSize');
  else {
    const n = optionInt(options['queueSize']);
    if (n !== undefined) queueSize = Math.max(1, n);
  }
  return { queueSize, policy, fillRate: fillRate ?? 1 };
}
