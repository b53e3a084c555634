// A published method called as any RPC PV is, with an NTURI: the real `sluice call` CLI (what
// EPICS pvcall sends) with the method and its arguments in the query.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PVStructure } from '../../src/pvdata/values.js';
import { RPCServer } from '../../src/rpc/index.js';
import { envFor, run } from '../helpers/cli-session.js';

class Calc {
  static rpcSignatures = { scale: ['x:number', 'factor:number'] };
  add(a = 0, b = 0): number {
    return a + b;
  }
  greet(name: string, loud = false): string {
    return loud ? `HELLO ${name.toUpperCase()}` : `hello ${name}`;
  }
  scale(x: number, factor: number): Float64Array {
    return Float64Array.of(x * factor, x);
  }
}

test('sluice call PV method=OBJ.METHOD a=1 b=2 calls a published method', { timeout: 60_000 }, async (t) => {
  const server = await RPCServer.start({ name: 'CALC' });
  t.after(() => server.close());
  server.publish('calc', new Calc());
  const port = Number(/:(\d+)\//.exec(server.address)?.[1]);
  const env = envFor(port);
  const sum = await run(t, ['call', '--json', 'CALC:rpc', 'method=calc.add', 'a=1', 'b=2.5'], env);
  assert.equal(sum.code, 0, sum.err);
  assert.equal((JSON.parse(sum.out) as { value: PVStructure }).value['value'], 3.5, 'numbers converted by the defaults');
  const hi = await run(t, ['call', '--json', 'CALC:rpc', 'object=calc', 'method=greet', 'name=Ann', 'loud=true'], env);
  assert.equal((JSON.parse(hi.out) as { value: PVStructure }).value['value'], 'HELLO ANN');
  const arr = await run(t, ['call', '--json', 'CALC:rpc', 'method=calc.scale', 'x=2', 'factor=3'], env);
  assert.deepEqual((JSON.parse(arr.out) as { value: PVStructure }).value['value'], [6, 2], 'declared types convert too');
  const wrong = await run(t, ['call', 'CALC:rpc', 'method=calc.add', 'c=1'], env);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /add\(a, b\) has no parameter c/);
  const notNumber = await run(t, ['call', 'CALC:rpc', 'method=calc.add', 'a=x'], env);
  assert.match(notNumber.err, /a=x is not a number/);
  const noMethod = await run(t, ['call', 'CALC:rpc', 'a=1'], env);
  assert.match(noMethod.err, /needs method=NAME\.METHOD/);
});
