// Access security: ACF and PV list parsing (canonical output byte for byte, errors naming
// file:line), and rule evaluation (UAG, HAG, levels, PV list groups, client IP matching).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AccessPolicy, denial, formatAcf, parseAcf, parsePvList, resolveHosts, type ClientIdentity } from '../../src/access/index.js';
import { SluiceError } from '../../src/errors.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../test/fixtures/access/${name}`, import.meta.url), 'utf8');

const who = (user: string, host: string, address = '10.0.0.9'): ClientIdentity => ({ user, host, address });

test('a good ACF parses, and prints canonically byte for byte; printing is stable', () => {
  const acf = parseAcf(fixture('good.acf'), 'good.acf');
  assert.equal(formatAcf(acf), fixture('good.canonical.acf'));
  assert.equal(formatAcf(parseAcf(formatAcf(acf))), fixture('good.canonical.acf'));
  assert.deepEqual(acf.uags.get('beam line'), ['carol smith', 'dave']);
  assert.deepEqual(acf.hags.get('control'), ['ws1', 'ws2.example.org'], 'hosts are lower-cased');
  const rpc = acf.asgs.get('CONTROL')?.[2];
  assert.deepEqual(rpc, { level: 1, grant: 'RPC', trapWrite: false, uags: ['ops'], hags: ['lab'], line: 18 });
  assert.deepEqual(acf.asgs.get('EMPTY'), []);
});

test('bad ACFs are refused with file:line and the cause', () => {
  const cases: [string, RegExp][] = [
    ['UAG(a) {x}\nASG(DEFAULT) {\n  RULE(1, WRITE) { UAG(b) }\n}', /^f\.acf:3: UAG\(b\) is not defined$/],
    ['ASG(DEFAULT) {\n RULE(1, WRITE) {\n  CALC("A=1")\n }\n}', /^f\.acf:3: CALC conditions need INP links/],
    ['ASG(DEFAULT) {\n INPA("x:y")\n}', /^f\.acf:2: INPA links to a PV/],
    ['ASG(DEFAULT) {\n RULE(1, WRIT)\n}', /^f\.acf:2: RULE access must be one of NONE, READ, WRITE, PUT, RPC, UNCACHED, not 'WRIT'$/],
    ['ASG(DEFAULT) {\n RULE(x, READ)\n}', /^f\.acf:2: RULE level must be a non-negative integer, not 'x'$/],
    ['ASG(DEFAULT) {\n RULE(1, READ, TRAP)\n}', /^f\.acf:2: expected TRAPWRITE or NOTRAPWRITE, not 'TRAP'$/],
    ['ASG(A) {}\n\nASG(A) {}', /^f\.acf:3: ASG\(A\) is defined twice$/],
    ['UAG(a) {x,\n', /^f\.acf:1: unexpected end of file, expected a user name$/],
    ['UAG(a) {"x\n}', /^f\.acf:1: unterminated quoted string$/],
    ['\n\nUAG(a) {x} ! ', /^f\.acf:3: unexpected character '!'$/],
    ['RULE(1, READ)', /^f\.acf:1: expected UAG, HAG or ASG, found 'RULE'$/],
    ['ASG(DEFAULT) {\n RULE(1, READ) { USER(x) }\n}', /^f\.acf:2: expected UAG or HAG in RULE, found 'USER'$/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseAcf(text, 'f.acf'),
      (err: unknown) => err instanceof SluiceError && err.code === 'ERR_ACCESS_CONFIG' && re.test(err.message),
      text,
    );
  }
});

