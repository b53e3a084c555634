// RPC between clients through the channel server: a call is checked against the target's exported
// signature before it is sent, handed to the target as an inbox 'call' message, and answered by
// the target's reply(); it fails after its time-out, or when the target leaves.
import { SluiceError, TimeoutError } from '../errors.js';
import { checkArgumentCount } from '../rpc/errors.js';
import { encodeValue, type EncodeContext } from '../rpc/wire.js';
import type { PVAny } from '../pvdata/values.js';
import type { ClientRecord } from './inbox.js';

/** Arguments go by value only: proxies and class instances do not cross clients. */
const BY_VALUE: EncodeContext = {
  refOf: () => undefined,
  proxyOf: (v) => {
    throw new SluiceError(
      'ERR_INVALID_ARGUMENT',
      `a ${(v as { constructor?: { name?: string } }).constructor?.name ?? typeof v} cannot be passed to another client: only plain data goes (numbers, strings, arrays, plain objects, typed arrays)`,
    );
  },
};

/** The target client's exception, as the caller receives it (name, message and stack of the target's). */
export class ClientCallError extends SluiceError {
  constructor(name: string, message: string, stack: string) {
    super('ERR_REMOTE', message);
    this.name = name || 'Error';
    this.stack = stack || `${this.name}: ${message}`;
  }
}

interface PendingCall {
  caller: string;
  target: string;
  what: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class ClientCalls {
  readonly #clients: ReadonlyMap<string, ClientRecord>;
  readonly #pending = new Map<bigint, PendingCall>();
  #nextId = 0n;

  constructor(clients: ReadonlyMap<string, ClientRecord>) {
    this.#clients = clients;
  }

  get pending(): number {
    return this.#pending.size;
  }

  call(caller: string, target: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    const t = this.#clients.get(target);
    if (!t) throw new SluiceError('ERR_INVALID_ARGUMENT', `no client named ${target}`);
    const sig = t.signatures.get(method);
    if (!sig)
      throw new SluiceError(
        'ERR_INVALID_ARGUMENT',
        `client ${target} exports no method ${method} (it exports: ${t.methods.join(', ') || 'none'})`,
      );
    const what = `${target}.${method}`;
    checkArgumentCount(what, sig, args.length);
    const encoded: PVAny[] = args.map((a) => encodeValue(a, BY_VALUE));
    const callId = ++this.#nextId;
    t.postCall(callId, caller, method, encoded);
    t.pendingCalls++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#finish(callId)?.reject(new TimeoutError(`call of ${what}() got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(callId, { caller, target, what, resolve, reject, timer });
    });
  }

  #finish(callId: bigint): PendingCall | undefined {
    const p = this.#pending.get(callId);
    if (!p) return undefined;
    this.#pending.delete(callId);
    clearTimeout(p.timer);
    const t = this.#clients.get(p.target);
    if (t) t.pendingCalls--;
    return p;
  }

  reply(from: ClientRecord, callId: bigint, ok: boolean, value: unknown, error: { name: string; message: string; stack: string }): void {
    const p = this.#pending.get(callId);
    if (!p) throw new SluiceError('ERR_INVALID_ARGUMENT', `no call ${callId} is waiting (answered already, timed out, or never made)`);
    if (p.target !== from.name) throw new SluiceError('ERR_ACCESS_DENIED', `call ${callId} was not made to client ${from.name}`);
    this.#finish(callId);
    if (ok) p.resolve(value);
    else p.reject(new ClientCallError(error.name, error.message || `${p.what}() failed`, error.stack));
  }

  /** The client left: calls to it fail; its own calls are forgotten (nobody waits for them). */
  clientLeft(name: string): void {
    for (const [id, p] of [...this.#pending]) {
      if (p.target === name) {
        this.#finish(id);
        p.reject(new SluiceError('ERR_CONNECTION_CLOSED', `client ${name} left before answering ${p.what}()`));
      } else if (p.caller === name) {
        this.#finish(id);
        p.resolve(undefined);
      }
    }
  }

  close(): void {
    for (const [id, p] of [...this.#pending]) {
      this.#finish(id);
      p.reject(new SluiceError('ERR_CONNECTION_CLOSED', `the channel server closed before ${p.what}() was answered`));
    }
  }
}
