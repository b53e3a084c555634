// Nodes in one process (inproc streams): lifecycle guards and hooks, indices reset by start(),
// the built-in nodes (StreamConverter, ChannelSplitter, ChunkResizer) and the node registry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ChannelSplitter,
  ChunkResizer,
  InputStream,
  Node,
  NodeGroup,
  OutputStream,
  StreamConverter,
  createNode,
  nodeTypes,
  registerNodeType,
  type NodeClass,
} from '../../src/streams/index.js';

class Probe extends Node {
  static override outputSpecs = { out: { protocol: 'inproc' as const } };
  readonly calls: string[] = [];
  protected _configure(o: Record<string, unknown>): void {
    this.calls.push(`configure ${JSON.stringify(o)}`);
  }
  protected override _initialize(): void {
    this.calls.push('initialize');
  }
  protected override _start(): void {
    this.calls.push('start');
  }
  protected override _stop(): void {
    this.calls.push('stop');
  }
  protected override _close(): void {
    this.calls.push('close');
  }
  protected override afterOutputConfigure(name: string): void {
    this.calls.push(`afterOutputConfigure ${name}`);
  }
}

class TwoOutputs extends Node {
  static override outputSpecs = { a: {}, b: {} };
  protected _configure(): void {}
}

const refused = (re: RegExp) => ({ code: 'ERR_INVALID_ARGUMENT', message: re });

async function source(params: Record<string, unknown>): Promise<OutputStream> {
  const out = new OutputStream();
  await out.configure({ protocol: 'inproc', ...params });
  return out;
}

async function sinkOf(node: Node, name: string): Promise<InputStream> {
  const inp = new InputStream();
  await inp.connect(node.outputParams(name));
  return inp;
}

test('lifecycle: each step refused out of order, with what to do first; hooks in order', async () => {
  const n = new Probe({ name: 'p' });
  await assert.rejects(n.start(), refused(/node p: start\(\) needs configure\(\) and initialize\(\) first/));
  await assert.rejects(n.stop(), refused(/stop\(\) on a node that is not running/));
  await assert.rejects(n.initialize(), refused(/initialize\(\) needs configure\(\) first/));
  await assert.rejects(n.configureOutput('out'), refused(/needs configure\(\) first/));
  await n.configure({ k: 1 });
  assert.equal(n.configured, true);
  await assert.rejects(n.initialize(), refused(/needs output 'out' configured/));
  await assert.rejects(n.configureOutput('nope'), refused(/no output 'nope' \(outputs: out\)/));
  await n.configureOutput('out');
  assert.equal(n.output.params.protocol, 'inproc', 'the declared spec is applied');
  await n.initialize();
  await n.start();
  assert.equal(n.running, true);
  await assert.rejects(n.configure(), refused(/configure\(\) is refused while running/));
  await assert.rejects(n.start(), refused(/already running/));
  await assert.rejects(n.close(), refused(/close\(\) is refused while running/));
  await n.stop();
  await n.start();
  await n.stop();
  await n.close();
  await n.close();
  assert.equal(n.closed, true);
  await assert.rejects(n.start(), refused(/start\(\) after close\(\)/));
  assert.deepEqual(n.calls, ['configure {"k":1}', 'afterOutputConfigure out', 'initialize', 'start', 'stop', 'start', 'stop', 'close']);
  assert.equal(n.output.configured, false, 'close() closes the streams');
});

test('input/output shortcuts need exactly one stream', () => {
  const two = new TwoOutputs({ name: 't' });
  assert.throws(() => two.output, refused(/\.output needs exactly one output, this node has a, b/));
  assert.throws(() => two.input, refused(/this node has none/));
  assert.ok(new ChunkResizer().input instanceof InputStream);
});

test('ChunkResizer: exact chunks, indices counted from start(); stop and start again restart them', async () => {
  const src = await source({ dtype: 'int32', shape: [-1, 2] });
  const r = new ChunkResizer();
  await assert.rejects(r.configure({ chunkSize: 0 }), refused(/chunkSize must be a whole number of frames >= 1, not 0/));
  await r.configure({ chunkSize: 3 });
  await r.connectInput('in', src);
  await r.configureOutput('out', { protocol: 'inproc' });
  assert.deepEqual(r.output.params.shape, [-1, 2]);
  assert.equal(r.output.params.dtype, 'int32');
  await r.initialize();
  const sink = await sinkOf(r, 'out');
  await r.start();
  const frames = (from: number, n: number) => Int32Array.from({ length: 2 * n }, (_, i) => from * 2 + i);
  src.send(frames(0, 2)); // 2 frames: held back
  src.send(frames(2, 5), 100); // a gap in the input: closed up, not filled
  src.send(frames(7, 2));
  for (const [end, first] of [
    [3, 0],
    [6, 6],
    [9, 12],
  ] as const) {
    const [index, chunk] = await sink.recv();
    assert.equal(index, end);
    assert.deepEqual(chunk.shape, [3, 2]);
    assert.deepEqual(
      Array.from(chunk.data as Int32Array),
      Array.from({ length: 6 }, (_, i) => first + i),
    );
  }
  await r.stop();
  assert.equal(r.running, false);
  await r.start();
  assert.equal(r.output.index, 0, 'start() resets the output index');
  src.send(frames(0, 3));
  assert.equal((await sink.recv())[0], 3, 'the count restarts');
  await r.stop();
  await r.close();
  await src.close();
  await sink.close();
});

