// The access security configuration file (ACF) of EPICS base: UAG (user groups), HAG (host
// groups) and ASG (access security groups of RULEs). Parsed from text into plain data, and
// written back in one canonical layout (formatAcf), so that a file can be checked and compared.
// CALC and INP conditions need PV links, which Sluice servers do not have: they are refused.
import { AccessConfigError } from './errors.js';

/** What a RULE grants. WRITE is PUT + RPC; PUT and RPC are the PVXS gateway's finer rights. */
export type Grant = 'NONE' | 'READ' | 'WRITE' | 'PUT' | 'RPC' | 'UNCACHED';
const GRANTS: readonly string[] = ['NONE', 'READ', 'WRITE', 'PUT', 'RPC', 'UNCACHED'];

export interface AcfRule {
  /** Applies to PVs whose access security level (ASL) is at most this. */
  level: number;
  grant: Grant;
  /** Puts this rule allows are logged. */
  trapWrite: boolean;
  /** The rule applies to users in any of these UAGs (none listed: to every user). */
  uags: string[];
  /** ... and to hosts in any of these HAGs (none listed: to every host). */
  hags: string[];
  /** Line of the RULE in its file. */
  line: number;
}

export interface Acf {
  /** Where the text came from (a file name), for messages. */
  source: string;
  uags: Map<string, string[]>;
  hags: Map<string, string[]>;
  asgs: Map<string, AcfRule[]>;
}

type Token = { kind: 'word' | 'string' | 'punct'; text: string; line: number };

// Bare words as EPICS accepts them: letters, digits and _ - + : . [ ] < > ;
const BARE = /[A-Za-z0-9_\-+:.[\]<>;]/;

function tokenize(text: string, source: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  for (let i = 0; i < text.length;) {
    const c = text[i] as string;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ('(){},'.includes(c)) {
      out.push({ kind: 'punct', text: c, line });
      i++;
    } else if (c === '"') {
      let s = '';
      const start = line;
      for (i++; ; i++) {
        if (i >= text.length || text[i] === '\n') throw new AccessConfigError(source, start, 'unterminated quoted string');
        const d = text[i] as string;
        if (d === '"') break;
        if (d === '\\' && i + 1 < text.length && text[i + 1] !== '\n') s += text[++i];
        else s += d;
      }
      i++;
      out.push({ kind: 'string', text: s, line: start });
    } else if (BARE.test(c)) {
      const start = i;
      while (i < text.length && BARE.test(text[i] as string)) i++;
      out.push({ kind: 'word', text: text.slice(start, i), line });
    } else throw new AccessConfigError(source, line, `unexpected character '${c}'`);
  }
  return out;
}

class Parser {
  #i = 0;
  constructor(
    readonly tokens: Token[],
    readonly source: string,
  ) {}

  get done(): boolean {
    return this.#i >= this.tokens.length;
  }

