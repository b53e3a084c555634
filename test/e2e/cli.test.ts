// The real `sluice` CLI, spawned as a user would run it, against `sluice mailbox` (also spawned)
// or an in-process Server where a command needs PVs the mailbox cannot serve (RPC, NT types).
// Clients find servers only through EPICS_PVA_NAME_SERVERS, so no test depends on UDP broadcast.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PvaServer } from '../../src/pva/server/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntenum, ntndarray, ntscalar, nttable } from '../../src/pvdata/nt/index.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { envFor, mailbox, run, start } from '../helpers/cli-session.js';

const DOCS = fileURLToPath(new URL('../../../docs/cli.md', import.meta.url));
const TEST_TIMEOUT = 30_000;
/** In-process servers: no beacons to the network. */
const QUIET_SERVER = { EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: '' };

/** An in-process server with PVs the mailbox cannot make: an RPC adder and NT types. */
async function richServer(t: TestContext): Promise<{ port: number; env: NodeJS.ProcessEnv }> {
  const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false, env: QUIET_SERVER });
  const add = new SharedPV({
    onRpc: (_pv, args) => {
      const q = ((args.value as PVStructure)['query'] ?? {}) as PVStructure;
      return ntscalar.create('double', Number(q['lhs']) + Number(q['rhs']));
    },
  });
  add.open(ntscalar.type('double'), { value: 0 });
  server.addPV('TST:add', add);
  const e = ntenum.create(1, ['Off', 'On']);
  server.addPV('TST:enum', new SharedPV().open(e.type, e.value));
  const tab = nttable.create({ x: new Float64Array([1, 2]), name: ['a', 'b c'] });
  server.addPV('TST:table', new SharedPV().open(tab.type, tab.value));
  const img = ntndarray.create({ data: new Uint16Array(12), dims: [4, 3], uniqueId: 42 });
  server.addPV('TST:image', new SharedPV().open(img.type, img.value));
  const port = await server.listen();
  t.after(() => server.close());
  return { port, env: envFor(port) };
}

test('get prints the NT form, -v the whole structure, --json one object per line', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:ao=1.5', 'TST:wf:double[]=[1,2,3]');
  const plain = await run(t, ['get', 'TST:ao', 'TST:wf'], env);
  assert.equal(plain.code, 0, plain.err);
  // pvget's spacing: the time padded to 24 columns, every part followed by a space
  assert.match(plain.out, /^TST:ao \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}1\.5 \n/);
  assert.match(plain.out, /\nTST:wf \d{4}-\d\d-\d\d [\d:.]+ {2}\[1,2,3\]\n$/);
  const verbose = await run(t, ['get', '-v', 'TST:ao'], env);
  assert.match(verbose.out, /^TST:ao epics:nt\/NTScalar:1\.0 \n {4}double value 1\.5\n {4}alarm_t alarm \n/);
  const json = await run(t, ['get', '--json', 'TST:ao', 'TST:wf'], env);
  const [a, w] = json.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; value: PVStructure });
  assert.equal(a?.name, 'TST:ao');
  assert.equal(a?.value['value'], 1.5);
  assert.equal(typeof a?.value['timeStamp']['secondsPastEpoch'], 'number');
  assert.deepEqual(w?.value['value'], [1, 2, 3]);
});

test('put prints Old and New, and a later get sees the new value', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:ao=1.5', 'TST:n:int=1');
  const put = await run(t, ['put', 'TST:ao', '2.25'], env);
  assert.equal(put.code, 0, put.err);
  assert.match(put.out, /^Old : \S+ \S+ {2}1\.5 \nNew : \S+ \S+ {2}2\.25 \n$/);
  assert.match((await run(t, ['get', 'TST:ao'], env)).out, / 2\.25 \n$/);
  const pairs = await run(t, ['put', 'TST:n', 'value=-7', 'alarm.severity=2', 'alarm.message=by hand'], env);
  assert.equal(pairs.code, 0, pairs.err);
  assert.match(pairs.out, /New : \S+ \S+ {2}-7 MAJOR by hand \n$/);
});

test('put writes JSON into an array, and the pvput count form', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:wf:double[]');
  const json = await run(t, ['put', 'TST:wf', '[1.5, 2, -3]'], env);
  assert.equal(json.code, 0, json.err);
  assert.match(json.out, /New : \S+ \S+ {2}\[1\.5,2,-3\]\n$/);
  const counted = await run(t, ['put', 'TST:wf', '2', '7', '8'], env);
  assert.match(counted.out, /New : \S+ \S+ {2}\[7,8\]\n$/);
  const whole = await run(t, ['put', '--json', 'TST:wf', '{"value":[4,5]}'], env);
  assert.deepEqual((JSON.parse(whole.out) as { new: PVStructure }).new['value'], [4, 5]);
  const bad = await run(t, ['put', 'TST:wf', '[1, "x"]'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /TST:wf.*'x'.*double/);
});

