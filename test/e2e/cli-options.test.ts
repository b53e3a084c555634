// The options of the EPICS client tools (pvAccessCPP's pvget, pvput, pvmonitor, pvinfo, pvcall,
// pvlist and PVXS's pvx* tools) and their output, on the real `sluice` CLI: renaming the command
// should change nothing. Servers are spawned mailboxes or in-process servers on port 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaServer } from '../../src/ca/server.js';
import { PvaServer } from '../../src/pva/server/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { freeUdpPort } from '../helpers/cli.js';
import { envFor, mailbox, run, start, type Cli } from '../helpers/cli-session.js';

const TEST_TIMEOUT = 30_000;
/** In-process servers: no beacons to the network. */
const QUIET_SERVER = { EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: '' };

test("pvget's options: -M raw|nt|json, -R, -F tree, -v alike; -t -i -n -q -c -F ignored; -V; -d", { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:ao=1.5');
  const plain = await run(t, ['get', 'TST:ao'], env);
  assert.equal(plain.code, 0, plain.err);
  const ignored = await run(t, ['get', '-t', '-i', '-n', '-q', '-c', '-F', '|', '-M', 'nt', 'TST:ao'], env);
  assert.equal(ignored.code, 0, ignored.err);
  assert.equal(ignored.out, plain.out);
  const raw = await run(t, ['get', '-v', 'TST:ao'], env);
  assert.match(raw.out, /^TST:ao epics:nt\/NTScalar:1\.0 \n/);
  for (const flags of [['-M', 'raw'], ['-R'], ['-F', 'tree'], ['-vv']]) {
    assert.equal((await run(t, ['get', ...flags, 'TST:ao'], env)).out, raw.out, flags.join(' '));
  }
  const json = await run(t, ['get', '-M', 'json', 'TST:ao'], env);
  const m = /^TST:ao (\{.*\})\n$/.exec(json.out);
  assert.ok(m, json.out);
  assert.equal((JSON.parse(m[1] as string) as PVStructure)['value'], 1.5);
  assert.match((await run(t, ['get', '-V'], env)).out, /^sluice \d+\.\d+\.\d+/);
  const monitoring = start(t, ['get', '-m', 'TST:ao'], env); // pvget -m is pvmonitor
  await monitoring.line(/^TST:ao \S+ \S+ {2}1\.5 $/);
  monitoring.kill('SIGINT');
  assert.equal(await monitoring.exited, 0, monitoring.stderr());
  const debug = await run(t, ['get', '-d', 'TST:ao'], env);
  assert.equal(debug.out, plain.out);
  assert.match(debug.err, /^debug: provider pva; .*EPICS_PVA_NAME_SERVERS=127\.0\.0\.1:\d+/m);
  assert.match(debug.err, /^debug: TST:ao: read from 127\.0\.0\.1:\d+$/m);
  for (const [args, message] of [
    [['get', '-M', 'xml', 'TST:ao'], /-M expects raw, nt or json, not 'xml'/],
    [['get', '-p', 'xyz', 'TST:ao'], /-p expects pva or ca, not 'xyz'/],
    [['get', '-#', 'many', 'TST:ao'], /-# expects a number of elements/],
    [['call', '-p', 'ca', 'TST:ao'], /-p expects pva, not 'ca'/],
  ] as [string[], RegExp][]) {
    const r = await run(t, args, env);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, message);
  }
});

test('numbers print as pvget prints them; arrays in full, -# limits them', { timeout: TEST_TIMEOUT }, async (t) => {
  const long = `[${Array.from({ length: 30 }, (_, i) => i).join(',')}]`;
  const { env } = await mailbox(
    t,
    'TST:d=123456789',
    'TST:small=0.00001',
    'TST:f:float=0.1',
    `TST:wf:int[]=${long}`,
    'TST:s:string[]=["a","b c"]',
  );
  const r = await run(t, ['get', 'TST:d', 'TST:small', 'TST:f', 'TST:wf', 'TST:s'], env);
  assert.equal(r.code, 0, r.err);
  const values = r.out
    .split('\n')
    .slice(0, -1)
    .map((l) => /^\S+ +\S+ \S+ {2}(.*)$/.exec(l)?.[1]);
  assert.deepEqual(values, ['1.23457e+08 ', '1e-05 ', '0.1 ', long, '[a, "b c"]']);
  const cut = await run(t, ['get', '-#', '3', 'TST:wf'], env);
  assert.match(cut.out, / \[0,1,2,\.\.\.\]\n$/);
  assert.match((await run(t, ['get', '-#', '0', 'TST:wf'], env)).out, /,29\]\n$/);
});

test(
  'monitor: -q takes no argument, -w does not stop it waiting for a PV, -v prints changed fields',
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false, env: QUIET_SERVER });
    const port = await server.listen();
    t.after(() => server.close());
    const env = envFor(port);
    // pvmonitor waits for PVs whatever -w says: the PV appears after -w has passed
    const late = start(t, ['monitor', '-q', '-w', '0.2', '--count', '1', 'TST:late'], env);
    await new Promise((resolve) => setTimeout(resolve, 600)); // longer than -w: the thing tested is a time-out
    assert.equal(late.child.exitCode, null, late.stderr());
    server.addPV('TST:late', SharedPV.mailbox().open(ntscalar.type('double'), { value: 7 }));
    assert.equal(await late.exited, 0, late.stderr());
    assert.equal(late.stdout(), `TST:late ${'<undefined>'.padEnd(24)} 7 \n`); // no time stamp: pvget's <undefined>

    const pv = SharedPV.mailbox().open(ntscalar.type('double'), { value: 1 });
    server.addPV('TST:v', pv);
    const mon = start(t, ['monitor', '-v', '--count', '2', 'TST:v'], env);
    await mon.line(/^ {4}double value 1$/);
    pv.post({ alarm: { severity: 1, status: 0, message: 'low' } });
    assert.equal(await mon.exited, 0, mon.stderr());
    const second = mon.stdout().slice(mon.stdout().lastIndexOf('TST:v '));
    assert.match(second, /^TST:v epics:nt\/NTScalar:1\.0 \n {4}alarm_t alarm MINOR low \n {8}int severity 1\n/);
    assert.doesNotMatch(second, /double value/);
  },
);

