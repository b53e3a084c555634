// Writes from web clients: off unless the dashboard runs with --write, then decided by the access
// rules for the web client (anonymous; HAGs match its IP address), then put with our pvAccess
// client. The reply carries the PV's value after the put, so the page can show what a control
// PV answered (its statusMessage).
import { AccessPolicy, denial, describeClient, type ClientIdentity } from '../access/policy.js';
import { InvalidArgumentError } from '../errors.js';
import type { PvaClient } from '../pva/client/client.js';
import { toJSONValue } from '../pvdata/json-value.js';
import { fromJSON } from '../pvdata/parse-value.js';
import type { FieldDesc, StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import type { Hub } from './hub.js';
import { upstreamOf } from './hub.js';

export interface WriteRequest {
  pv: string;
  /** A number, string, array, or (for a structure) an object of the fields to write. */
  value: unknown;
}

export interface WriteResult {
  pv?: string;
  ok: boolean;
  message: string;
  /** The PV's whole value after the put, as JSON (absent when it could not be read). */
  value?: unknown;
}

export interface WriterOptions {
  enabled: boolean;
  policy?: AccessPolicy | undefined;
  timeoutMs: number;
  /** Where accepted and refused writes are logged. */
  log: (line: string) => void;
}

/** The access group a PV is judged in: CONTROL for the control PVs of consumers and collectors. */
export function accessGroupOf(type: StructureDesc): string | undefined {
  const names = new Set(type.fields.map((m) => m.name));
  return names.has('command') && names.has('args') && names.has('statusMessage') ? 'CONTROL' : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The partial structure to put: an object writes those fields; anything else writes `value`
 * (an enum by index or by choice name).
 */
export function putValue(type: StructureDesc, json: unknown, current: PVStructure | null, pv: string): PVStructure {
  const valueField = type.fields.find((m) => m.name === 'value')?.type;
  if (isObject(json) && (!valueField || Object.keys(json).every((k) => type.fields.some((m) => m.name === k)))) {
    return fromJSON(type, json, pv) as PVStructure;
  }
  if (!valueField) {
    const fields = type.fields.map((m) => m.name).join(', ');
    throw new InvalidArgumentError(`${pv} is a structure without a value field: write a JSON object of its fields (${fields})`);
  }
  if (isEnum(valueField)) {
    const choices = Array.from(((current?.['value'] as PVStructure | undefined)?.['choices'] ?? []) as ArrayLike<string>);
    let index = typeof json === 'number' ? json : typeof json === 'string' ? choices.indexOf(json) : NaN;
    if (typeof json === 'string' && index < 0 && /^\d+$/.test(json)) index = Number(json);
    if (!Number.isInteger(index) || index < 0) {
      throw new InvalidArgumentError(`${pv}: ${JSON.stringify(json)} is not one of its choices (${choices.join(', ')}) nor an index`);
    }
    return { value: { index } };
  }
  return { value: fromJSON(valueField, json, `${pv}.value`) };
}

function isEnum(d: FieldDesc): boolean {
  return d.kind === 'structure' && d.fields.some((m) => m.name === 'index') && d.fields.some((m) => m.name === 'choices');
}

export class Writer {
  readonly #hub: Hub;
  readonly #o: WriterOptions;

  constructor(hub: Hub, options: WriterOptions) {
    this.#hub = hub;
    this.#o = options;
  }

  get enabled(): boolean {
    return this.#o.enabled;
  }

  set policy(p: AccessPolicy | undefined) {
    this.#o.policy = p;
  }

  /** Could `who` write `pv`, whose type (when known) decides its access group? */
  mayWrite(pv: string, who: ClientIdentity, type?: StructureDesc): boolean {
    if (!this.#o.enabled) return false;
    const p = this.#o.policy;
    return !p || p.rights(pv, type && accessGroupOf(type), who).put;
  }

  async write(req: WriteRequest, who: ClientIdentity): Promise<WriteResult> {
    const up = upstreamOf(req.pv);
    const pv = req.pv;
    if (!this.#o.enabled) return { ok: false, message: `writes are disabled (start sluice dashboard with --write to allow them)` };
    const timeoutMs = this.#o.timeoutMs;
    const ca = up.protocol === 'ca' ? this.#hub.ca() : null;
    const pva: PvaClient = this.#hub.client;
    const read = () => (ca ? ca.get(up.name, { timeoutMs }) : pva.get(up.name, { timeoutMs }));
    const current = await read();
    const policy = this.#o.policy;
    if (policy) {
      const rights = policy.rights(pv, accessGroupOf(current.type), who);
      if (!rights.put) {
        const err = denial('put', pv, rights, who);
        policy.log(err.message);
        return { ok: false, message: err.message };
      }
    }
    const value = putValue(current.type, req.value, current.value, pv);
    try {
      if (ca) await ca.put(up.name, caValue(value, pv), { timeoutMs });
      else await pva.put(up.name, value, { timeoutMs });
    } catch (err) {
      this.#o.log(`write to ${pv} by ${describeClient(who)} failed: ${(err as Error).message}`);
      return { ok: false, message: (err as Error).message, ...(await after(read)) };
    }
    this.#o.log(`write to ${pv} by ${describeClient(who)}: ${shorten(JSON.stringify(req.value))}`);
    return { ok: true, message: 'written', ...(await after(read)) };
  }
}

/** Channel Access writes the value field only; an enum by its index. */
function caValue(put: PVStructure, pv: string): unknown {
  const extra = Object.keys(put).filter((k) => k !== 'value');
  if (extra.length || !('value' in put))
    throw new InvalidArgumentError(`${pv}: Channel Access writes only the value field, not ${extra.join(', ')}`);
  const v = put['value'];
  return isObject(v) && 'index' in v ? v['index'] : v;
}

/** The value after the put, for the reply; nothing when it cannot be read. */
async function after(read: () => Promise<{ type: StructureDesc; value: PVStructure }>): Promise<{ value?: unknown }> {
  try {
    const r = await read();
    return { value: toJSONValue(r.type, r.value) };
  } catch {
    return {};
  }
}

function shorten(text: string | undefined): string {
  const s = text ?? 'undefined';
  return s.length <= 200 ? s : `${s.slice(0, 200)} ...`;
}