test('monitor --count 3 prints the initial value and two puts made while it runs', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:ao=1');
  const mon = start(t, ['monitor', '--count', '3', 'TST:ao'], env);
  await mon.line(/^TST:ao \S+ \S+ {2}1 $/);
  assert.equal((await run(t, ['put', '-q', 'TST:ao', '2'], env)).code, 0);
  await mon.line(/^TST:ao \S+ \S+ {2}2 $/);
  assert.equal((await run(t, ['put', '-q', 'TST:ao', '3'], env)).code, 0);
  assert.equal(await mon.exited, 0, mon.stderr());
  assert.deepEqual(
    mon
      .stdout()
      .trim()
      .split('\n')
      .map((l) => l.trimEnd().split(' ').pop()),
    ['1', '2', '3'],
  );
});

test('monitor --stats prints only rate, MB/s, missed ids and overruns, and a total on Ctrl-C', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:ao=1');
  const text = start(t, ['monitor', '--stats', 'TST:ao'], env);
  await text.line(/^TST:ao \d+\.\d updates\/s \d+\.\d\d MB\/s missed \d+ overruns \d+$/);
  text.child.kill('SIGINT');
  assert.equal(await text.exited, 0, text.stderr());
  assert.match(text.stdout(), /\nTST:ao total 1 updates in \d+\.\d\d s: [\d.]+ updates\/s [\d.]+ MB\/s missed 0 overruns 0\n$/);

  const json = start(t, ['monitor', '--stats', '--json', 'TST:ao'], env);
  const first = JSON.parse((await json.line(/^\{.*\}$/))[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(first), ['name', 'final', 'seconds', 'updates', 'rate', 'mbps', 'missed', 'overruns']);
  assert.equal(first['final'], false);
  json.child.kill('SIGINT');
  assert.equal(await json.exited, 0);
  assert.match(json.stdout(), /"final":true/);
});

test('info shows the type and the server address', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env, port } = await mailbox(t, 'TST:ao=1');
  const r = await run(t, ['info', 'TST:ao'], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^TST:ao\\nServer: 127\\.0\\.0\\.1:${port}\\nType:\\n {4}epics:nt/NTScalar:1\\.0\\n {8}double value\\n`));
});

test('call sends NTURI arguments to an RPC PV and prints the result', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await richServer(t);
  const r = await run(t, ['call', 'TST:add', 'lhs=1', 'rhs=2.5'], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^\S+ \S+ {2}3\.5 \n$/);
  const json = await run(t, ['call', '--json', 'TST:add', 'lhs=2', 'rhs=2'], env);
  assert.equal((JSON.parse(json.out) as { value: PVStructure }).value['value'], 4);
  const notRpc = await run(t, ['call', 'TST:enum'], env);
  assert.equal(notRpc.code, 1);
  assert.match(notRpc.err, /TST:enum/);
});

test('get prints NTEnum, NTTable and NTNDArray in their compact forms', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await richServer(t);
  const r = await run(t, ['get', 'TST:enum', 'TST:image', 'TST:table'], env);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n');
  assert.match(lines[0] ?? '', /^TST:enum {2}\S+ \S+ {2}\(1\) On$/);
  assert.match(lines[1] ?? '', /^TST:image \S+ \S+ 4x3 ushort uniqueId=42$/);
  // as pvget: no time or alarm in the table, so its header follows the name; no row count
  assert.deepEqual(lines.slice(2, 5), ['TST:table x  name', '1     a', '2 "b c"']);
});

test('list HOST:PORT prints the channels a server has; list alone finds servers', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env, port } = await mailbox(t, 'B=1', 'A=2');
  const r = await run(t, ['list', `127.0.0.1:${port}`], env);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'A\nB\n');
  // Discovery over UDP, to a server whose search port the test knows.
  const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: 0, env: QUIET_SERVER });
  const tcp = await server.listen();
  t.after(() => server.close());
  const found = await run(t, ['list', '-w', '0.6', '--json'], envFor(undefined, { EPICS_PVA_ADDR_LIST: `127.0.0.1:${server.udpPort}` }));
  assert.equal(found.code, 0, found.err);
  const entry = JSON.parse(found.out) as { guid: string; addresses: string[] };
  assert.equal(entry.guid, Buffer.from(server.guid).toString('hex'));
  assert.deepEqual(entry.addresses, [`127.0.0.1:${tcp}`]);
});

// One process per command (two dozen of them): more time than a single command needs.
test('every command has --help; docs/cli.md holds the generated reference', { timeout: 3 * TEST_TIMEOUT }, async (t) => {
  const top = await run(t, ['--help'], envFor());
  assert.equal(top.code, 0);
  const commands = [...top.out.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1] as string);
  assert.deepEqual(commands, [
    'get',
    'put',
    'monitor',
    'info',
    'call',
    'list',
    'consumer',
    'collector',
    'mailbox',
    'demo',
    'dashboard',
    'sim',
    'mirror',
    'server',
    'channel',
    'cat',
    'head',
    'filter',
    'tee',
    'partition',
    'merge',
    'process',
    'to-json',
    'from-json',
    'to-csv',
    'from-csv',
    'save',
    'replay',
    'publish',
    'host',
  ]);
  for (const c of commands) {
    const h = await run(t, [c, '--help'], envFor());
    assert.equal(h.code, 0, `${c} --help`);
    assert.match(h.out, new RegExp(`^Usage: sluice ${c} `));
    assert.match(h.out, /-h, --help/);
  }
  const reference = await run(t, ['--help-markdown'], envFor());
  const docs = readFileSync(DOCS, 'utf8');
  assert.ok(docs.includes(reference.out.trim()), 'docs/cli.md is out of date: paste the output of `sluice --help-markdown` into it');
  assert.match((await run(t, ['--version'], envFor())).out, /^sluice \d+\.\d+\.\d+/);
});

test('usage errors exit with status 2 and say what is wrong', { timeout: TEST_TIMEOUT }, async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /Usage: sluice <command>/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['get'], /missing arguments/],
    [['get', '--frobnicate', 'X'], /Unknown option '--frobnicate'/],
    [['get', '-w', 'soon', 'X'], /--timeout expects a positive number of seconds/],
    [['get', '-r', 'field(value', 'X'], /bad pvRequest/],
    [['monitor', '--count', '-1', 'X'], /--count expects a positive integer/],
    [['mailbox', 'X:int=1.5'], /cannot use '1\.5' as int/],
    [['call', 'X', 'novalue'], /not NAME=VALUE/],
    [['list', 'not a host'], /not HOST\[:PORT\]/],
  ];
  for (const [args, message] of cases) {
    const r = await run(t, args, envFor());
    assert.equal(r.code, 2, `sluice ${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message, `sluice ${args.join(' ')}`);
  }
});

