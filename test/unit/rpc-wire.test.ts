// The RPC value codec and signature parse, without sockets: what goes by value and how it comes
// back, what goes by proxy, and the parameter lists the client checks calls against.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeValue, decodeValue, isPlainData, type ProxyRef, type EncodeContext, type DecodeContext } from '../../src/rpc/wire.js';
import { signatureOfFunction, signaturesOf } from '../../src/rpc/signature.js';
import { argumentsByName, checkArgumentCount } from '../../src/rpc/errors.js';

const lent: object[] = [];
const enc: EncodeContext = {
  refOf: () => undefined,
  proxyOf: (v) => {
    lent.push(v);
    return { address: 'test://x', objectId: BigInt(lent.length), refId: 'r', typeName: 'T', signatures: new Map() };
  },
};
const refs: ProxyRef[] = [];
const dec: DecodeContext = { fromRef: (ref) => (refs.push(ref), { proxyOf: ref.objectId }) };
const roundTrip = (v: unknown, mode: 'auto' | 'value' | 'proxy' = 'auto') => decodeValue(encodeValue(v, enc, mode), dec);

test('plain data goes by value and comes back equal; TypedArrays are not copied on encode', () => {
  const f = new Float32Array([1, 2]);
  const sample = {
    a: 1,
    b: -2.5,
    c: 2n ** 70n % 2n ** 63n,
    s: 'é',
    t: true,
    n: null,
    u: undefined,
    d: new Date(7),
    list: [1, 'x', [true]],
    nums: [1, 2, 3],
    strs: ['p', 'q'],
    f,
    empty: [],
    weird: { 'a-b c': 1, __proto__x: 2 },
  };
  assert.deepEqual(roundTrip(sample), sample);
  assert.equal(encodeValue(f, enc).value, f, 'the same TypedArray object is handed to the codec');
  const big = Array.from({ length: 5000 }, (_, i) => i / 3);
  const e = encodeValue(big, enc);
  assert.ok((e.value as { items: Float64Array }).items instanceof Float64Array, 'a number list is one array on the wire');
  assert.deepEqual(roundTrip(big), big);
});

test('a dict key __proto__ stays a plain key', () => {
  const hostile = JSON.parse('{"__proto__": {"polluted": 1}}') as object;
  const back = roundTrip(hostile) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.deepEqual(Object.keys(back), ['__proto__']);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
});

test('class instances and functions go by proxy; returnType value and proxy override', () => {
  class Thing {
    x = 1;
    m(): number {
      return 1;
    }
  }
  lent.length = 0;
  refs.length = 0;
  const th = new Thing();
  assert.deepEqual(roundTrip({ th, fn: () => 1 }), { th: { proxyOf: 1n }, fn: { proxyOf: 2n } });
  assert.deepEqual(roundTrip(th, 'value'), { x: 1 });
  assert.deepEqual(roundTrip({ a: 1 }, 'proxy'), { proxyOf: 3n });
  assert.equal(isPlainData(new Map()), false);
  assert.throws(() => encodeValue(Symbol('s'), enc), /symbol cannot be sent/);
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = [deep, 'x'];
  assert.throws(() => encodeValue(deep, enc, 'value'), { code: 'ERR_LIMIT' });
});

test('signatures: names, rest, defaults and their types, destructuring, declared types', () => {
  function f(a: number, b = 2, /* c, */ ...rest: string[]): number {
    return a + b + rest.length;
  }
  assert.deepEqual(signatureOfFunction(f as never), { params: ['a', 'b', '...rest'], required: 1, rest: true, types: ['', 'number', ''] });
  const arrow = async ({ y }: { y: number }, [z]: number[] = [1], flag = false, big = 10n, name = 'n') =>
    y + (z ?? 0) + Number(flag) + Number(big) + name.length;
  assert.deepEqual(signatureOfFunction(arrow as never), {
    params: ['arg0', 'arg1', 'flag', 'big', 'name'],
    required: 1,
    rest: false,
    types: ['', '', 'boolean', 'bigint', 'string'],
  });
  assert.deepEqual(signatureOfFunction(((v: number) => v) as never).params, ['v']);
  class C {
    static rpcSignatures = { m: ['a:number', 'b?'] };
    m(a: number, b?: number): number {
      return a + (b ?? 0);
    }
    n(p: string): string {
      return p;
    }
  }
  const s = signaturesOf(new C());
  assert.deepEqual(s.get('m'), { params: ['a', 'b?'], required: 1, rest: false, types: ['number', ''] });
  assert.deepEqual(s.get('n')?.params, ['p']);
  assert.equal(s.has('constructor'), false);
});

test('argument checks: counts, names, missing ones', () => {
  const sig = { params: ['a', 'b'], required: 1, rest: false, types: [] };
  assert.doesNotThrow(() => checkArgumentCount('f', sig, 2));
  assert.throws(() => checkArgumentCount('f', sig, 3), /f\(a, b\) takes at most 2 argument\(s\), got 3/);
  assert.throws(() => checkArgumentCount('f', sig, 0), /needs at least 1/);
  assert.deepEqual(argumentsByName('f', sig, { b: 2, a: 1 }), [1, 2]);
  assert.deepEqual(argumentsByName('f', sig, { a: 1 }), [1]);
  assert.throws(() => argumentsByName('f', sig, { b: 1 }), /missing a/);
  assert.throws(() => argumentsByName('f', sig, { a: 1, z: 1 }), /no parameter z/);
});
