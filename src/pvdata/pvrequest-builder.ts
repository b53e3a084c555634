// pvRequest as a value: a builder that gives the same structure parsePVRequest gives for the
// equivalent text, so that code adding options (a queue size, pipelining, a server plugin) edits
// a tree instead of splicing text. It starts empty, from a user's text or from a structure; an
// option set again replaces the value but keeps its place, as a name given twice in the text does.
import { SluiceError } from '../errors.js';
import {
  formatPVRequest,
  newNode,
  optionsOf,
  parseRequestTree,
  requestOfTree,
  SECTIONS,
  type PVRequest,
  type RequestNode,
  type RequestSection,
  type RequestTree,
} from './pvrequest.js';
import type { FieldDesc } from './types.js';
import type { PVStructure, PVValue } from './values.js';

export type RequestOptionValue = string | number | bigint | boolean;
/** Options by name; an undefined value is left out, so optional settings can be passed as they are. */
export type RequestOptionValues = Readonly<Record<string, RequestOptionValue | undefined>>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// The text form ends a value at ',' or ']' and drops blanks: a value holding them could not be
// written as text and read back the same.
const UNSAFE_VALUE = /[\s,\]]/;

export class PVRequestBuilder {
  readonly #tree: RequestTree = { record: new Map(), sections: new Map() };

  /** Select a field (`b.c` for a nested one); options go on its last part (`b.c[k=v]`). */
  field(path: string, options?: RequestOptionValues): this {
    return this.#select('field', path, options);
  }

  getField(path: string, options?: RequestOptionValues): this {
    return this.#select('getField', path, options);
  }

  putField(path: string, options?: RequestOptionValues): this {
    return this.#select('putField', path, options);
  }

  /** Record options: `record[queueSize=4,pipeline=true]`. */
  record(options: RequestOptionValues): this {
    for (const [k, v] of checkedOptions(options)) this.#tree.record.set(k, v);
    return this;
  }

  /**
   * A server plugin on the whole structure, `field(_[name=k:v;…])`, as PvaPy's pydistributor
   * and pvDatabase's distributor read it: parameters in the order given, or one text as is.
   */
  plugin(name: string, params: RequestOptionValues | string): this {
    let text: string;
    if (typeof params === 'string') text = params;
    else {
      const parts: string[] = [];
      for (const [k, v] of Object.entries(params)) {
        if (v === undefined) continue;
        checkName(k, 'plugin parameter');
        const s = String(v);
        // ';' separates parameters and ':' a name from its value in the plugin's own syntax
        if (/[;:]/.test(s)) fail(`plugin parameter ${k}=${JSON.stringify(s)} holds ';' or ':'`);
        parts.push(`${k}:${s}`);
      }
      text = parts.join(';');
    }
    return this.#select('field', '_', { [name]: text });
  }

