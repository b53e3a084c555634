// A thin layer over node:util parseArgs: each command declares its options once (short and
// long names, value placeholder, help text, default) and gets parsing, --help text and the
// Markdown option table of docs/cli.md from that single definition.
import { parseArgs } from 'node:util';
import { SluiceError } from '../errors.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /**
   * One letter, used as `-x`; or several, as PvaPy's argparse options have (`-fps`, `-cn`): a
   * multi-letter short option matches only as a whole word (`-fps 10`, `-fps=10`), never as a
   * cluster of one-letter options.
   */
  readonly short?: string;
  readonly multiple?: boolean;
  /** Placeholder shown in help for the option's value, e.g. `SEC`. */
  readonly value?: string;
  readonly description: string;
  /** Applied when the option is absent, and shown in help. */
  readonly default?: string | boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  /** One line, shown by `sluice --help`. */
  readonly summary: string;
  /** Usage lines without the leading `sluice <name>`. */
  readonly usage: readonly string[];
  /** Paragraphs shown after the usage. */
  readonly description?: string;
  readonly options: O;
  readonly minPositionals?: number;
  readonly maxPositionals?: number;
  readonly examples?: readonly string[];
}

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? S['multiple'] extends true
    ? boolean[]
    : boolean
  : S['multiple'] extends true
    ? string[]
    : string;

export type OptionValues<O extends OptionSpecs> = { [K in keyof O]?: ValueOf<O[K]> };

export interface ParsedArgs<O extends OptionSpecs> {
  values: OptionValues<O> & { help?: boolean };
  positionals: string[];
}

/** Bad command-line usage: main prints the message and a hint, and exits with status 2. */
export class UsageError extends SluiceError {
  constructor(message: string) {
    super('ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

/** Every command understands -h/--help; it is added here so no command can forget it. */
const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help and exit.' };

export function defineCommand<O extends OptionSpecs>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

// Negative numbers are values, not options (`sluice put X -5`): pvput gets this from
// POSIXLY_CORRECT getopt; here they are swapped for placeholders around parseArgs.
const NEGATIVE_NUMBER = /^-(\d|\.\d|inf|nan)/i;
const PLACEHOLDER = '\u0000arg';

export function parseCommandArgs<O extends OptionSpecs>(spec: CommandSpec<O>, argv: readonly string[]): ParsedArgs<O> {
  const hidden: string[] = [];
  const args = expandLongShorts(spec, argv).map((a) => {
    if (!NEGATIVE_NUMBER.test(a)) return a;
    hidden.push(a);
    return `${PLACEHOLDER}${hidden.length - 1}`;
  });
  const restore = (s: string): string => (s.startsWith(PLACEHOLDER) ? (hidden[Number(s.slice(PLACEHOLDER.length))] as string) : s);

  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = { help: toParseArgs(HELP_OPTION) };
  for (const [name, o] of Object.entries(spec.options)) options[name] = toParseArgs(o);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    // parseArgs errors are already good sentences ("Unknown option '--x'"), minus the jargon.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, '.'));
  }
  const values: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(parsed.values)) {
    values[name] = typeof v === 'string' ? restore(v) : Array.isArray(v) ? v.map((e) => (typeof e === 'string' ? restore(e) : e)) : v;
  }
  for (const [name, o] of Object.entries(spec.options)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  const positionals = parsed.positionals.map(restore);
  if (!values['help'] && values['version'] !== true) {
    const min = spec.minPositionals ?? 0;
    if (positionals.length < min) throw new UsageError(`missing arguments (usage: sluice ${spec.name} ${spec.usage[0]})`);
    if (spec.maxPositionals !== undefined && positionals.length > spec.maxPositionals) {
      throw new UsageError(`unexpected argument '${positionals[spec.maxPositionals]}'`);
    }
  }
  return { values: values as ParsedArgs<O>['values'], positionals };
}

/**
 * parseArgs knows one-letter short options only: multi-letter ones (`-fps 10`, `-cn=X`) become
 * their long form here. Only whole words before a `--` are rewritten, so values are left alone.
 */
function expandLongShorts(spec: CommandSpec, argv: readonly string[]): readonly string[] {
  const longOf = new Map<string, string>();
  for (const [name, o] of Object.entries(spec.options)) if (o.short && o.short.length > 1) longOf.set(o.short, name);
  if (longOf.size === 0) return argv;
  const end = argv.indexOf('--');
  return argv.map((a, i) => {
    if ((end >= 0 && i > end) || !a.startsWith('-') || a.startsWith('--')) return a;
    const eq = a.indexOf('=');
    const name = longOf.get(eq > 0 ? a.slice(1, eq) : a.slice(1));
    return name === undefined ? a : `--${name}${eq > 0 ? a.slice(eq) : ''}`;
  });
}

function toParseArgs(o: OptionSpec): { type: 'string' | 'boolean'; short?: string; multiple?: boolean } {
  const out: { type: 'string' | 'boolean'; short?: string; multiple?: boolean } = { type: o.type };
  if (o.short?.length === 1) out.short = o.short;
  if (o.multiple) out.multiple = true;
  return out;
}

function optionLabel(name: string, o: OptionSpec): string {
  const long = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

function optionText(o: OptionSpec): string {
  if (o.default === undefined || o.type !== 'string') return o.description;
  return `${o.description.replace(/\.$/, '')} (default: ${o.default}).`;
}

function allOptions(spec: CommandSpec): [string, OptionSpec][] {
  return [...Object.entries(spec.options), ['help', HELP_OPTION]];
}

/** The text of `sluice <command> --help`. */
export function helpText(spec: CommandSpec): string {
  const lines = spec.usage.map((u, i) => `${i === 0 ? 'Usage: ' : '       '}sluice ${spec.name} ${u}`.trimEnd());
  lines.push('', spec.summary);
  if (spec.description) lines.push('', ...wrap(spec.description, 80));
  lines.push('', 'Options:');
  const opts = allOptions(spec);
  const width = Math.max(...opts.map(([n, o]) => optionLabel(n, o).length)) + 2;
  for (const [name, o] of opts) lines.push(`  ${optionLabel(name, o).padEnd(width)}${optionText(o)}`);
  if (spec.examples?.length) {
    lines.push('', 'Examples:');
    for (const e of spec.examples) lines.push(`  ${e}`);
  }
  return lines.join('\n') + '\n';
}

/** Break a paragraph into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    if (cur && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  return lines;
}

/** The reference section of docs/cli.md for one command (a test checks the file contains it). */
export function markdownReference(spec: CommandSpec): string {
  // Prose may mention <placeholders>: escape them so Markdown does not read them as HTML.
  const text = (s: string) => s.replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const out = [`### sluice ${spec.name}`, '', text(spec.summary), '', '```'];
  for (const u of spec.usage) out.push(`sluice ${spec.name} ${u}`.trimEnd());
  out.push('```', '');
  if (spec.description) out.push(text(spec.description), '');
  out.push('| Option | Description |', '| --- | --- |');
  for (const [name, o] of allOptions(spec)) {
    out.push(`| \`${optionLabel(name, o).trim()}\` | ${text(optionText(o)).replace(/\|/g, '\\|')} |`);
  }
  if (spec.examples?.length) {
    out.push('', 'Examples:', '', '```');
    out.push(...spec.examples);
    out.push('```');
  }
  return out.join('\n') + '\n';
}
