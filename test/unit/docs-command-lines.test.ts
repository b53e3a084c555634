// Command lines of the streaming commands shown in README.md and docs/ parse with the options the
// commands really have: a documented option that does not exist (`demo --frames`) fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs, type CommandSpec } from '../../src/cli/args.js';
import * as collector from '../../src/cli/commands/collector.js';
import * as consumer from '../../src/cli/commands/consumer.js';
import * as demo from '../../src/cli/commands/demo.js';
import * as host from '../../src/cli/commands/host.js';
import * as mirror from '../../src/cli/commands/mirror.js';
import * as sim from '../../src/cli/commands/sim.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const specs: Record<string, CommandSpec> = {
  sim: sim.spec,
  demo: demo.spec,
  consumer: consumer.spec,
  collector: collector.spec,
  mirror: mirror.spec,
  host: host.spec,
};

/** Shell words of a command line: quotes removed, a trailing `&` or comment dropped. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(#.*$)|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[3] !== undefined) break;
    out.push(m[1] ?? m[2] ?? (m[4] as string));
  }
  if (out.at(-1) === '&') out.pop();
  return out;
}

/** `sluice <command> ...` lines inside code blocks, continuation lines joined. */
function commandLines(text: string): string[] {
  const lines: string[] = [];
  let inCode = false;
  let pending = '';
  for (const raw of text.split('\n')) {
    if (raw.startsWith('```')) {
      inCode = !inCode;
      continue;
    }
    if (!inCode) continue;
    const line = pending + raw.trim();
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1) + ' ';
      continue;
    }
    pending = '';
    const m = /^(?:\$ )?(?:npx )?sluice (\w+)(?:\s|$)/.exec(line);
    const synopsis = line.includes('[options]'); // the usage lines of the command reference
    if (m && specs[m[1] as string] && !synopsis) lines.push(line.replace(/^(?:\$ )?(?:npx )?/, ''));
  }
  return lines;
}

test('every documented sim, demo, consumer, collector and mirror command line parses', () => {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  let checked = 0;
  const bad: string[] = [];
  for (const file of files) {
    for (const line of commandLines(readFileSync(join(root, file), 'utf8'))) {
      const [, command, ...argv] = words(line);
      try {
        parseCommandArgs(specs[command as string] as CommandSpec, argv);
      } catch (err) {
        bad.push(`${file}: ${line}: ${(err as Error).message}`);
      }
      checked++;
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(checked > 10, `only ${checked} command lines found`);
});
