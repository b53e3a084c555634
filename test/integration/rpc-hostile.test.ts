// Hostile requests to the RPC PV: wrong field types, unknown actions and object ids, too many
// arguments, deep nesting, inconsistent dicts. Each gets an error reply naming the cause, and
// the server keeps serving.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { t, type FieldDesc } from '../../src/pvdata/types.js';
import type { PVAny, PVStructure, PVValue } from '../../src/pvdata/values.js';
import { RPCClient, RPCServer, requestType } from '../../src/rpc/index.js';
import { clientFor } from '../helpers/net.js';

const REQ = requestType.id;

function request(over: PVStructure): PVStructure {
  return { action: 'call', sync: 'sync', returnType: 'auto', objectId: 0n, path: ['obj', 'f'], args: [], refId: '', sender: '', ...over };
}

function nested(depth: number): PVAny {
  let v: PVAny = { type: t.int, value: 1 };
  for (let i = 0; i < depth; i++) v = { type: t.anyArray, value: [v] };
  return v;
}

test('malformed requests get error replies; the server keeps serving', { timeout: 30_000 }, async (tc) => {
  const server = await RPCServer.start({ name: 'HOSTILE', log: () => {} });
  server.publish('obj', { f: (...a: unknown[]) => a.length });
  const port = Number(/:(\d+)\//.exec(server.address)?.[1]);
  const raw = clientFor(port);
  const good = await RPCClient.connect(server.address);
  tc.after(async () => {
    raw.close();
    good.close();
    await server.close();
  });
  const send = async (type: FieldDesc, value: PVValue): Promise<PVStructure> =>
    (await raw.rpc('HOSTILE:rpc', { type, value })).value as PVStructure;
  const expectError = async (type: FieldDesc, value: PVValue, re: RegExp) => {
    const r = await send(type, value);
    assert.equal(r['ok'], false, `expected an error reply matching ${re}`);
    assert.match(String(r['errorMessage']), re);
  };
  await expectError(requestType, request({ action: 'explode' }), /unknown action 'explode'/);
  await expectError(requestType, request({ objectId: 12345n }), /no object with id 12345/);
  await expectError(requestType, request({ path: ['nobody', 'f'] }), /no object published as 'nobody'/);
  const many = Array.from({ length: 10_001 }, () => ({ type: t.int, value: 1 }));
  await expectError(requestType, request({ args: many }), /10001 arguments: at most 10000/);
  await expectError(requestType, request({ args: [nested(40)] }), /nested deeper than 32/);
  const badDict = {
    type: t.struct(
      [
        ['keys', t.array('string')],
        ['values', t.anyArray],
      ],
      'sluice:dict',
    ),
    value: { keys: ['a', 'b'], values: [] },
  };
  await expectError(requestType, request({ args: [badDict] }), /keys and values differ/);
  // Same type id, other field types: an int action, a string path.
  const twisted = t.struct(
    [
      ['action', t.int],
      ['path', t.string],
    ],
    REQ,
  );
  await expectError(twisted, { action: 7, path: 'x' }, /unknown action '7'/);
  const noPath = t.struct(
    [
      ['action', t.string],
      ['path', t.string],
    ],
    REQ,
  );
  await expectError(noPath, { action: 'call', path: 'x' }, /path must be an array of strings/);
  await expectError(requestType, request({ path: ['obj', '__proto__', 'f'] }), /'__proto__' is not reachable/);
  // A structure that is neither a request nor an NTURI: the pvcall path explains what it needs.
  await assert.rejects(raw.rpc('HOSTILE:rpc', { x: 1 }), /needs method=NAME\.METHOD/);
  // Deeper than pvAccess decodes at all: that connection is dropped, the server stays.
  await assert.rejects(raw.rpc('HOSTILE:rpc', { type: requestType, value: request({ args: [nested(100)] }) }), /closed|nested/);
  const obj = await good.get('obj');
  assert.equal(await obj.f(1, 2, 3), 3, 'still serving');
  assert.ok(server.stats.errors >= 9);
});
