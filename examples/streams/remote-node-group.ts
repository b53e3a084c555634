// Nodes in another process: a NodeGroup in a child process runs a NoiseGenerator feeding a
// ChunkResizer; a PrintInput in this process reads the resizer's output over tcp.
//
//   node dist/examples/streams/remote-node-group.js [chunks=5]
//
// A stream crosses processes by its params: a remote node's outputParams(name) comes back by
// value, and a local input connects with it (`connectInput('in', remote.outputParams('out'))`).
import { NodeGroup } from 'sluice';
import { PrintInput } from './printer-node.js';

const chunks = Number(process.argv[2] ?? 5);
const group = await NodeGroup.spawn({ name: 'acq', log: (line) => console.log(line) });
try {
  await group.registerNodeModule(new URL('./noise-generator-node.js', import.meta.url).href);

  const noise = await group.createNode('NoiseGenerator');
  await noise.configure({ nChannels: 3, sampleRate: 20_000, chunkSize: 150 });
  await noise.configureOutput('out', { protocol: 'tcp' });
  await noise.initialize();

  const resizer = await group.createNode('ChunkResizer');
  await resizer.configure({ chunkSize: 256 });
  await resizer.connectInput('in', await noise.outputParams('out'));
  await resizer.configureOutput('out', { protocol: 'tcp' });
  await resizer.initialize();

  const printer = new PrintInput();
  await printer.configure();
  await printer.connectInput('in', resizer.outputParams('out'));
  await printer.initialize();
  await printer.start();

  await group.startAll();
  await printer.printed(chunks);
  await group.stopAll();
  await printer.stop();
  await printer.close();
} finally {
  console.log(`child exited with code ${await group.close()}`);
}