test('-p ca: get, put, monitor and info over Channel Access', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  server.addPV('CA:x', SharedPV.mailbox().open(ntscalar.type('double'), { value: 2.5 }));
  await server.listen();
  t.after(() => server.close());
  const env = envFor(undefined, {
    EPICS_CA_AUTO_ADDR_LIST: 'NO',
    EPICS_CA_ADDR_LIST: '',
    EPICS_CA_NAME_SERVERS: `127.0.0.1:${server.tcpPort}`,
  });
  const get = await run(t, ['get', '-p', 'ca', 'CA:x'], env);
  assert.equal(get.code, 0, get.err);
  assert.match(get.out, /^CA:x \S+ \S+ {2}2\.5 \n$/);
  const withRequest = await run(t, ['get', '-p', 'ca', '-r', 'field(value)', 'CA:x'], env);
  assert.equal(withRequest.out, get.out);
  assert.match(withRequest.err, /-r is ignored with -p ca/);
  const put = await run(t, ['put', '-p', 'ca', 'CA:x', '4'], env);
  assert.equal(put.code, 0, put.err);
  assert.match(put.out, /^Old : \S+ \S+ {2}2\.5 \nNew : \S+ \S+ {2}4 \n$/);
  const notValue = await run(t, ['put', '-p', 'ca', 'CA:x', 'alarm.severity=1'], env);
  assert.equal(notValue.code, 1);
  assert.match(notValue.err, /Channel Access writes only the value field/);
  const mon = await run(t, ['monitor', '-p', 'ca', '--count', '1', 'CA:x'], env);
  assert.match(mon.out, /^CA:x \S+ \S+ {2}4 \n$/);
  const info = await run(t, ['info', '-p', 'ca', '-D', 'CA:x'], env);
  assert.match(info.out, /^Host: \S+\n(Interface: .*\n)+(EPICS_.*\n)+CA:x\n/); // -D: pvxinfo's troubleshooting lines first
  assert.match(
    info.out.slice(info.out.indexOf('CA:x\n')),
    new RegExp(`^CA:x\\nServer: 127\\.0\\.0\\.1:${server.tcpPort}\\nType:\\n {4}epics:nt/NTScalar:1\\.0\\n {8}double value\\n`),
  );
});

test('put -q prints only the new value, as pvput -q', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:ao=1');
  const r = await run(t, ['put', '-q', '-t', '-n', '-s', 'TST:ao', '2'], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^\S+ \S+ {2}2 \n$/);
});

test('call server op=channels lists the PVs; -s/-a, -v and --server as pvcall and pvlist', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env, port } = await mailbox(t, 'B=1', 'A=2');
  const r = await run(t, ['call', 'server', 'op=channels'], env);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '[A, B]\n');
  const legacy = await run(t, ['call', '-M', 'json', '-s', 'server', '-a', 'op=channels'], env);
  assert.deepEqual(JSON.parse(legacy.out), { value: ['A', 'B'] });
  const verbose = await run(t, ['call', '-v', '--server', `127.0.0.1:${port}`, 'server', 'op=info'], envFor());
  assert.equal(verbose.code, 0, verbose.err);
  assert.match(
    verbose.out,
    /^# Argument\nepics:nt\/NTURI:1\.0 \n[\s\S]* {8}string op info\n# Result\nstructure \n {4}string implLang js\n/,
  );
  const nowhere = await run(t, ['call', 'server', 'op=channels'], envFor());
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.err, /no server was found: name one with --server/);
});

test('list -p hears beacons without sending anything (pvxlist -p)', { timeout: TEST_TIMEOUT }, async (t) => {
  const udp = await freeUdpPort();
  const env = envFor(undefined, { EPICS_PVA_BROADCAST_PORT: String(udp) });
  const list = start(t, ['list', '-p', '-d', '-w', '0', '--json'], env);
  await stderrLine(list, /listening for beacons on UDP port \d+/);
  const beacons = { EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: `127.0.0.1:${udp}` };
  const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: 0, env: beacons });
  const tcp = await server.listen();
  t.after(() => server.close());
  const entry = JSON.parse((await list.line(/^\{.*\}$/))[0]) as { guid: string; addresses: string[] };
  assert.equal(entry.guid, Buffer.from(server.guid).toString('hex'));
  assert.deepEqual(entry.addresses, [`127.0.0.1:${tcp}`]);
  list.kill('SIGINT');
  assert.equal(await list.exited, 0);
});

/** Resolves when the process has written a line matching `re` to stderr. */
function stderrLine(cli: Cli, re: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (re.test(cli.stderr())) {
        cli.child.stderr?.off('data', check);
        resolve();
      } else if (cli.child.exitCode !== null) reject(new Error(`ended without ${re}: ${cli.stderr()}`));
    };
    cli.child.stderr?.on('data', check); // after the helper's own listener, which collects the text
    check();
  });
}
