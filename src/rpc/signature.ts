// Method signatures an RPC server publishes with each proxy, so a caller checks argument counts
// and names before anything is sent: parameter names come from a parse of the function's source
// (its parameter list only), the required count from Function.length. A class may declare them
// instead (a static `rpcSignatures`), which also declares types for pvcall's string arguments.
import type { MethodSignature, Signatures } from './wire.js';

/** What a class may declare: method -> parameter names, each optionally `name:type`. */
export type DeclaredSignatures = Record<string, string[]>;

const cache = new WeakMap<object, Signatures>();

/** Signatures of the callable members of `obj` (own and inherited, up to Object.prototype). */
export function signaturesOf(obj: object): Signatures {
  const proto = typeof obj === 'function' ? obj : (Object.getPrototypeOf(obj) as object | null);
  const cacheable = proto !== null && proto !== Object.prototype && typeof obj !== 'function';
  if (cacheable) {
    const hit = cache.get(proto);
    if (hit) return hit;
  }
  const out: Signatures = new Map();
  const declared = declaredOf(obj);
  for (
    let o: object | null = obj;
    o !== null && o !== Object.prototype && o !== Function.prototype;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === 'constructor' || out.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (!d || typeof d.value !== 'function') continue;
      const decl = declared?.[name];
      out.set(name, decl ? fromDeclared(decl) : signatureOfFunction(d.value as (...a: unknown[]) => unknown));
    }
    if (typeof obj === 'function') break; // a function's own members only, not Function's
    // Plain objects with methods (modules, literals) change: cache only per class.
  }
  if (typeof obj === 'function') out.set('', signatureOfFunction(obj as (...a: unknown[]) => unknown));
  if (cacheable) cache.set(proto, out);
  return out;
}

function declaredOf(obj: object): DeclaredSignatures | undefined {
  const ctor = (obj as { constructor?: { rpcSignatures?: unknown } }).constructor;
  const d = ctor?.rpcSignatures;
  return d && typeof d === 'object' ? (d as DeclaredSignatures) : undefined;
}

function fromDeclared(params: string[]): MethodSignature {
  const names = params.map((p) => p.split(':')[0]?.trim() ?? '');
  const types = params.map((p) => p.split(':')[1]?.trim() ?? '');
  const rest = names.some((n) => n.startsWith('...'));
  return { params: names, required: names.filter((n) => !n.endsWith('?') && !n.startsWith('...')).length, rest, types };
}

/** Names of a function's parameters (`...rest` kept as written; destructured ones as `arg<i>`), its required count and defaults' types. */
export function signatureOfFunction(fn: (...a: unknown[]) => unknown): MethodSignature {
  const source = Function.prototype.toString.call(fn);
  // A built-in (Float64Array.prototype.fill) or bound function shows no parameter list, and its
  // length counts optional parameters too (Array.prototype.slice: 2): its arguments are not checked.
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) return { params: ['...args'], required: 0, rest: true, types: [''] };
  const list = parameterList(source);
  const parts = splitTopLevel(list);
  const params: string[] = [];
  const types: string[] = [];
  let rest = false;
  parts.forEach((raw, i) => {
    const p = raw.trim();
    if (p === '') return;
    const eq = topLevelIndex(p, '=');
    const head = (eq >= 0 ? p.slice(0, eq) : p).trim();
    if (head.startsWith('...')) rest = true;
    params.push(/^(\.\.\.)?[\p{L}_$][\p{L}\p{N}_$]*$/u.test(head) ? head : `arg${i}`);
    types.push(eq >= 0 ? literalType(p.slice(eq + 1).trim()) : '');
  });
  return { params, required: fn.length, rest, types };
}

function literalType(text: string): string {
  if (/^-?\d+n$/.test(text)) return 'bigint';
  if (/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text)) return 'number';
  if (text === 'true' || text === 'false') return 'boolean';
  if (/^(['"`]).*\1$/.test(text)) return 'string';
  return '';
}

/** The text between a function's parameter parentheses (or the lone parameter of `x => ...`). */
function parameterList(src: string): string {
  const s = stripComments(src);
  const open = s.indexOf('(');
  const arrow = s.indexOf('=>');
  if (arrow >= 0 && (open < 0 || arrow < open)) return s.slice(0, arrow).replace(/^\s*async\s+/, '');
  if (open < 0) return '';
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return s.slice(open + 1, i);
    } else if (c === '"' || c === "'" || c === '`') i = skipString(s, i);
  }
  return '';
}

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

function skipString(s: string, i: number): number {
  const q = s[i];
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === q) return j;
  }
  return s.length;
}

function splitTopLevel(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === '"' || c === "'" || c === '`') i = skipString(list, i);
    else if (c === ',' && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
  }
  out.push(list.slice(start));
  return out;
}

function topLevelIndex(s: string, ch: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ch && depth === 0 && s[i + 1] !== '>') return i;
  }
  return -1;
}
