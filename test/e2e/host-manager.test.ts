// Pyacq's Host and Manager: a spawned `sluice host`, a Manager here that creates a node group
// there, a NoiseGenerator feeding a PrintInput in that node group's process (a tcp stream between
// them) and this process reading the generator too; the node group's log lines come out of the
// host with its name; the Manager's registry; closing; Ctrl-C ends the host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogRecord } from '../../src/rpc/index.js';
import { InputStream, Manager } from '../../src/streams/index.js';
import { startCli } from '../helpers/cli.js';
import { envFor } from '../helpers/cli-session.js';

const EXAMPLES = new URL('../../examples/streams/', import.meta.url);

test('sluice host: a Manager creates a node group there, runs two nodes with a stream between them, closes it', async (t) => {
  const host = startCli(t, ['host', '--address', '127.0.0.1:0', '--name', 'lab'], envFor());
  const [, address] = (await host.line(/^host lab at (pva:\/\/127\.0\.0\.1:\d+\/lab:rpc)$/)) as RegExpMatchArray;
  const records: LogRecord[] = [];
  let heard: (r: LogRecord) => void = () => {};
  const printed = new Promise<LogRecord>((r) => (heard = r));
  const manager = new Manager({
    onLog: (r) => {
      records.push(r);
      if (/^printer: index 1000 /.test(r.message)) heard(r);
    },
  });
  t.after(() => manager.close().catch(() => {}));
  assert.equal(await manager.addHost(address as string), address);
  await assert.rejects(manager.createNodeGroup('bad name'), { code: 'ERR_REMOTE', message: /node group name is letters/ });
  const acq = await manager.createNodeGroup('acq');
  assert.deepEqual(manager.listHosts(), [address]);
  assert.deepEqual(manager.listNodeGroups(), ['acq']);
  await host.line(/^node group acq started \(pid \d+\) at pva:\/\/127\.0\.0\.1:\d+\/acq:rpc$/);
  await assert.rejects(manager.createNodeGroup('acq'), /named 'acq' already/);

  assert.deepEqual(await acq.registerNodeModule(new URL('noise-generator-node.js', EXAMPLES).href), ['NoiseGenerator']);
  await acq.registerNodeModule(new URL('printer-node.js', EXAMPLES).href);
  const noise = await acq.createNode('NoiseGenerator', { name: 'noise' });
  await noise.configure({ nChannels: 4, sampleRate: 20_000, chunkSize: 500 });
  await noise.configureOutput('out', { protocol: 'tcp' });
  await noise.initialize();
  const printer = await acq.createNode('PrintInput', { name: 'printer' });
  await printer.configure();
  await printer.connectInput('in', await noise.outputParams('out'));
  await printer.initialize();
  assert.deepEqual(acq.listNodes(), ['noise', 'printer']);
  // The Manager's calls go to the node group's process, not through the host.
  assert.match(String(noise), /at pva:\/\/127\.0\.0\.1:\d+\/acq:rpc>$/);

  const local = new InputStream();
  await local.connect(await noise.outputParams('out'));
  await manager.startAll();
  const [index, chunk] = await local.recv();
  assert.equal(index, 500);
  assert.deepEqual(chunk.shape, [500, 4]);
  // The printer's console lines, forwarded as records by the node group to the host, printed there.
  await host.line(/^\d{4}-\d\d-\d\dT[\d:.]+Z acq\[\d+\] info: printer: index 1000 shape \[500, 4\] min -?[\d.]+ max -?[\d.]+$/);
  assert.ok((await printer.count) >= 2);
  // The same lines reach the Manager as records (Pyacq's log server), with the host's name.
  const record = await printed;
  assert.deepEqual([record.host, record.name, record.level, record.stream], ['lab', 'acq', 'info', 'stdout']);
  const groups = (await manager.host(address as string).listNodeGroups()) as { name: string; address: string }[];
  assert.deepEqual(
    groups.map((g) => g.name),
    ['acq'],
  );
  await manager.stopAll();
  assert.equal(await noise.running, false);
  await local.close();

  assert.equal(await acq.close(), 0);
  assert.deepEqual(manager.listNodeGroups(), []);
  await host.line(/^node group acq exited with code 0$/);
  assert.deepEqual(await manager.host(address as string).listNodeGroups(), []);
  await manager.close();
  assert.deepEqual(manager.listHosts(), []);
  host.kill('SIGINT');
  assert.equal(await host.exited, 0);
});

test('sluice host: a node group that dies is reported; Ctrl-C closes the others', async (t) => {
  const host = startCli(t, ['host'], envFor());
  const [, address] = (await host.line(/^host host at (pva:\/\/127\.0\.0\.1:\d+\/host:rpc)$/)) as RegExpMatchArray;
  const port = /:(\d+)\//.exec(address as string)?.[1];
  const manager = new Manager();
  // HOST:PORT names a host of the default name.
  await manager.addHost(`127.0.0.1:${port}`);
  await manager.createNodeGroup('doomed');
  await manager.createNodeGroup('kept');
  const groups = (await manager.host(address as string).listNodeGroups()) as { name: string; pid: number }[];
  process.kill(groups.find((g) => g.name === 'doomed')?.pid as number, 'SIGKILL');
  await host.line(/^node group doomed exited unexpectedly \(code null\)$/);
  assert.deepEqual(
    ((await manager.host(address as string).listNodeGroups()) as { name: string }[]).map((g) => g.name),
    ['kept'],
  );
  host.kill('SIGINT');
  assert.equal(await host.exited, 0);
  assert.match(host.stdout(), /^node group kept exited with code 0$/m);
  assert.doesNotMatch(host.stdout(), /doomed exited with code/);
});
