// The channel map of `sluice mirror`: tuples found by their parentheses (nesting respected, so
// request descriptors keep their commas, semicolons, colons and brackets), PvaPy's defaults and
// PvaPy's validation messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { parseChannelMap, sourceRequest, splitElements, splitTuples } from '../../src/mirror/channel-map.js';

const DIST = '_[pydistributor=updates:1;group:mirror;trigger:uniqueId]';

function fails(text: string | undefined, message: RegExp): void {
  assert.throws(
    () => parseChannelMap(text),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_INVALID_ARGUMENT' && message.test(e.message),
    `${text} should fail with ${message}`,
  );
}

test('defaults: provider pva, no queue, one monitor, no request', () => {
  assert.deepEqual(parseChannelMap('(mirror:image,sim:image)'), [
    { mirrorName: 'mirror:image', sourceName: 'sim:image', provider: 'pva', queueSize: 0, nMonitors: 1, request: '' },
  ]);
});

test('several tuples, every element, provider case-insensitive, blanks ignored', () => {
  const map = parseChannelMap(` (a,src:a) , (b,src:b,CA),(c,src:c,Pva,100) ,(d, src:d, pva, 10, 4, ${DIST})`);
  assert.deepEqual(
    map.map((e) => [e.mirrorName, e.sourceName, e.provider, e.queueSize, e.nMonitors, e.request]),
    [
      ['a', 'src:a', 'pva', 0, 1, ''],
      ['b', 'src:b', 'ca', 0, 1, ''],
      ['c', 'src:c', 'pva', 100, 1, ''],
      ['d', 'src:d', 'pva', 10, 4, DIST],
    ],
  );
});

test('request descriptors with nested parentheses and commas stay one element', () => {
  const [e] = parseChannelMap('(m,s,pva,5,2,record[queueSize=3,pipeline=true]field(value,uniqueId,timeStamp))');
  assert.equal(e?.request, 'record[queueSize=3,pipeline=true]field(value,uniqueId,timeStamp)');
  assert.deepEqual(splitTuples('(a,b)(c,d,pva,0,1,field(x(y)))'), ['a,b', 'c,d,pva,0,1,field(x(y))']);
  assert.deepEqual(splitElements('m, s ,pva,0,1,field(a,b)'), ['m', 's', 'pva', '0', '1', 'field(a,b)']);
  // PvaPy takes a single tuple without parentheses too.
  assert.deepEqual(
    parseChannelMap('m,s,ca').map((x) => [x.mirrorName, x.sourceName, x.provider]),
    [['m', 's', 'ca']],
  );
});

test("PvaPy's validation messages", () => {
  fails(undefined, /^Channel map is not specified$/);
  fails('  ', /^Channel map is not specified$/);
  fails('(a,b,pva,0,1,x,y)', /^Invalid channel map entry: a,b,pva,0,1,x,y$/);
  fails('(a)', /^Invalid channel map entry: a$/);
  fails('(a,b,xyz)', /^Invalid source provider type specified for entry: a,b,xyz$/);
  fails('(a,b,pva,-1)', /^Invalid source queue size specified for entry: a,b,pva,-1 \(allowed: 0 to 1000000\)$/);
  fails('(a,b,pva,1000001)', /^Invalid source queue size specified for entry: a,b,pva,1000001 \(allowed: 0 to 1000000\)$/);
  fails('(a,b,pva,ten)', /^Invalid source queue size specified for entry/);
  fails('(a,b,pva,1.5)', /^Invalid source queue size specified for entry/);
  fails('(a,b,pva,0,0)', /^Invalid number of source monitors specified for entry: a,b,pva,0,0 \(allowed: 1 to 256\)$/);
  fails('(a,b,pva,0,257)', /^Invalid number of source monitors specified for entry: a,b,pva,0,257 \(allowed: 1 to 256\)$/);
  fails('(a,b,pva,0,-2,x)', /^Invalid number of source monitors specified for entry/);
});

test('malformed maps: unbalanced parentheses, stray text, a mirror given twice', () => {
  fails('(a,b', /unbalanced parentheses/);
  fails('(a,b,pva,0,1,field(x)', /unbalanced parentheses/);
  fails('(a,b]', /unbalanced parentheses/);
  fails('(a,b) junk (c,d)', /unexpected 'junk \(c,d\)' between tuples/);
  fails('(a,b),(a,c)', /Mirror channel a is specified more than once/);
  fails('(,b)', /Invalid channel map entry/);
});

test("source requests: the descriptor goes inside field(), as PvaPy's; complete requests stay", () => {
  assert.equal(sourceRequest(''), '');
  assert.equal(sourceRequest(DIST), `field(${DIST})`);
  assert.equal(sourceRequest('value,uniqueId'), 'field(value,uniqueId)');
  assert.equal(sourceRequest('field(value)'), 'field(value)');
  assert.equal(sourceRequest('record[queueSize=2]field()'), 'record[queueSize=2]field()');
});
