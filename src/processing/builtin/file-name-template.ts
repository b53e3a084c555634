// File-name templates in the syntax of Python's str.format(), which is what PvaPy's file-writing
// processors use (`{uniqueId:06}.{processorId}.tiff`), so that their configurations work here
// unchanged. A template is parsed and checked once, when it is configured: an unknown
// placeholder or a bad format spec is a configuration error, not an error per frame.
//
// Supported: literal text, `{{` and `}}`, `{name}` and `{name:spec}` with the format-spec
// mini-language [[fill]align][sign][#][0][width][,|_][.precision][type], types d n b o x X c f F
// e E g G % s. Not supported (refused with a message): positional fields (`{0}`, `{}`), attribute
// and index access (`{a.b}`, `{a[0]}`), conversions (`{a!r}`) and nested specs (`{a:{w}}`).
import { InvalidArgumentError } from '../../errors.js';

export type TemplateValue = number | bigint | string;

interface Spec {
  fill: string;
  align: '' | '<' | '>' | '=' | '^';
  /** The '0' flag without an explicit alignment (numbers: fill '0' after the sign; text: fill '0' on the right). */
  zero: boolean;
  sign: '' | '+' | '-' | ' ';
  alternate: boolean;
  width: number;
  grouping: '' | ',' | '_';
  precision: number | undefined;
  type: string;
}

type Part = string | { name: string; spec: Spec; text: string };

// [[fill]align][sign][z][#][0][width][grouping][.precision][type]
const SPEC_RE = /^(?:([\s\S])?([<>=^]))?([+\- ])?(z)?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/;

function bad(template: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`file name format '${template}': ${why}`);
}

function parseSpec(template: string, name: string, text: string): Spec {
  const m = SPEC_RE.exec(text);
  if (!m) throw bad(template, `format spec '${text}' of '${name}' is not valid`);
  const zero = m[6] === '0';
  let fill = m[1] ?? '';
  let align = (m[2] ?? '') as Spec['align'];
  // Python: a leading 0 without an explicit alignment means fill '0', sign-aware ('=').
  if (zero && !align) {
    fill = '0';
    align = '=';
  }
  return {
    fill: fill || ' ',
    align,
    zero: zero && !m[2],
    sign: (m[3] ?? '') as Spec['sign'],
    alternate: m[5] === '#',
    width: m[7] ? Number(m[7]) : 0,
    grouping: (m[8] ?? '') as Spec['grouping'],
    precision: m[9] !== undefined ? Number(m[9]) : undefined,
    type: m[10] ?? '',
  };
}

function group(digits: string, sep: string, every: number): string {
  if (!sep) return digits;
  let out = '';
  for (let i = digits.length; i > 0; i -= every) out = digits.slice(Math.max(0, i - every), i) + (out ? sep + out : '');
  return out;
}

function pad(body: string, prefix: string, spec: Spec, defaultAlign: '<' | '>'): string {
  const len = prefix.length + body.length;
  const n = Math.max(0, spec.width - len);
  if (n === 0) return prefix + body;
  const fill = spec.fill.repeat(n);
  switch (spec.align || defaultAlign) {
    case '<':
      return prefix + body + fill;
    case '=':
      return prefix + fill + body;
    case '^': {
      const left = Math.floor(n / 2);
      return spec.fill.repeat(left) + prefix + body + spec.fill.repeat(n - left);
    }
    default:
      return fill + prefix + body;
  }
}

function formatNumber(v: number | bigint, spec: Spec, what: () => string): string {
  const type = spec.type || (typeof v === 'bigint' || Number.isInteger(v) ? 'd' : 'g');
  let negative: boolean;
  let body: string;
  let prefix = '';
  if ('dnboxXc'.includes(type)) {
    if (typeof v === 'number' && !Number.isInteger(v))
      throw new InvalidArgumentError(`${what()}: format '${type}' needs an integer, got ${v}`);
    if (spec.precision !== undefined) throw new InvalidArgumentError(`${what()}: precision is not allowed with format '${type}'`);
    const big = BigInt(v);
    negative = big < 0n;
    const abs = negative ? -big : big;
    if (type === 'c') return pad(String.fromCodePoint(Number(big)), '', spec, '<');
    const radix = type === 'b' ? 2 : type === 'o' ? 8 : type === 'x' || type === 'X' ? 16 : 10;
    body = abs.toString(radix);
    if (type === 'X') body = body.toUpperCase();
    if (spec.alternate && radix !== 10) prefix = radix === 2 ? '0b' : radix === 8 ? '0o' : type === 'X' ? '0X' : '0x';
    body = group(body, spec.grouping, radix === 10 ? 3 : 4);
  } else {
    const x = Number(v);
    negative = x < 0 || Object.is(x, -0);
    const abs = Math.abs(x);
    const p = spec.precision ?? 6;
    if (!Number.isFinite(abs)) body = Number.isNaN(abs) ? 'nan' : 'inf';
    else if (type === 'f' || type === 'F') body = abs.toFixed(p);
    else if (type === '%') body = (abs * 100).toFixed(p) + '%';
    else if (type === 'e' || type === 'E') body = abs.toExponential(p).replace(/e([+-])(\d)$/, 'e$10$2');
    else body = String(Number(abs.toPrecision(Math.max(1, p)))); // g, G: close enough for names
    if (type === 'E' || type === 'F' || type === 'G') body = body.toUpperCase();
    if (spec.grouping) {
      const [int = '', frac] = body.split('.');
      body = group(int, spec.grouping, 3) + (frac !== undefined ? '.' + frac : '');
    }
  }
  const sign = negative ? '-' : spec.sign === '+' ? '+' : spec.sign === ' ' ? ' ' : '';
  return pad(body, sign + prefix, spec, '>');
}

