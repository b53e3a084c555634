// One EVENT_ADD on the server: a subscriber of a PV (Source) that sends each post to its client as
// the DBR type and count the client asked for. When the client's connection is backed up, the
// subscription holds at most one pending update (the PV's latest value, read when it is finally
// sent), so a client that stops reading costs a flag per subscription, not a growing queue.
import type { BitSet } from '../pvdata/bitset.js';
import { bitOf, fieldCount } from '../pvdata/field-numbering.js';
import type { PVSubscriber } from '../pv/source.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import { EventMask } from './constants.js';

/** What a monitor needs from the client session that owns it. */
export interface MonitorSink {
  /** Send now, or mark pending if the connection is backed up. */
  deliver(m: ServerMonitor): void;
}

export class ServerMonitor implements PVSubscriber {
  /** The channel (server id) and subscription id the client gave. */
  readonly sid: number;
  readonly subid: number;
  readonly dataType: number;
  readonly count: number;
  readonly mask: number;
  /** An update waits for the connection to drain. */
  pending = false;
  overruns = 0;
  readonly #sink: MonitorSink;
  readonly #propertyBits: [number, number][];
  unsubscribe: () => void = () => {};

  constructor(sink: MonitorSink, type: StructureDesc, sid: number, subid: number, dataType: number, count: number, mask: number) {
    this.#sink = sink;
    this.sid = sid;
    this.subid = subid;
    this.dataType = dataType;
    this.count = count;
    this.mask = mask;
    // Bit ranges of the fields that are "properties" in CA terms (DBE_PROPERTY).
    this.#propertyBits = [];
    for (const name of ['display', 'control', 'valueAlarm']) {
      const m = type.fields.find((f) => f.name === name);
      if (m) {
        const b = bitOf(type, name);
        this.#propertyBits.push([b, b + fieldCount(m.type)]);
      }
    }
    const v = type.fields.find((f) => f.name === 'value');
    if (v?.type.kind === 'structure' && v.type.fields.some((f) => f.name === 'choices')) {
      const b = bitOf(type, 'value.choices');
      this.#propertyBits.push([b, b + 1]);
    }
  }

  /** Value, archive and alarm subscribers get every post; property-only ones get property changes. */
  #wants(changed: BitSet): boolean {
    if (this.mask & (EventMask.VALUE | EventMask.LOG | EventMask.ALARM)) return true;
    if (!(this.mask & EventMask.PROPERTY)) return false;
    if (changed.get(0)) return true;
    return this.#propertyBits.some(([from, to]) => changed.anyInRange(from, to));
  }

  /** `force` (an end-of-transfer marker) is delivered whatever the event mask. */
  onPost(_value: PVStructure, changed: BitSet, _overrun?: BitSet, force = false): void {
    if (force || this.#wants(changed)) this.#sink.deliver(this);
  }

  onClose(): void {
    // The channel learns of it too (Source.onClosed) and tells the client.
  }

  hasRoom(): boolean {
    return !this.pending;
  }
}