test('a PV that no server has exits 1 naming the PV', { timeout: TEST_TIMEOUT }, async (t) => {
  const { env } = await mailbox(t, 'TST:ao=1');
  for (const cmd of [['get'], ['put', 'TST:missing:pv', '1'], ['monitor'], ['info']]) {
    const wait = cmd[0] === 'monitor' ? ['--connect-timeout', '0.5'] : ['-w', '0.5'];
    const args = cmd[0] === 'put' ? [cmd[0], ...wait, ...cmd.slice(1)] : [cmd[0] as string, ...wait, 'TST:missing:pv'];
    const r = await run(t, args, env);
    assert.equal(r.code, 1, `sluice ${args.join(' ')}`);
    assert.match(r.err, /TST:missing:pv/);
    assert.equal(r.out, '');
  }
});

test('demo: a simulator and two consumer processes share 2000 frames without missing any', { timeout: TEST_TIMEOUT }, async (t) => {
  const r = await run(t, ['demo', '--duration', '2', '--disable-curses'], envFor());
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^demo: simulator published 2000 frames in [\d.]+ s/m);
  assert.match(r.out, /^Combined System Stats[\s\S]*nProcessed=2000 [\s\S]*nMissed=0 /m);
  assert.match(r.out, /^demo: 2 consumers processed 2000 of 2000 frames, missed 0$/m);
  // each consumer receives one update more than it processes: the report shows and the demo explains it
  assert.match(r.out, /consumer 1 final[\s\S]*?nReceived=1001 [\s\S]*?nSkipped=1 nRuns=1$/m);
  assert.match(r.out, /^demo: nReceived also counts the 2 initial updates .* skip/m);
  // with the distributor, the two consumers alternate
  assert.match(r.out, /consumer 1 final[\s\S]*nProcessed=1000 /);
  assert.match(r.out, /consumer 2 final[\s\S]*nProcessed=1000 /);
});

test('demo with one consumer says "1 consumer"', { timeout: TEST_TIMEOUT }, async (t) => {
  const r = await run(t, ['demo', '--duration', '0.5', '--consumers', '1', '--disable-curses'], envFor());
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^demo: 1 consumer processed (\d+) of \1 frames, missed 0$/m);
  assert.match(r.out, /^demo: nReceived also counts the 1 initial update \(/m);
});
