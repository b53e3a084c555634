// Where the reference captures of real EPICS traffic live. They are not part of the repository
// (one is 13 MB); tests that need them look in, in order:
//   $SLUICE_PVA_CAPTURES, <repo>/test/fixtures/pva-captures, <repo>/../shared/reference/pva-captures
// and skip (saying why) when none exists.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is compiled to dist/test/helpers/). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

export const CAPTURE_NAMES = [
  'pvacpp-get-put-monitor',
  'pvacpp-server-segmented',
  'pvxs-client-pipeline-segmented',
  'pvxs-server-ntndarray-monitor',
  'udp-search-beacon',
] as const;
export type CaptureName = (typeof CAPTURE_NAMES)[number];

export function capturesDir(): string | null {
  const candidates = [
    process.env['SLUICE_PVA_CAPTURES'],
    join(REPO_ROOT, 'test', 'fixtures', 'pva-captures'),
    join(REPO_ROOT, '..', 'shared', 'reference', 'pva-captures'),
  ];
  for (const c of candidates) {
    if (c && CAPTURE_NAMES.every((n) => existsSync(join(c, `${n}.pcap`)) && existsSync(join(c, `${n}.txt`)))) return c;
  }
  return null;
}

export const NO_CAPTURES = 'reference captures not found: set SLUICE_PVA_CAPTURES to the pva-captures directory (pcap + txt files)';
