// Headless Chromium for page tests: Debian's chromium package (installed by .ci/run), driven by
// playwright-core with no browser download. Where it is missing, tests skip and say why.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = [process.env['SLUICE_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The Chromium executable, or undefined when none is installed. */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));
}

export const SKIP_REASON = 'no Chromium (apt-get install chromium, or set SLUICE_CHROMIUM): the page tests need a real browser';

/** Launch headless Chromium, closed when the test ends. */
export async function launchBrowser(t: TestContext, executablePath: string): Promise<Browser> {
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  t.after(() => browser.close());
  return browser;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Where screenshots are kept as test artifacts (git-ignored). */
export function artifactPath(name: string): string {
  const dir = join(root, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** docs/img/NAME when SLUICE_DOC_IMAGES=1 asks to refresh the documentation's screenshots. */
export function docImagePath(name: string): string | undefined {
  return process.env['SLUICE_DOC_IMAGES'] === '1' ? join(root, 'docs', 'img', name) : undefined;
}