test('a good PV list parses; bad lines are refused with file:line', () => {
  const list = parsePvList(fixture('good.pvlist'), 'good.pvlist');
  assert.equal(list.order, 'allow-deny');
  assert.deepEqual(
    list.allow.map((a) => [a.pattern.source, a.asg, a.asl, a.line]),
    [
      ['^(?:.*)$', undefined, 1, 3],
      ['^(?:det:.*)$', 'DETECTOR', 0, 4],
    ],
  );
  assert.deepEqual(
    list.deny.map((d) => [d.pattern.source, d.from, d.line]),
    [
      ['^(?:det:secret.*)$', [], 5],
      ['^(?:det:cal:.*)$', ['ws7', 'ws8'], 6],
    ],
  );
  const cases: [string, RegExp][] = [
    ['a ALLOW\nb(  DENY', /^l:2: 'b\(' is not a regular expression/],
    ['a ALIAS b', /^l:1: ALIAS renames PVs for a gateway/],
    ['\na', /^l:2: 'a' has no ALLOW or DENY$/],
    ['a PERMIT', /^l:1: expected ALLOW or DENY after the pattern, not 'PERMIT'$/],
    ['a ALLOW G x', /^l:1: ASL must be a non-negative integer, not 'x'$/],
    ['a DENY ws1', /^l:1: DENY takes nothing or FROM HOST\.\.\., not 'ws1'$/],
    ['EVALUATION ORDER DENY, DENY', /^l:1: EVALUATION ORDER must be/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parsePvList(text, 'l'),
      (err: unknown) => err instanceof SluiceError && err.code === 'ERR_ACCESS_CONFIG' && re.test(err.message),
      text,
    );
  }
});

test('rules: UAG and HAG conditions, WRITE = PUT + RPC, TRAPWRITE, undefined ASG is DEFAULT', () => {
  const p = new AccessPolicy({ acf: parseAcf(fixture('good.acf')) });
  const alice = who('alice', 'WS1');
  assert.deepEqual(p.rights('x', undefined, alice), { read: true, put: true, rpc: true, trapWrite: true, asg: 'DEFAULT' });
  assert.deepEqual(p.rights('x', undefined, who('alice', 'elsewhere')), {
    read: true,
    put: false,
    rpc: false,
    trapWrite: false,
    asg: 'DEFAULT',
  });
  assert.deepEqual(p.rights('x', undefined, who('eve', 'ws1')), { read: true, put: false, rpc: false, trapWrite: false, asg: 'DEFAULT' });
  assert.equal(p.rights('x', 'NO_SUCH_GROUP', alice).asg, 'DEFAULT', 'an ASG the ACF lacks is DEFAULT');
  // CONTROL: WRITE is a level-0 rule, which does not apply at the default ASL of 1; RPC from lab.
  assert.deepEqual(p.rights('c', 'CONTROL', alice), { read: true, put: false, rpc: false, trapWrite: false, asg: 'CONTROL' });
  assert.deepEqual(p.rights('c', 'CONTROL', who('bob', '127.0.0.1')), {
    read: true,
    put: false,
    rpc: true,
    trapWrite: false,
    asg: 'CONTROL',
  });
  assert.deepEqual(p.rights('c', 'EMPTY', alice), { read: false, put: false, rpc: false, trapWrite: false, asg: 'EMPTY' });
  // No DEFAULT: nothing for PVs of other groups.
  const q = new AccessPolicy({ acf: parseAcf('ASG(CONTROL) { RULE(1, READ) }') });
  assert.deepEqual(q.rights('x', undefined, alice), { read: false, put: false, rpc: false, trapWrite: false, asg: 'DEFAULT' });
  assert.equal(q.rights('c', 'CONTROL', alice).read, true);
  // PUT alone grants put (and read), not RPC.
  const r = new AccessPolicy({ acf: parseAcf('ASG(DEFAULT) { RULE(1, PUT) }') });
  assert.deepEqual(r.rights('x', undefined, alice), { read: true, put: true, rpc: false, trapWrite: false, asg: 'DEFAULT' });
  // The open policy allows everything.
  assert.equal(new AccessPolicy().isOpen, true);
  assert.deepEqual(new AccessPolicy().rights('x', 'CONTROL', alice), { read: true, put: true, rpc: true, trapWrite: false, asg: '' });
});

