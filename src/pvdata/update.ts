// One update of a structure as it travels from a server's monitor, through a client, a relay or
// a processing host, to another server's subscribers: the value with its marks. Keeping the
// marks with the value is what lets a relay pass a partial update on as partial, and an
// upstream squash on as an overrun, instead of rebuilding them (and losing both).
import type { BitSet } from './bitset.js';
import type { StructureDesc } from './types.js';
import type { PVStructure } from './values.js';

/**
 * An update: the whole current value and what changed in it. Treat both BitSets as read-only:
 * they may be shared with other holders of the same update (a Channel Access source's full set,
 * a PV's subscribers).
 */
export interface PVUpdate {
  type: StructureDesc;
  /** The complete current value (a new object each update; unchanged parts may be shared). */
  value: PVStructure;
  /** Fields changed since the previous update (BitSet numbering of `type`). */
  changed: BitSet;
  /** Fields that changed more than once on the way and lost values (squashed in a queue). */
  overrun: BitSet;
}

/** The marks of an update without its value: what a PV's post takes beside a complete value. */
export interface UpdateMarks {
  /** Fields that changed (taken by reference: do not modify it afterwards). */
  changed: BitSet;
  /** Fields squashed upstream; absent or empty: none. */
  overrun?: BitSet | undefined;
}
