// Calling another client's exported methods through the channel server (stream_service's
// rpc_client): the target's signatures come from the server (clientInfo), so a call with a wrong
// number of arguments, or of a method the target does not export, fails here before anything is
// sent. Each call has a time-out (per proxy, or per call with _call); a remote exception arrives
// as a RemoteCallError carrying the remote name, message and stack.
import { InvalidArgumentError } from '../errors.js';
import { checkArgumentCount } from '../rpc/errors.js';
import type { MethodSignature, Signatures } from '../rpc/wire.js';
import type { ClientSummary } from './protocol.js';

export interface RemoteCallOptions {
  /** Milliseconds the target has to answer (default 10,000). */
  timeout?: number;
}

export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;

/** A remote client's methods as functions returning promises, and a few own operations. */
export interface RemoteClientOps {
  /** The target client's name. */
  readonly _name: string;
  /** Its exported methods. */
  readonly _methods: readonly string[];
  /** Call with per-call options. */
  _call(method: string, args: unknown[], opts?: RemoteCallOptions): Promise<unknown>;
  /** The same target with other default options. */
  _options(opts: RemoteCallOptions): RemoteClient;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any method name may be exported
export type RemoteClient = RemoteClientOps & { [method: string]: any };

export type CallClient = (target: string, method: string, args: unknown[], timeoutMs: number) => Promise<unknown>;

/** Signatures from a client summary (a rest parameter is the one named `...name`). */
export function signaturesFromSummary(s: ClientSummary): Signatures {
  const out: Signatures = new Map();
  s.methods.forEach((m, i) => {
    const params = s.params[i] ?? [];
    const rest = params.some((p) => p.startsWith('...'));
    out.set(m, { params: [...params], required: Number(s.required[i] ?? 0), rest, types: params.map(() => '') });
  });
  return out;
}

/** A method's signature as protocol.ts's hello() carries it (parameter names, required count). */
export function encodeSignature(sig: MethodSignature): { params: string[]; required: number } {
  return { params: sig.params, required: sig.required };
}

export function createRemote(summary: ClientSummary, call: CallClient, defaults: RemoteCallOptions = {}): RemoteClient {
  const sigs = signaturesFromSummary(summary);
  const name = summary.name;
  const invoke = (method: string, args: unknown[], opts: RemoteCallOptions = {}): Promise<unknown> => {
    const what = `${name}.${method}`;
    try {
      const sig = sigs.get(method);
      if (!sig) {
        const known = [...sigs.keys()];
        throw new InvalidArgumentError(`client ${name} exports no method ${method} (it exports: ${known.join(', ') || 'none'})`);
      }
      checkArgumentCount(what, sig, args.length);
      const timeout = opts.timeout ?? defaults.timeout ?? DEFAULT_REMOTE_TIMEOUT_MS;
      if (!(timeout > 0)) throw new InvalidArgumentError(`${what}: timeout must be a positive number of ms, not ${timeout}`);
      return call(name, method, args, timeout);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
  const ops: RemoteClientOps = {
    _name: name,
    _methods: [...sigs.keys()],
    _call: invoke,
    _options: (opts) => createRemote(summary, call, { ...defaults, ...opts }),
  };
  return new Proxy(ops as RemoteClient, {
    get(target, prop) {
      if (typeof prop === 'symbol') return undefined;
      if (prop in target) return (target as unknown as Record<string, unknown>)[prop];
      if (prop === 'then') return undefined; // never mistaken for a promise
      return (...args: unknown[]) => invoke(prop, args);
    },
    set() {
      throw new InvalidArgumentError('a remote client has no attributes to set');
    },
  });
}