test('PV list: groups and levels, DENY (FROM hosts), last ALLOW wins, DENY, ALLOW order, unmatched names', () => {
  const acf = parseAcf('UAG(ops) {alice}\nASG(DEFAULT) { RULE(1, READ) }\nASG(DETECTOR) { RULE(1, READ) RULE(0, WRITE) { UAG(ops) } }');
  const p = new AccessPolicy({ acf, pvlist: parsePvList(fixture('good.pvlist'), 'good.pvlist') });
  const alice = who('alice', 'ws1');
  assert.deepEqual(p.rights('det:image', undefined, alice), { read: true, put: true, rpc: true, trapWrite: false, asg: 'DETECTOR' });
  assert.deepEqual(p.rights('other', undefined, alice), { read: true, put: false, rpc: false, trapWrite: false, asg: 'DEFAULT' });
  assert.equal(p.rights('other', 'CONTROL', alice).asg, 'DEFAULT', 'ALLOW without ASG keeps the own group (undefined here → DEFAULT)');
  const secret = p.rights('det:secret1', undefined, alice);
  assert.equal(secret.read, false);
  assert.equal(
    denial('read', 'det:secret1', secret, alice).message,
    'access denied: alice@ws1 may not read det:secret1: line 5 of good.pvlist denies it',
  );
  assert.equal(p.rights('det:cal:gain', undefined, who('alice', 'WS8')).read, false);
  assert.equal(p.rights('det:cal:gain', undefined, alice).read, true);
  assert.equal(p.hides('det:secret1'), true);
  assert.equal(p.hides('det:cal:gain'), false, 'a DENY FROM some hosts does not hide the name from searches');
  // Only what a PV list allows is served.
  const only = new AccessPolicy({ pvlist: parsePvList('det:.* ALLOW') });
  assert.equal(only.hides('x'), true);
  assert.equal(only.rights('x', undefined, alice).deniedByPvList, 'no line of PV list allows it');
  assert.deepEqual(only.rights('det:x', undefined, alice), { read: true, put: true, rpc: true, trapWrite: false, asg: 'DEFAULT' });
  // DENY, ALLOW: an ALLOW overrides a DENY.
  const da = new AccessPolicy({ pvlist: parsePvList('EVALUATION ORDER DENY, ALLOW\n.* DENY\nok:.* ALLOW') });
  assert.equal(da.rights('ok:1', undefined, alice).read, true);
  assert.equal(da.rights('no:1', undefined, alice).read, false);
});

test('checkClientIp: HAG hosts match the peer address, not the announced host name', () => {
  const acf = parseAcf('HAG(h) {127.0.0.1, ws1}\nASG(DEFAULT) { RULE(1, WRITE) { HAG(h) } }');
  const p = new AccessPolicy({ acf, checkClientIp: true, addresses: new Map([['ws1', ['10.1.1.1']]]) });
  assert.equal(p.rights('x', undefined, who('a', 'ws9', '::ffff:127.0.0.1')).put, true);
  assert.equal(p.rights('x', undefined, who('a', 'ws9', '10.1.1.1')).put, true, 'ws1 resolved to 10.1.1.1');
  assert.equal(p.rights('x', undefined, who('a', 'ws1', '10.2.2.2')).put, false, 'a claimed host name is not enough');
  const byName = new AccessPolicy({ acf });
  assert.equal(byName.rights('x', undefined, who('a', 'ws1', '10.2.2.2')).put, true);
});

test('AccessPolicy.load reads both files and names the file in errors; resolves HAG hosts', async () => {
  const dir = new URL('../../../test/fixtures/access/', import.meta.url).pathname;
  const p = await AccessPolicy.load({ acfFile: `${dir}good.acf`, pvlistFile: `${dir}good.pvlist` });
  assert.equal(p.rights('det:x', undefined, who('alice', 'ws1')).asg, 'DEFAULT', 'DETECTOR is not in good.acf');
  await assert.rejects(AccessPolicy.load({ pvlistFile: `${dir}good.acf` }), /good\.acf:2: /);
  const logged: string[] = [];
  const lookupHost = async (name: string): Promise<string[]> => {
    if (name === 'ws1') return ['::ffff:10.1.1.1'];
    throw new Error('not found');
  };
  const q = await AccessPolicy.load({ acfFile: `${dir}good.acf`, checkClientIp: true, log: (l) => logged.push(l), lookupHost });
  assert.equal(q.rights('c', 'CONTROL', who('bob', 'x', '127.0.0.1')).rpc, true);
  assert.equal(q.rights('x', undefined, who('alice', 'x', '10.1.1.1')).put, true, 'ws1 resolved when loaded');
  assert.deepEqual(logged, ['access security: host ws2.example.org does not resolve (not found); it matches no client']);
  // The system resolver (localhost is in every hosts file).
  const real = await resolveHosts(['localhost'], () => {});
  assert.ok(real.get('localhost')?.some((a) => a === '127.0.0.1' || a === '::1'));
});
