// Sluice's own version, from its package.json: what `sluice --version` prints and what a server
// tells clients that ask (server-info). A file of its own so that printing it loads nothing else.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

/** The version in Sluice's package.json (found from this file in src/ and in dist/src/). */
export function sluiceVersion(): string {
  if (version !== undefined) return version;
  version = '0.0.0';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && pkg.version) return (version = pkg.version);
    } catch {
      // no package.json at this level: keep walking up
    }
    dir = dirname(dir);
  }
  return version;
}