function formatValue(v: TemplateValue, spec: Spec, what: () => string): string {
  if (typeof v === 'string') {
    if (spec.type && spec.type !== 's') throw new InvalidArgumentError(`${what()}: format '${spec.type}' needs a number`);
    if (spec.sign || spec.alternate || spec.grouping || (spec.align === '=' && !spec.zero)) {
      throw new InvalidArgumentError(`${what()}: sign, '#', grouping and '=' are not allowed for text`);
    }
    const body = spec.precision !== undefined ? v.slice(0, spec.precision) : v;
    return pad(body, '', spec.zero ? { ...spec, align: '<' } : spec, '<');
  }
  if (spec.type === 's') throw new InvalidArgumentError(`${what()}: format 's' needs text, got a number`);
  return formatNumber(v, spec, what);
}

/**
 * A parsed file-name template. `names` are the placeholders a caller will supply; the template
 * may use any of them, in any order, any number of times.
 */
export class FileNameTemplate {
  readonly template: string;
  readonly names: readonly string[];
  /** Placeholders the template uses, in order of first use. */
  readonly used: readonly string[];
  readonly #parts: Part[];

  /** `sample`: values like those format() will get, to check the specs now (default: 1 for every name). */
  constructor(template: string, names: readonly string[], sample?: Readonly<Record<string, TemplateValue>>) {
    if (typeof template !== 'string' || template === '') throw new InvalidArgumentError('the file name format must be a non-empty string');
    this.template = template;
    this.names = names;
    this.#parts = parse(template, names);
    const used: string[] = [];
    for (const p of this.#parts) if (typeof p !== 'string' && !used.includes(p.name)) used.push(p.name);
    this.used = used;
    // Format once with typical values, so that a spec that cannot apply (e.g. 's' for a number)
    // fails now rather than at the first frame.
    this.format(sample ?? Object.fromEntries(names.map((n) => [n, 1])));
  }

  /** The file name for these values (every placeholder the template uses must have one). */
  format(values: Readonly<Record<string, TemplateValue>>): string {
    let out = '';
    for (const p of this.#parts) {
      if (typeof p === 'string') {
        out += p;
        continue;
      }
      const v = values[p.name];
      if (v === undefined) throw new InvalidArgumentError(`file name format '${this.template}': no value for '${p.name}'`);
      out += formatValue(v, p.spec, () => `file name format '${this.template}', field {${p.text}}`);
    }
    return out;
  }
}

function parse(template: string, names: readonly string[]): Part[] {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if (ch === '}') {
      if (template[i + 1] !== '}') throw bad(template, `single '}' at position ${i} (write '}}' for a literal brace)`);
      literal += '}';
      i++;
      continue;
    }
    if (ch !== '{') {
      literal += ch;
      continue;
    }
    if (template[i + 1] === '{') {
      literal += '{';
      i++;
      continue;
    }
    const end = template.indexOf('}', i + 1);
    if (end < 0) throw bad(template, `'{' at position ${i} is not closed`);
    const text = template.slice(i + 1, end);
    if (text.includes('{')) throw bad(template, `nested fields ('{${text}}}') are not supported`);
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    if (field.includes('!')) throw bad(template, `conversions ('{${text}}') are not supported`);
    if (!/^[A-Za-z_]\w*$/.test(field)) {
      throw bad(
        template,
        field === '' || /^\d+$/.test(field)
          ? `positional fields ('{${text}}') are not supported: use names (${names.join(', ')})`
          : `'{${text}}' is not a placeholder name (attribute and index access are not supported)`,
      );
    }
    if (!names.includes(field)) throw bad(template, `unknown placeholder '${field}' (known: ${names.join(', ')})`);
    if (literal) parts.push(literal);
    literal = '';
    parts.push({ name: field, spec: parseSpec(template, field, colon < 0 ? '' : text.slice(colon + 1)), text });
    i = end;
  }
  if (literal) parts.push(literal);
  return parts;
}

/** Format `template` once (parse, check and format; use FileNameTemplate to format many times). */
export function formatFileName(template: string, values: Readonly<Record<string, TemplateValue>>): string {
  return new FileNameTemplate(template, Object.keys(values), values).format(values);
}
