// Module hooks (node:module register()) that let user processors be written in TypeScript and
// loaded without a build step on Node 20, which cannot run .ts files by itself. They run on
// Node's loader thread and change nothing for other modules:
//   load:    .ts/.mts files are transpiled with ts.transpileModule (ESM, ES2022, syntax only:
//            no type checking, so loading stays fast and type errors do not stop a processor).
//   resolve: inside a .ts file, `./x.js` falls back to `./x.ts` (the TypeScript convention of
//            writing the emitted name); the bare specifiers `sluice` and `sluice/internal` fall
//            back to the running Sluice when the user's file is outside any package that has it
//            installed; and the loader's private `sluice-resolve-from:` form resolves a
//            specifier as if imported from another place (the current directory), which
//            import() itself cannot do.
import { readFile } from 'node:fs/promises';
import type { InitializeHook, LoadHook, ResolveHook } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Data passed to register(). */
export interface HooksData {
  /** URLs of Sluice's own entry modules by specifier (`sluice`, `sluice/internal`), for the fallback. */
  selfEntries: Readonly<Record<string, string>>;
}

/** Prefix of `sluice-resolve-from:<encoded parent URL>:<specifier>`; see resolveFromSpecifier(). */
export const RESOLVE_FROM_PREFIX = 'sluice-resolve-from:';

/** The specifier that makes the hooks resolve `specifier` relative to `parentURL`. */
export function resolveFromSpecifier(specifier: string, parentURL: string): string {
  return `${RESOLVE_FROM_PREFIX}${encodeURIComponent(parentURL)}:${specifier}`;
}

let selfEntries: Readonly<Record<string, string>> = {};

export const initialize: InitializeHook<HooksData> = (data) => {
  selfEntries = data.selfEntries;
};

const TS_FILE = /\.(ts|mts)$/;
const DECLARATION_FILE = /\.d\.(ts|mts)$/;

function pathPart(url: string): string {
  return url.replace(/[?#].*$/, '');
}

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
}

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  if (specifier.startsWith(RESOLVE_FROM_PREFIX)) {
    const rest = specifier.slice(RESOLVE_FROM_PREFIX.length);
    const colon = rest.indexOf(':');
    const parentURL = decodeURIComponent(rest.slice(0, colon));
    return resolve(rest.slice(colon + 1), { ...context, parentURL }, nextResolve);
  }
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    // Self-reference by package name only works from inside the package; a processor file kept
    // elsewhere gets the Sluice that is loading it (the same classes the framework uses).
    const self = Object.hasOwn(selfEntries, specifier) ? selfEntries[specifier] : undefined;
    if (self) return { url: self, format: 'module', shortCircuit: true };
    const parent = context.parentURL ? pathPart(context.parentURL) : '';
    const relative =
      specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/') || specifier.startsWith('file:');
    if (relative && TS_FILE.test(parent)) {
      const alt = specifier.endsWith('.js')
        ? `${specifier.slice(0, -3)}.ts`
        : specifier.endsWith('.mjs')
          ? `${specifier.slice(0, -4)}.mts`
          : null;
      if (alt) {
        try {
          return await nextResolve(alt, context);
        } catch {
          // fall through: report the specifier as the user wrote it
        }
      }
    }
    throw e;
  }
};

type TS = typeof import('typescript');
let tsModule: TS | null = null;

async function typescript(): Promise<TS> {
  // Loaded on first use: TypeScript is large and processors written in JavaScript do not need it.
  tsModule ??= ((await import('typescript')) as unknown as { default: TS }).default;
  return tsModule;
}

/** A syntax error with its place; the loader turns it into ERR_PROCESSOR. */
export class TranspileError extends SyntaxError {
  code = 'ERR_SLUICE_TRANSPILE';
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'SyntaxError';
  }
}

/** JavaScript for a TypeScript source, or a TranspileError naming file:line:column. */
export async function transpile(source: string, file: string): Promise<string> {
  const ts = await typescript();
  const out = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      // Stack traces map back to the .ts lines under --enable-source-maps.
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  const first = errors[0];
  if (first) {
    let line = 0;
    let column = 0;
    if (first.file && first.start !== undefined) {
      const lc = first.file.getLineAndCharacterOfPosition(first.start);
      line = lc.line + 1;
      column = lc.character + 1;
    }
    const text = ts.flattenDiagnosticMessageText(first.messageText, ' ');
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
    throw new TranspileError(`${file}:${line}:${column}: ${text}${more}`, file, line, column);
  }
  return out.outputText;
}

export const load: LoadHook = async (url, context, nextLoad) => {
  const path = pathPart(url);
  if (!url.startsWith('file:') || !TS_FILE.test(path) || DECLARATION_FILE.test(path)) return nextLoad(url, context);
  const file = fileURLToPath(path);
  const source = await transpile(await readFile(file, 'utf8'), file);
  // Always ESM, whatever the nearest package.json says: user processors are ESM modules.
  return { format: 'module', source, shortCircuit: true };
};
