// Errors of remote calls: the remote exception as the caller sees it, and the checks made
// before sending (argument counts and names against the signature the server published).
import { InvalidArgumentError, SluiceError } from '../errors.js';
import type { MethodSignature } from './wire.js';

/** An exception thrown by the remote method: its name, message and stack as the remote side formatted them. */
export class RemoteCallError extends SluiceError {
  readonly remoteName: string;
  readonly remoteMessage: string;
  readonly remoteStack: string;
  /** The remote error's stable code (ERR_…), '' when it had none. */
  readonly remoteCode: string;
  constructor(what: string, remoteName: string, remoteMessage: string, remoteStack: string, remoteCode = '') {
    super('ERR_REMOTE', `${what} failed remotely: ${remoteName}: ${remoteMessage}`);
    this.name = 'RemoteCallError';
    this.remoteName = remoteName;
    this.remoteMessage = remoteMessage;
    this.remoteStack = remoteStack;
    this.remoteCode = remoteCode;
    // Both stacks: where the call was made here, and where it failed there.
    this.stack = `${this.stack ?? ''}\n--- remote stack ---\n${remoteStack}`;
  }
}

/** Throws before sending when `count` arguments cannot fit `sig`. */
export function checkArgumentCount(what: string, sig: MethodSignature | undefined, count: number): void {
  if (!sig) return;
  if (count < sig.required) {
    throw new InvalidArgumentError(`${what}(${sig.params.join(', ')}) needs at least ${sig.required} argument(s), got ${count}`);
  }
  if (!sig.rest && count > sig.params.length) {
    throw new InvalidArgumentError(`${what}(${sig.params.join(', ')}) takes at most ${sig.params.length} argument(s), got ${count}`);
  }
}

/**
 * Positional arguments for named ones (Python's keyword arguments): every name must be a
 * parameter of `sig`, and every required parameter must be given.
 */
export function argumentsByName(what: string, sig: MethodSignature | undefined, named: Record<string, unknown>): unknown[] {
  if (!sig) throw new InvalidArgumentError(`${what} has no published signature: call it with positional arguments`);
  const params = sig.params.map((p) => p.replace(/^\.\.\./, ''));
  const unknown = Object.keys(named).filter((k) => !params.includes(k) || sig.params[params.indexOf(k)]?.startsWith('...'));
  if (unknown.length) throw new InvalidArgumentError(`${what}(${sig.params.join(', ')}) has no parameter ${unknown.join(', ')}`);
  const missing = params.slice(0, sig.required).filter((p) => !(p in named));
  if (missing.length) throw new InvalidArgumentError(`${what}(${sig.params.join(', ')}) is missing ${missing.join(', ')}`);
  let last = -1;
  params.forEach((p, i) => {
    if (p in named) last = i;
  });
  return params.slice(0, last + 1).map((p) => named[p]);
}
