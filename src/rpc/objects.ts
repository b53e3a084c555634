// The objects a server lends out: one id per object, one reference id per proxy issued for it.
// An object stays while it is published or while any reference remains (Pyacq's distributed
// reference counting); the last release drops it, so the server's memory follows its clients'.
import { randomBytes } from 'node:crypto';
import { SluiceError } from '../errors.js';

interface Entry {
  obj: object;
  refs: Set<string>;
}

/** Unique in this process, and across processes by the random prefix. */
const PREFIX = randomBytes(6).toString('hex');
let nextRef = 0;
export function newRefId(): string {
  return `${PREFIX}.${(nextRef++).toString(36)}`;
}

export class ObjectTable {
  readonly #byId = new Map<bigint, Entry>();
  readonly #ids = new WeakMap<object, bigint>();
  readonly #published = new Map<string, object>();
  #nextId = 1n;

  publish(name: string, obj: object): void {
    this.#published.set(name, obj);
  }

  unpublish(name: string): boolean {
    return this.#published.delete(name);
  }

  published(name: string): object | undefined {
    return this.#published.get(name);
  }

  get publishedNames(): string[] {
    return [...this.#published.keys()];
  }

  /** A new reference to `obj` (its id is kept while references remain). */
  issue(obj: object): { objectId: bigint; refId: string } {
    let id = this.#ids.get(obj);
    let e = id === undefined ? undefined : this.#byId.get(id);
    if (id === undefined || !e) {
      id = this.#nextId++;
      e = { obj, refs: new Set() };
      this.#byId.set(id, e);
      this.#ids.set(obj, id);
    }
    const refId = newRefId();
    e.refs.add(refId);
    return { objectId: id, refId };
  }

  /** Another holder of an existing object (a proxy forwarded to a third process). */
  addRef(objectId: bigint, refId: string): void {
    this.#entry(objectId).refs.add(refId);
  }

  get(objectId: bigint): object {
    return this.#entry(objectId).obj;
  }

  /** Releases one reference; returns whether the object was dropped. Unknown references are ignored (released twice). */
  release(objectId: bigint, refId: string): boolean {
    const e = this.#byId.get(objectId);
    if (!e || !e.refs.delete(refId) || e.refs.size > 0) return false;
    this.#byId.delete(objectId);
    this.#ids.delete(e.obj);
    return true;
  }

  get objectCount(): number {
    return this.#byId.size;
  }

  get referenceCount(): number {
    let n = 0;
    for (const e of this.#byId.values()) n += e.refs.size;
    return n;
  }

  clear(): void {
    this.#byId.clear();
    this.#published.clear();
  }

  #entry(objectId: bigint): Entry {
    const e = this.#byId.get(objectId);
    if (!e) throw new SluiceError('ERR_INVALID_ARGUMENT', `no object with id ${objectId} (released, or never issued)`);
    return e;
  }
}
