// Finding, importing and instantiating a user processor (--processor-file, --processor-class,
// --processor-args), with one ERR_PROCESSOR message per way it can go wrong, each naming the file
// or module and the class: a processor that fails to load is the most common user error, and the
// raw Node errors (no line for syntax errors, "Cannot read properties of undefined") do not say
// what to fix.
import { readFile, stat } from 'node:fs/promises';
import { register } from 'node:module';
import { dirname, extname, isAbsolute, join, resolve as resolvePath, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SluiceError } from '../errors.js';
import type { UserProcessor } from './processor-adapter.js';
import { BUILTIN_PROCESSORS, builtinProcessor, PVAPY_PROCESSOR_PATHS } from './builtin/registry.js';
import { resolveFromSpecifier, transpile, type HooksData } from './ts-loader-hooks.js';
import { UserDataProcessor, type ProcessorConfig } from './user-data-processor.js';

export interface LoadProcessorOptions {
  /** --processor-file: a .ts, .mts, .js, .mjs or .cjs file (relative to cwd). */
  file?: string;
  /**
   * --processor-class: with a file, the export to use (default: the default export, or the only
   * exported class). Without a file: `module:ClassName` (a package specifier or a ./relative
   * path, resolved from cwd), the name of a built-in processor (`AdImageProcessor`), or PvaPy's
   * class path of it (`pvapy.hpc.adImageProcessor.AdImageProcessor`): see builtin/registry.ts.
   */
  className?: string;
  /** --processor-args: an object, or its JSON text. */
  args?: Record<string, unknown> | string | null;
  /** The framework's keys (processorId, inputChannel…): they override args of the same name. */
  system?: ProcessorConfig;
  /** Where relative paths and package names are resolved from (default process.cwd()). */
  cwd?: string;
}

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.cjs'];

type Constructor = new (config: ProcessorConfig) => unknown;
type Namespace = Record<string, unknown>;