test('StreamConverter: same index, cast to the output dtype, conversions listed', async () => {
  const src = await source({ dtype: 'float32', shape: [-1, 2], sampleRate: 50 });
  const c = new StreamConverter();
  await c.configure();
  await c.connectInput('in', src);
  await c.configureOutput('out', { protocol: 'inproc', dtype: 'int16' });
  await c.initialize();
  assert.deepEqual(c.conversions, { dtype: ['float32', 'int16'] });
  assert.equal(c.output.params.sampleRate, 50);
  const sink = await sinkOf(c, 'out');
  await c.start();
  src.send(new Float32Array([1.5, -2.5, 3, 4]), 10);
  const [index, chunk] = await sink.recv();
  assert.equal(index, 10);
  assert.ok(chunk.data instanceof Int16Array);
  assert.deepEqual(Array.from(chunk.data), [1, -2, 3, 4]);
  await c.stop();
  await c.close();
  await src.close();
});

test('ChannelSplitter: one output per group after the input connects, columns with the same index', async () => {
  const src = await source({ dtype: 'int16', shape: [-1, 4], sampleRate: 200 });
  const s = new ChannelSplitter();
  await assert.rejects(s.configure({ outputChannels: [] }), refused(/outputChannels must be \{ name: \[channel indices\] \}/));
  await s.configure({ outputChannels: { a: [0, 2], b: [3] } });
  assert.deepEqual(Object.keys(s.outputs), []);
  await s.connectInput('in', src);
  assert.deepEqual(Object.keys(s.outputs), ['a', 'b']);
  await s.configureOutput('a', { protocol: 'inproc' });
  await s.configureOutput('b', { protocol: 'inproc' });
  assert.deepEqual(s.outputParams('a').shape, [-1, 2]);
  assert.equal(s.outputParams('b').sampleRate, 200);
  await s.initialize();
  const a = await sinkOf(s, 'a');
  const b = await sinkOf(s, 'b');
  await s.start();
  src.send(new Int16Array([0, 1, 2, 3, 10, 11, 12, 13]), 7);
  const [ia, ca] = await a.recv();
  const [ib, cb] = await b.recv();
  assert.deepEqual([ia, ib], [7, 7]);
  assert.deepEqual(ca.shape, [2, 2]);
  assert.deepEqual(Array.from(ca.data as Int16Array), [0, 2, 10, 12]);
  assert.deepEqual(cb.shape, [2, 1]);
  assert.deepEqual(Array.from(cb.data as Int16Array), [3, 13]);
  await s.stop();
  await s.close();
  await src.close();

  const wide = new ChannelSplitter();
  await wide.configure({ outputChannels: { x: [5] } });
  const small = await source({ shape: [-1, 2] });
  await assert.rejects(wide.connectInput('in', small), refused(/output 'x' wants channel 5, the input has 2/));
  await small.close();
});

test('registry: built-ins by name, unknown names and non-nodes refused; a local NodeGroup', async () => {
  assert.ok(['StreamConverter', 'ChannelSplitter', 'ChunkResizer'].every((t) => nodeTypes().includes(t)));
  assert.ok(createNode('ChunkResizer') instanceof ChunkResizer);
  assert.throws(() => createNode('Nope'), refused(/no node type 'Nope' \(registered: StreamConverter, ChannelSplitter, ChunkResizer/));
  assert.throws(() => registerNodeType(Map as unknown as NodeClass), refused(/Map is not a subclass of Node/));
  registerNodeType(Probe);
  registerNodeType(Probe);
  assert.throws(() => registerNodeType(TwoOutputs, 'Probe'), refused(/'Probe' is registered already for another class/));

  const g = new NodeGroup('g');
  const first = g.createNode('Probe');
  assert.equal(first.name, 'Probe0');
  assert.throws(() => g.createNode('Probe', { name: 'Probe0' }), refused(/a node is named 'Probe0' already/));
  assert.throws(() => g.node('x'), refused(/no node 'x' \(nodes: Probe0\)/));
  await assert.rejects(g.registerNodeModule('node:path'), refused(/node:path exports no Node class/));
  await first.configure();
  await first.configureOutput('out');
  await first.initialize();
  await g.startAll();
  assert.equal(first.running, true);
  await g.close();
  assert.equal(first.closed, true);
});
