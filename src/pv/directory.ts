// The names a server answers for: PVs added by name, then on-demand PVSources asked in the
// order they were added. Protocol-neutral: the pvAccess server keeps its PVs here.
import { InvalidArgumentError } from '../errors.js';
import type { PVSource, Source } from './source.js';

export class PVDirectory {
  readonly #pvs = new Map<string, Source>();
  readonly #sources: PVSource[] = [];

  /** Add a PV under `name` (a name may be used once). */
  add(name: string, pv: Source): void {
    if (this.#pvs.has(name)) throw new InvalidArgumentError(`a PV named '${name}' is already served`);
    this.#pvs.set(name, pv);
  }

  /** Forget the PV added as `name` and return it (undefined if there was none). */
  remove(name: string): Source | undefined {
    const pv = this.#pvs.get(name);
    this.#pvs.delete(name);
    return pv;
  }

  /** The PV added as `name`, without asking the on-demand sources. */
  get(name: string): Source | undefined {
    return this.#pvs.get(name);
  }

  /** Names of the PVs added by name (on-demand ones cannot be listed). */
  get names(): string[] {
    return [...this.#pvs.keys()];
  }

  addSource(source: PVSource): void {
    this.#sources.push(source);
  }

  /** The PV for `name`: one added by name, else the first on-demand source's that has one. */
  lookup(name: string): Source | undefined {
    const pv = this.#pvs.get(name);
    if (pv) return pv;
    for (const s of this.#sources) {
      const p = s(name);
      if (p) return p;
    }
    return undefined;
  }
}