function fail(message: string, cause?: unknown): SluiceError {
  return new SluiceError('ERR_PROCESSOR', message, cause === undefined ? undefined : { cause });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

let hooksRegistered = false;

/** Install the module hooks once per process: .ts loading and the `sluice` (and `sluice/internal`) fallback. */
export function registerProcessorHooks(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  const entry = (file: string): string => new URL(file, import.meta.url).href;
  const data: HooksData = { selfEntries: { sluice: entry('../index.js'), 'sluice/internal': entry('../internal.js') } };
  register(new URL('./ts-loader-hooks.js', import.meta.url), { parentURL: import.meta.url, data });
}

/** --processor-args as an object; JSON text must hold an object. */
export function parseProcessorArgs(args: LoadProcessorOptions['args']): Record<string, unknown> {
  if (args === undefined || args === null || args === '') return {};
  let value: unknown = args;
  if (typeof args === 'string') {
    try {
      value = JSON.parse(args);
    } catch (e) {
      throw fail(`processor args are not valid JSON (${messageOf(e)}): ${args}`, e);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail(`processor args must be a JSON object, got ${JSON.stringify(value)}`);
  }
  return { ...(value as Record<string, unknown>) };
}

/** Processor args, then the system keys on top (PvaPy order); undefined system keys do not erase args. */
export function processorConfig(args: LoadProcessorOptions['args'], system: ProcessorConfig = {}): ProcessorConfig {
  const config: ProcessorConfig = parseProcessorArgs(args);
  for (const [k, v] of Object.entries(system)) if (v !== undefined) config[k] = v;
  return config;
}

/**
 * Create the processor the options describe (the passthrough UserDataProcessor when they name
 * none). It is returned as constructed: the host wraps one that does not extend UserDataProcessor
 * (see processor-adapter.ts), and gives every processor its logger and the rest through start(ctx).
 */
export async function loadProcessor(opts: LoadProcessorOptions): Promise<UserProcessor> {
  const cwd = opts.cwd ?? process.cwd();
  const config = processorConfig(opts.args, opts.system);
  const className = opts.className?.trim() || undefined;
  let source: { what: string; ns: Namespace; className: string | undefined };
  if (opts.file) {
    source = { what: `processor file '${opts.file}'`, ns: await importFile(opts.file, cwd), className };
  } else if (className) {
    source = await importSpecifier(className, cwd);
  } else {
    return new UserDataProcessor(config);
  }
  const [name, ctor] = pickExport(source.ns, source.className, source.what);
  let instance: unknown;
  try {
    instance = new ctor(config);
  } catch (e) {
    throw fail(`constructing '${name}' from ${source.what} failed: ${messageOf(e)}`, e);
  }
  if (typeof instance !== 'object' || instance === null || typeof (instance as { process?: unknown }).process !== 'function') {
    throw fail(`'${name}' from ${source.what} has no process() method`);
  }
  return instance as UserProcessor;
}

async function importFile(file: string, cwd: string): Promise<Namespace> {
  const path = resolvePath(cwd, file);
  const what = `processor file '${file}'`;
  const info = await stat(path).catch(() => null);
  if (!info) throw fail(`${what} not found (looked for ${path})`);
  if (!info.isFile()) throw fail(`${what} is not a file`);
  if (!EXTENSIONS.includes(extname(path))) {
    throw fail(`${what} has an unsupported extension (use ${EXTENSIONS.join(', ')})`);
  }
  // The hooks cost a loader thread (a quarter of a second at start): JavaScript from where Node
  // itself finds `sluice` loads without them.
  const hooks = !/\.[cm]?js$/.test(path) || !(await sluiceResolvesFrom(path));
  return importUrl(pathToFileURL(path).href, what, path, hooks);
}

/**
 * Whether Node resolves `sluice` from the file at `path` by itself: a node_modules/sluice in a
 * folder above it, or the file is in Sluice's own package (which imports itself by name).
 */
export async function sluiceResolvesFrom(path: string): Promise<boolean> {
  let nearestPackage: string | undefined;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (await stat(join(dir, 'node_modules', 'sluice', 'package.json')).catch(() => null)) return true;
    if (nearestPackage === undefined) {
      const text = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
      if (text !== undefined) {
        nearestPackage = text;
        try {
          const pkg = JSON.parse(text) as { name?: unknown; exports?: unknown };
          if (pkg.name === 'sluice' && pkg.exports !== undefined) return true;
        } catch {
          // not JSON: Node will say so if it matters
        }
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/** PvaPy's class path of a processor it ships, e.g. pvapy.hpc.adImageProcessor.AdImageProcessor. */
const PVAPY_CLASS_PATH = /^pvapy\.hpc\.[A-Za-z_]\w*\.[A-Za-z_]\w*$/;
/** A Python class path (package.module.Class), which PvaPy takes for --processor-class. */
const PYTHON_CLASS_PATH = /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\.[A-Z]\w*$/;

/** `module:ClassName`, `module` (default export), a built-in processor's name or its PvaPy class path. */
async function importSpecifier(spec: string, cwd: string): Promise<{ what: string; ns: Namespace; className: string | undefined }> {
  if (PVAPY_CLASS_PATH.test(spec)) return pvapyBuiltin(spec);
  const m = /^(.+):([A-Za-z_$][\w$]*)$/.exec(spec);
  const moduleSpec = m ? m[1]! : spec;
  const className = m ? m[2] : undefined;
  const pathLike = moduleSpec.startsWith('.') || isAbsolute(moduleSpec);
  if (pathLike) return { what: `processor file '${moduleSpec}'`, ns: await importFile(moduleSpec, cwd), className };
  if (!m && /^[A-Za-z_$][\w$]*$/.test(spec)) return builtin(spec);
  const what = `processor module '${moduleSpec}'`;
  const base = pathToFileURL(cwd.endsWith(sep) ? cwd : cwd + sep).href;
  try {
    return { what, ns: await importUrl(resolveFromSpecifier(moduleSpec, base), what), className };
  } catch (e) {
    if (m || !PYTHON_CLASS_PATH.test(spec)) throw e;
    throw fail(
      `'${spec}' looks like a Python class path, and Sluice loads TypeScript or JavaScript: port the class and give ` +
        `its file with --processor-file and its name with --processor-class (${messageOf(e)})`,
      e,
    );
  }
}

/** pvapy.hpc.<module>.<Class> → Sluice's built-in processor of that name. */
function pvapyBuiltin(spec: string): { what: string; ns: Namespace; className: string } {
  if (Object.hasOwn(PVAPY_PROCESSOR_PATHS, spec)) return builtin(spec);
  const paths = Object.keys(PVAPY_PROCESSOR_PATHS);
  throw fail(`'${spec}' is not one of the PvaPy processors Sluice has built in (${paths.join(', ')})`);
}

/** A processor of Sluice's registry, e.g. `--processor-class AdImageProcessor`. */
function builtin(nameOrPath: string): { what: string; ns: Namespace; className: string } {
  const found = builtinProcessor(nameOrPath);
  if (!found) {
    const names = Object.keys(BUILTIN_PROCESSORS);
    throw fail(
      `'${nameOrPath}' is not a built-in processor (built-in: ${names.join(', ')}); ` +
        `give a file with --processor-file, or a module as 'package/path:${nameOrPath}' or './file.js:${nameOrPath}'`,
    );
  }
  return { what: 'sluice', ns: { [found.name]: found.ctor }, className: found.name };
}

async function importUrl(url: string, what: string, path?: string, hooks = true): Promise<Namespace> {
  if (hooks) registerProcessorHooks();
  try {
    return (await import(url)) as Namespace;
  } catch (e) {
    throw await importError(e, what, path);
  }
}

async function importError(e: unknown, what: string, path: string | undefined): Promise<SluiceError> {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ERR_SLUICE_TRANSPILE') return fail(`${what} does not compile: ${shortPath(messageOf(e), path, what)}`, e);
  if (!path && (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED')) {
    return fail(`${what} cannot be resolved: ${messageOf(e)}`, e);
  }
  if (e instanceof SyntaxError) {
    // V8 keeps the position of a module's syntax error to itself; parse the file to find it.
    if (path && /\.[cm]?js$/.test(path)) {
      try {
        await transpile(await readFile(path, 'utf8'), path);
      } catch (located) {
        if ((located as { code?: unknown }).code === 'ERR_SLUICE_TRANSPILE') {
          return fail(`${what} has a syntax error: ${shortPath(messageOf(located), path, what)} (${messageOf(e)})`, e);
        }
      }
    }
    return fail(`${what} has a syntax error (in it or in a module it imports): ${messageOf(e)}`, e);
  }
  return fail(`${what} failed to load: ${messageOf(e)}`, e);
}

/** Start a located message with the file as the user gave it rather than its absolute path. */
function shortPath(message: string, path: string | undefined, what: string): string {
  const given = /'(.*)'$/.exec(what)?.[1];
  return path && given && message.startsWith(`${path}:`) ? given + message.slice(path.length) : message;
}

function isConstructor(v: unknown): v is Constructor {
  if (typeof v !== 'function') return false;
  try {
    // Asks for [[Construct]] without running v: arrows, methods and async functions have none.
    Reflect.construct(String, [], v);
    return true;
  } catch {
    return false;
  }
}

function exportNames(ns: Namespace): string[] {
  return Object.keys(ns).filter((k) => k !== 'module.exports');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'function') return 'a function that cannot be called with new';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function pickExport(ns: Namespace, className: string | undefined, what: string): [string, Constructor] {
  const names = exportNames(ns);
  const listed = names.length ? `it exports: ${names.join(', ')}` : 'it exports nothing';
  let name: string;
  let value: unknown;
  if (className) {
    const dflt = ns['default'];
    if (names.includes(className)) {
      [name, value] = [className, ns[className]];
    } else if (typeof dflt === 'function' && dflt.name === className) {
      [name, value] = [className, dflt];
    } else {
      throw fail(`${what} does not export '${className}' (${listed})`);
    }
  } else if (ns['default'] !== undefined) {
    [name, value] = ['default', ns['default']];
  } else {
    const classes = names.filter((k) => isConstructor(ns[k]));
    if (classes.length !== 1) {
      throw fail(
        classes.length === 0
          ? `${what} exports no class (${listed})`
          : `${what} exports several classes (${classes.join(', ')}): name one with --processor-class`,
      );
    }
    name = classes[0]!;
    value = ns[name];
  }
  if (!isConstructor(value)) throw fail(`'${name}' exported by ${what} is not a class (it is ${describe(value)})`);
  return [name, value];
}