  /** Everything `other` requests, merged in: its options replace values of the same name here. */
  merge(other: string | PVRequest | PVRequestBuilder): this {
    const tree =
      typeof other === 'string' ? parseRequestTree(other) : other instanceof PVRequestBuilder ? other.#tree : treeOfRequest(other);
    mergeTree(this.#tree, tree);
    return this;
  }

  /** Whether the section holds `path` (a field named in the request, or a parent of one). */
  has(path: string, section: RequestSection = 'field'): boolean {
    let node = this.#tree.sections.get(section);
    for (const part of path.split('.')) {
      node = node?.children.find((c) => c.name === part);
      if (!node) return false;
    }
    return true;
  }

  /** Whether the section names any field (without one, or with an empty `field()`, all are sent). */
  selectsFields(section: RequestSection = 'field'): boolean {
    return (this.#tree.sections.get(section)?.children.length ?? 0) > 0;
  }

  /** The structure sent on the wire; the builder can go on being used. */
  build(): PVRequest {
    return requestOfTree(this.#tree, '(built)');
  }

  /** The canonical text (formatPVRequest of the structure). */
  toString(): string {
    return formatPVRequest(requestOfTree(this.#tree, '(built)'));
  }

  #select(section: RequestSection, path: string, options?: RequestOptionValues): this {
    // Everything is checked before anything changes: a refused call leaves the builder as it was.
    const parts = path.split('.');
    for (const part of parts) {
      checkName(part, 'field name');
      if (part === '_options') fail(`'_options' is not a field name`);
    }
    const entries = options ? checkedOptions(options) : [];
    let node: RequestNode | undefined = this.#tree.sections.get(section);
    if (!node) this.#tree.sections.set(section, (node = newNode(section)));
    for (const part of parts) {
      let child: RequestNode | undefined = node.children.find((c) => c.name === part);
      if (!child) node.children.push((child = newNode(part)));
      node = child;
    }
    for (const [k, v] of entries) node.options.set(k, v);
    return this;
  }
}

/** A builder, empty or starting from a request (text as pvget's -r takes it, or a structure). */
export function pvRequest(base?: string | PVRequest | PVRequestBuilder): PVRequestBuilder {
  const b = new PVRequestBuilder();
  return base === undefined ? b : b.merge(base);
}

function fail(what: string): never {
  throw new SluiceError('ERR_PVREQUEST', `bad pvRequest: ${what}`);
}

function checkName(name: string, what: string): void {
  if (!NAME.test(name)) fail(`${what} ${JSON.stringify(name)} is not a name (letters, digits, '_')`);
}

/** The options given, as text, undefined ones left out; throws for one the text form cannot carry. */
function checkedOptions(options: RequestOptionValues): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    checkName(k, 'option name');
    const s = String(v);
    if (UNSAFE_VALUE.test(s)) fail(`option ${k}=${JSON.stringify(s)} holds a blank, ',' or ']'`);
    out.push([k, s]);
  }
  return out;
}

function mergeNode(into: RequestNode, from: RequestNode): void {
  for (const [k, v] of from.options) into.options.set(k, v);
  for (const c of from.children) {
    let mine = into.children.find((x) => x.name === c.name);
    if (!mine) into.children.push((mine = newNode(c.name)));
    mergeNode(mine, c);
  }
}

function mergeTree(into: RequestTree, from: RequestTree): void {
  for (const [k, v] of from.record) into.record.set(k, v);
  for (const [name, n] of from.sections) {
    let mine = into.sections.get(name);
    if (!mine) into.sections.set(name, (mine = newNode(name)));
    mergeNode(mine, n);
  }
}

function nodeOf(name: string, desc: FieldDesc, value: PVValue | undefined): RequestNode {
  const n = newNode(name);
  if (desc.kind !== 'structure') return n; // a leaf given as a non-structure: selected all the same
  const v = (value ?? {}) as PVStructure;
  for (const m of desc.fields) {
    if (m.name === '_options') for (const [k, x] of Object.entries(optionsOf(m.type, v[m.name]))) n.options.set(k, x);
    else n.children.push(nodeOf(m.name, m.type, v[m.name]));
  }
  return n;
}

/** The tree of a structure (built here, parsed, or sent by a peer), read as formatPVRequest reads it. */
function treeOfRequest(req: PVRequest): RequestTree {
  const tree: RequestTree = { record: new Map(), sections: new Map() };
  const v = (req.value ?? {}) as PVStructure;
  const bare = newNode('field');
  for (const m of req.type.fields) {
    if (m.name === 'record') {
      const rec = nodeOf('record', m.type, v['record']);
      for (const [k, x] of rec.options) tree.record.set(k, x);
    } else if ((SECTIONS as readonly string[]).includes(m.name)) {
      const n = nodeOf(m.name, m.type, v[m.name]);
      const mine = tree.sections.get(m.name);
      if (mine) mergeNode(mine, n);
      else tree.sections.set(m.name, n);
    } else {
      bare.children.push(nodeOf(m.name, m.type, v[m.name])); // a request without a field() wrapper
    }
  }
  if (bare.children.length) mergeTree(tree, { record: new Map(), sections: new Map([['field', bare]]) });
  return tree;
}
