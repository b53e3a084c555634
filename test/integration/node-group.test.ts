// A NodeGroup in a child process: create a node by type name, feed it from this process over tcp,
// read its output here through the params it gives by value, start/stop/start (indices restart),
// remote errors, and close (the child exits).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputStream, NodeGroup, OutputStream } from '../../src/streams/index.js';

test('NodeGroup.spawn: a ChunkResizer in a child, streams both ways over tcp', async () => {
  const group = await NodeGroup.spawn({ name: 'nodes1', log: () => {} });
  try {
    assert.ok((await group.nodeTypes()).includes('ChunkResizer'));
    await assert.rejects(group.createNode('Nope'), { code: 'ERR_REMOTE', message: /no node type 'Nope'/ });
    const src = new OutputStream();
    await src.configure({ protocol: 'tcp', dtype: 'float64', shape: [-1, 1] });
    const r = await group.createNode('ChunkResizer', { name: 'resizer' });
    await r.configure({ chunkSize: 4 });
    await r.connectInput('in', src.params);
    await r.configureOutput('out', { protocol: 'tcp' });
    await r.initialize();
    const sink = new InputStream();
    await sink.connect(await r.outputParams('out'));
    assert.equal(sink.params.dtype, 'float64');
    // A deferred attribute of the node proxy (its output stream itself) connects as well.
    const other = new InputStream();
    await other.connect(r.outputs.out);
    assert.deepEqual(other.params, sink.params);
    await other.close();
    await group.startAll();
    assert.equal(await r._get('running'), true);
    src.send(Float64Array.from([0, 1, 2, 3, 4, 5]));
    src.send(Float64Array.from([6, 7]));
    for (const end of [4, 8]) {
      const [index, chunk] = await sink.recv();
      assert.equal(index, end);
      assert.deepEqual(Array.from(chunk.data as Float64Array), [end - 4, end - 3, end - 2, end - 1]);
    }
    await group.stopAll();
    assert.equal(await r._get('running'), false);
    await assert.rejects(r.stop(), { code: 'ERR_REMOTE', message: /stop\(\) on a node that is not running/ });
    await group.startAll();
    src.send(Float64Array.from([8, 9, 10, 11]));
    const [index, chunk] = await sink.recv();
    assert.equal(index, 4, 'start() restarted the output count');
    assert.deepEqual(Array.from(chunk.data as Float64Array), [8, 9, 10, 11]);
    await group.stopAll();
    await sink.close();
    await src.close();
  } finally {
    assert.equal(await group.close(), 0);
  }
});
