// Servers say where they are really bound: with EPICS_PVAS_INTF_ADDR_LIST=127.0.0.1 (and no
// --host) their first line names 127.0.0.1, not the wildcard 0.0.0.0 they do not listen on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';

function envFor(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EPICS_')) env[k] = v;
  return Object.assign(env, {
    EPICS_PVAS_INTF_ADDR_LIST: '127.0.0.1',
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
    EPICS_PVAS_BROADCAST_PORT: '0',
  });
}

const cases: [string, string[], RegExp][] = [
  ['sim', ['sim', '--port', '0', '-rt', '0', '-std', '0', '-shd', '0'], /^serving pvapy:image on (\S+):(\d+)$/],
  ['mirror', ['mirror', '--port', '0', '-cm', '(bound:mirror,bound:source)'], /^serving mirror channels on (\S+):(\d+)$/],
  ['mailbox', ['mailbox', '--port', '0', 'bound:x=1'], /^listening on (\S+):(\d+)$/],
];

for (const [name, args, re] of cases) {
  test(`${name} bound through EPICS_PVAS_INTF_ADDR_LIST prints the address it listens on`, { timeout: 30_000 }, async (t) => {
    const p = startCli(t, args, envFor(), 15_000);
    const m = await p.line(re);
    assert.equal(m[1], '127.0.0.1');
    assert.ok(Number(m[2]) > 0);
    p.kill('SIGINT');
    await p.exited;
  });
}
