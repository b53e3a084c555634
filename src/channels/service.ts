// The ChannelService object the server publishes on its RPC PV. Every method checks what a peer
// sent (any value may arrive: an RPC argument is whatever the caller encoded) and names the
// caller by its connection (currentCaller()), never by an argument. The methods are all this
// object has: the server's state stays in a private field, out of reach of RPC paths.
import { SluiceError } from '../errors.js';
import { currentCaller } from '../rpc/core.js';
import type { ChannelDetails, ChannelService, ChannelSummary, ClientSummary, CreateChannelOptions, HelloResult } from './protocol.js';
import type { ChannelServer } from './server.js';

/** Channel and client names (PV names of the server, so no blanks or pvRequest punctuation). */
export const CHANNEL_NAME = /^[\w.:@+-]{1,200}$/u;

export function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string' || !CHANNEL_NAME.test(v))
    throw new SluiceError('ERR_INVALID_ARGUMENT', `${what} must be 1-200 letters, digits or _ . : @ + -, got ${describe(v)}`);
  return v;
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SluiceError('ERR_INVALID_ARGUMENT', `${what} must be a string, got ${describe(v)}`);
  return v;
}

/** A key argument: '' (or none) means no key. */
function optKey(v: unknown): string | undefined {
  const k = optString(v, 'key');
  return k === '' ? undefined : k;
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw new SluiceError('ERR_INVALID_ARGUMENT', `${what} must be a list of strings`);
  return v as string[];
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
  if (v === null) return 'null';
  return Array.isArray(v) ? 'a list' : typeof v;
}

/** The caller's pvAccess peer (host:port); a local call has none. */
function callerPeer(): string {
  const c = currentCaller();
  if (!c) throw new SluiceError('ERR_INVALID_ARGUMENT', 'the channel service is called over pvAccess only');
  return c.peer;
}

export class ChannelRpcService implements ChannelService {
  readonly #server: ChannelServer;

  constructor(server: ChannelServer) {
    this.#server = server;
  }

  // Defaults, not optional parameters: the published signature (Function.length) then requires
  // only the name, so `pvcall ... method=server.channelInfo name=X` works without a key.
  async hello(name: string, methods: string[] = [], params: string[][] = [], required: number[] = []): Promise<HelloResult> {
    const m = stringList(methods, 'methods');
    m.forEach((x) => checkName(x, 'a method name'));
    const p = Array.isArray(params) ? params.map((l, i) => stringList(l, `params[${i}]`)) : [];
    if (params !== undefined && params !== null && !Array.isArray(params))
      throw new SluiceError('ERR_INVALID_ARGUMENT', 'params must be a list of lists of strings');
    const r = Array.isArray(required) ? required : [];
    if (!r.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0))
      throw new SluiceError('ERR_INVALID_ARGUMENT', 'required must be a list of counts');
    return this.#server.registerClient(checkName(name, 'a client name'), callerPeer(), m, p, r as number[]);
  }

  async createChannel(options: CreateChannelOptions): Promise<{ name: string; controlKey: string }> {
    if (options === null || typeof options !== 'object' || Array.isArray(options))
      throw new SluiceError('ERR_INVALID_ARGUMENT', 'createChannel takes an options object ({ name, public, key, lifetime, ... })');
    return this.#server.createChannel(callerPeer(), options);
  }

  async listChannels(): Promise<ChannelSummary[]> {
    return this.#server.listChannels(callerPeer());
  }

  async channelInfo(name: string, key = ''): Promise<ChannelDetails> {
    return this.#server.channelInfo(callerPeer(), checkName(name, 'a channel name'), optKey(key));
  }

  async deleteChannel(name: string, controlKey: string): Promise<void> {
    const k = optString(controlKey, 'controlKey') ?? '';
    this.#server.deleteChannel(checkName(name, 'a channel name'), k);
  }

  async openWriter(name: string, key = '', typeBytes: Uint8Array | null = null): Promise<{ writerId: string; active: boolean }> {
    if (typeBytes !== undefined && typeBytes !== null && !(typeBytes instanceof Uint8Array))
      throw new SluiceError('ERR_INVALID_ARGUMENT', 'typeBytes must be bytes (a Uint8Array)');
    return this.#server.openWriter(callerPeer(), checkName(name, 'a channel name'), optKey(key), typeBytes ?? undefined);
  }

  async closeWriter(name: string): Promise<void> {
    await this.#server.closeWriter(callerPeer(), checkName(name, 'a channel name'));
  }

  async clients(): Promise<ClientSummary[]> {
    return this.#server.clientList();
  }

  async clientInfo(name: string): Promise<ClientSummary> {
    return this.#server.clientInfo(checkName(name, 'a client name'));
  }

  callClient(target: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    if (!Array.isArray(args)) throw new SluiceError('ERR_INVALID_ARGUMENT', 'args must be a list');
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > 3_600_000)
      throw new SluiceError('ERR_INVALID_ARGUMENT', `timeoutMs must be a number of ms in (0, 3600000], got ${describe(timeoutMs)}`);
    if (typeof method !== 'string' || method === '') throw new SluiceError('ERR_INVALID_ARGUMENT', 'method must be a name');
    return this.#server.callClient(callerPeer(), checkName(target, 'a client name'), method, args, timeoutMs);
  }

  async reply(callId: bigint, ok: boolean, value: unknown, errorName: string, errorMessage: string, errorStack: string): Promise<void> {
    if (typeof callId !== 'bigint' && typeof callId !== 'number')
      throw new SluiceError('ERR_INVALID_ARGUMENT', 'callId must be the call id of an inbox call');
    this.#server.replyToCall(callerPeer(), BigInt(callId), ok === true, value, {
      name: optString(errorName, 'errorName') ?? 'Error',
      message: optString(errorMessage, 'errorMessage') ?? '',
      stack: optString(errorStack, 'errorStack') ?? '',
    });
  }
}