  get line(): number {
    return (this.tokens[this.#i] ?? this.tokens[this.tokens.length - 1])?.line ?? 1;
  }

  fail(message: string, line = this.line): never {
    throw new AccessConfigError(this.source, line, message);
  }

  peek(): Token | undefined {
    return this.tokens[this.#i];
  }

  next(what: string): Token {
    const t = this.tokens[this.#i++];
    if (!t) this.fail(`unexpected end of file, expected ${what}`);
    return t;
  }

  punct(p: string): void {
    const t = this.next(`'${p}'`);
    if (t.kind !== 'punct' || t.text !== p) this.fail(`expected '${p}', found '${t.text}'`, t.line);
  }

  isPunct(p: string): boolean {
    const t = this.peek();
    return t?.kind === 'punct' && t.text === p;
  }

  name(what: string): string {
    const t = this.next(what);
    if (t.kind === 'punct') this.fail(`expected ${what}, found '${t.text}'`, t.line);
    return t.text;
  }

  /** `{ a, b, c }`: names separated by commas (EPICS also takes an empty list). */
  list(what: string): string[] {
    this.punct('{');
    const names: string[] = [];
    while (!this.isPunct('}')) {
      names.push(this.name(what));
      if (!this.isPunct('}')) this.punct(',');
    }
    this.punct('}');
    return names;
  }

  /** `( a, b )` */
  args(what: string): string[] {
    this.punct('(');
    const names = [this.name(what)];
    while (this.isPunct(',')) {
      this.punct(',');
      names.push(this.name(what));
    }
    this.punct(')');
    return names;
  }
}

/** Parse ACF text; errors name `source:line`. Undefined UAG/HAG names in rules are errors too. */
export function parseAcf(text: string, source = 'ACF'): Acf {
  const p = new Parser(tokenize(text, source), source);
  const acf: Acf = { source, uags: new Map(), hags: new Map(), asgs: new Map() };
  const refs: { kind: 'UAG' | 'HAG'; name: string; line: number }[] = [];
  while (!p.done) {
    const t = p.next('UAG, HAG or ASG');
    if (t.kind !== 'word') p.fail(`expected UAG, HAG or ASG, found '${t.text}'`, t.line);
    if (t.text === 'UAG' || t.text === 'HAG') {
      const [name] = p.args(`${t.text} name`) as [string];
      const members = p.list(t.text === 'UAG' ? 'a user name' : 'a host name');
      const groups = t.text === 'UAG' ? acf.uags : acf.hags;
      // Hosts compare without regard to case (EPICS lower-cases both sides).
      const norm = t.text === 'HAG' ? members.map((m) => m.toLowerCase()) : members;
      groups.set(name, [...(groups.get(name) ?? []), ...norm]);
    } else if (t.text === 'ASG') {
      const [name] = p.args('ASG name') as [string];
      if (acf.asgs.has(name)) p.fail(`ASG(${name}) is defined twice`, t.line);
      acf.asgs.set(name, parseAsgBody(p, refs));
    } else p.fail(`expected UAG, HAG or ASG, found '${t.text}'`, t.line);
  }
  for (const r of refs) {
    if (!(r.kind === 'UAG' ? acf.uags : acf.hags).has(r.name))
      throw new AccessConfigError(source, r.line, `${r.kind}(${r.name}) is not defined`);
  }
  return acf;
}

function parseAsgBody(p: Parser, refs: { kind: 'UAG' | 'HAG'; name: string; line: number }[]): AcfRule[] {
  const rules: AcfRule[] = [];
  if (!p.isPunct('{')) return rules; // ASG(NAME) with no body: no rules
  p.punct('{');
  while (!p.isPunct('}')) {
    const t = p.next('RULE');
    if (/^INP[A-U]$/.test(t.text))
      p.fail(`${t.text} links to a PV, which Sluice servers do not support (no CALC conditions either)`, t.line);
    if (t.text !== 'RULE') p.fail(`expected RULE, found '${t.text}'`, t.line);
    const args = p.args('RULE arguments');
    const [levelText, grant, trap] = args;
    if (args.length < 2 || args.length > 3) p.fail('RULE takes (level, NONE|READ|WRITE|PUT|RPC[, TRAPWRITE|NOTRAPWRITE])', t.line);
    if (!/^\d+$/.test(levelText as string)) p.fail(`RULE level must be a non-negative integer, not '${levelText}'`, t.line);
    if (!GRANTS.includes(grant as string)) p.fail(`RULE access must be one of ${GRANTS.join(', ')}, not '${grant}'`, t.line);
    if (trap !== undefined && trap !== 'TRAPWRITE' && trap !== 'NOTRAPWRITE')
      p.fail(`expected TRAPWRITE or NOTRAPWRITE, not '${trap}'`, t.line);
    const rule: AcfRule = {
      level: Number(levelText),
      grant: grant as Grant,
      trapWrite: trap === 'TRAPWRITE',
      uags: [],
      hags: [],
      line: t.line,
    };
    if (p.isPunct('{')) {
      p.punct('{');
      while (!p.isPunct('}')) {
        const c = p.next('UAG or HAG');
        if (c.text === 'CALC') p.fail('CALC conditions need INP links to PVs, which Sluice servers do not support', c.line);
        if (c.text !== 'UAG' && c.text !== 'HAG') p.fail(`expected UAG or HAG in RULE, found '${c.text}'`, c.line);
        const names = p.args(`${c.text} name`);
        for (const name of names) refs.push({ kind: c.text, name, line: c.line });
        (c.text === 'UAG' ? rule.uags : rule.hags).push(...names);
      }
      p.punct('}');
    }
    rules.push(rule);
  }
  p.punct('}');
  return rules;
}

function quote(name: string): string {
  return /^[A-Za-z0-9_\-+:.[\]<>;]+$/.test(name) ? name : `"${name.replace(/["\\]/g, '\\$&')}"`;
}

/** The ACF in a canonical layout: groups in file order, one rule per line, tabs for indents. */
export function formatAcf(acf: Acf): string {
  const lines: string[] = [];
  for (const [name, users] of acf.uags) lines.push(`UAG(${quote(name)}) {${users.map(quote).join(', ')}}`);
  for (const [name, hosts] of acf.hags) lines.push(`HAG(${quote(name)}) {${hosts.map(quote).join(', ')}}`);
  for (const [name, rules] of acf.asgs) {
    lines.push(`ASG(${quote(name)}) {`);
    for (const r of rules) {
      const head = `\tRULE(${r.level}, ${r.grant}${r.trapWrite ? ', TRAPWRITE' : ''})`;
      if (r.uags.length === 0 && r.hags.length === 0) {
        lines.push(head);
        continue;
      }
      lines.push(`${head} {`);
      if (r.uags.length) lines.push(`\t\tUAG(${r.uags.map(quote).join(', ')})`);
      if (r.hags.length) lines.push(`\t\tHAG(${r.hags.map(quote).join(', ')})`);
      lines.push('\t}');
    }
    lines.push('}');
  }
  return lines.join('\n') + '\n';
}
