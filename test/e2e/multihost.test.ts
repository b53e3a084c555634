// Three hosts on one Ethernet segment (network namespaces on a bridge, see helpers/netns.ts): a
// `sluice sim` on host A, and on hosts B and C one `sluice consumer` each, in one distributor
// group. The consumers find the simulator by broadcast and unicast UDP search, and then by
// EPICS_PVA_NAME_SERVERS alone. Every host has its own ports, so the EPICS defaults
// (TCP 5075, UDP 5076) are used, as on real machines. Runs as root with iproute2 (CI does);
// skipped elsewhere with the reason.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { consumerArgs, simArgs } from '../helpers/cli-args.js';
import { CLI } from '../helpers/cli.js';
import { makeLab, netnsUnavailable, type NetHost } from '../helpers/netns.js';
import { recordArgs, recordedIds as ids } from '../helpers/record-ids.js';

const unavailable = await netnsUnavailable();
const T = { timeout: 60_000, skip: unavailable ?? false };

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EPICS_')) env[k] = v;
  return env;
}

class Proc {
  out = '';
  err = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => (this.out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.err += c.toString()));
    this.exited = new Promise((r) => child.on('close', (code) => r(code)));
  }
}

function sluice(host: NetHost, args: string[], env: NodeJS.ProcessEnv): Proc {
  return new Proc(host.spawn(process.execPath, [CLI, ...args], env));
}

async function splitAcrossHosts(t: TestContext, clientEnv: (sim: NetHost, id: number) => NodeJS.ProcessEnv): Promise<void> {
  const lab = await makeLab(3);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-multihost-'));
  t.after(async () => {
    await lab.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  const [a, b, c] = lab.hosts as [NetHost, NetHost, NetHost];
  const consumer = (host: NetHost, id: number) =>
    sluice(
      host,
      consumerArgs(
        { input: 'pvapy:image', id, distributorUpdates: 1, distributorTrigger: 'uniqueId', runtime: 10, disableCurses: true },
        ...recordArgs(join(dir, `ids-${id}`)),
      ),
      clientEnv(a, id),
    );
  const c1 = consumer(b, 1);
  const c2 = consumer(c, 2);
  const sim = sluice(
    a,
    simArgs({ channel: 'pvapy:image', nx: 32, ny: 32, fps: 20, runtime: 1, startDelay: 0.3, waitClients: 2, shutdownDelay: 1 }),
    baseEnv(),
  );
  assert.equal(await sim.exited, 0, `sim: ${sim.err}\nconsumer 1: ${c1.err}\nconsumer 2: ${c2.err}`);
  assert.equal(await c1.exited, 0, c1.err);
  assert.equal(await c2.exited, 0, c2.err);
  const frames = Array.from({ length: 20 }, (_, i) => i + 1);
  const got = [ids(join(dir, 'ids-1')), ids(join(dir, 'ids-2'))].sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0));
  // One update each in turn: one host got the odd frames, the other the even ones.
  assert.deepEqual(got, [frames.filter((i) => i % 2 === 1), frames.filter((i) => i % 2 === 0)]);
}

test('sim on host A, consumers on B and C in one distributor group, found by broadcast and by unicast search', T, async (t) => {
  // B searches the segment's broadcast address; C sends unicast searches to A's address, which
  // A's server fans out to the servers of its host through 224.0.0.128 on loopback.
  await splitAcrossHosts(t, (sim, id) =>
    id === 1
      ? { ...baseEnv(), EPICS_PVA_AUTO_ADDR_LIST: 'YES' }
      : { ...baseEnv(), EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: sim.address },
  );
});

test('the same, found through EPICS_PVA_NAME_SERVERS only (no UDP search)', T, async (t) => {
  await splitAcrossHosts(t, (sim) => ({
    ...baseEnv(),
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVA_NAME_SERVERS: `${sim.address}:5075`,
  }));
});
