// The dashboard's plain HTTP side: the page and its files (web/), uPlot from node_modules, and a
// small JSON API (settings, discovered servers). Only GET and HEAD; paths are resolved inside
// their directory and anything that leaves it is refused.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** The package's web/ directory (from dist/src/dashboard/ or src/dashboard/ alike: three or two up). */
export function defaultWebDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.split(sep).includes('dist') ? '../../../web' : '../../web';
  return normalize(join(here, up));
}

/** uPlot's dist/ directory, found the way Node resolves the package. */
export function uplotDir(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
  } catch {
    return null;
  }
}

export interface HttpRoutes {
  webDir: string;
  vendorDirs: Record<string, string | null>;
  api: Record<string, () => Promise<unknown> | unknown>;
}

export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

/** A file below `root` for a URL path (still %-encoded), or null when it would leave `root`. */
export function resolveInside(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '..' || p === '.')) return null;
  const full = normalize(join(root, ...parts));
  return full === root || full.startsWith(root.endsWith(sep) ? root : root + sep) ? full : null;
}

async function sendFile(req: IncomingMessage, res: ServerResponse, file: string | null): Promise<void> {
  if (!file) return sendText(res, 403, 'forbidden');
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) return sendText(res, 404, 'not found');
    size = st.size;
  } catch {
    return sendText(res, 404, 'not found');
  }
  const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  res.writeHead(200, { 'content-type': type, 'content-length': size, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** Answer one HTTP request. */
export async function route(req: IncomingMessage, res: ServerResponse, r: HttpRoutes): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendText(res, 405, 'method not allowed');
  }
  const path = (req.url ?? '/').split('?')[0] as string;
  if (path === '/' || path === '/index.html') return sendFile(req, res, join(r.webDir, 'index.html'));
  if (path.startsWith('/web/')) return sendFile(req, res, resolveInside(r.webDir, path.slice('/web/'.length)));
  const vendor = /^\/vendor\/([a-z0-9-]+)\/(.*)$/.exec(path);
  if (vendor) {
    const dir = r.vendorDirs[vendor[1] as string];
    if (!dir) return sendText(res, 404, 'not found');
    return sendFile(req, res, resolveInside(dir, vendor[2] as string));
  }
  if (path.startsWith('/api/')) {
    const handler = r.api[path.slice('/api/'.length)];
    if (!handler) return sendJSON(res, 404, { error: `no API ${path}` });
    try {
      return sendJSON(res, 200, await handler());
    } catch (err) {
      return sendJSON(res, 500, { error: (err as Error).message });
    }
  }
  return sendText(res, 404, 'not found');
}
