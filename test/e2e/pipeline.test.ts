// Pipeline stages chained by real OS pipes (bash), as users chain them: sim → cat → filter →
// to-json; a recorded file → head → publish, read back by a pvAccess monitor; wrong, truncated
// and cut-off streams.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StreamEncoder } from '../../src/pipeline/stream-format.js';
import { PvaClient } from '../../src/pva/client/client.js';
import { ntndarray, nttable, ntscalar } from '../../src/pvdata/nt/index.js';
import { t as types } from '../../src/pvdata/types.js';
import { completeStructure } from '../../src/pvdata/values.js';
import { loopbackEnv, startCli } from '../helpers/cli.js';
import { bash, decodeAll, idStream, idsIn, idsOf, S, tempDir } from '../helpers/pipeline.js';

test('pipeline: sim → cat → filter → to-json, and a recording → head → publish read by a monitor', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'pipe:image',
      '-nx',
      '16',
      '-ny',
      '8',
      '-fps',
      '200',
      '-rt',
      '0.15',
      '-std',
      '0',
      '-shd',
      '0',
      '--wait-clients',
      '1',
      '-dc',
    ],
    env,
  );
  const file = join(dir, 'frames.sls');
  const rec = await bash(`${S} cat -n 30 pipe:image | tee "${file}" | ${S} filter --every 3 -f uniqueId | ${S} to-json`, env);
  assert.deepEqual(rec.status, [0, 0, 0, 0], rec.stderr);
  assert.equal(await sim.exited, 0, sim.stderr());
  const ids = rec.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { uniqueId: number }).uniqueId);
  assert.equal(ids.length, 10);
  for (let i = 1; i < ids.length; i++) assert.equal((ids[i] as number) - (ids[i - 1] as number), 3, `ids ${ids.join(',')}`);

  // The recording, cut to 5 values, served as a PV; a monitor subscribed first gets all 5.
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  const pub = startCli(t, ['publish', '--input', file, '--wait-clients', '1', 'pipe:copy'], env);
  const sub = client.monitor('pipe:copy', { queueSize: 100, pipeline: true });
  const got: number[] = [];
  for await (const u of sub) {
    got.push(u.value['uniqueId'] as number);
    if (got.length === 30) break;
  }
  const all = (await bash(`${S} to-json "${file}"`, env)).stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { uniqueId: number }).uniqueId);
  assert.deepEqual(got, all, 'the monitor got every recorded frame, in order');
  await pub.line(/ended after 30 values/);
  pub.kill('SIGINT');
  assert.equal(await pub.exited, 0, pub.stderr());

  const head = await bash(`${S} head -n 5 "${file}" | ${S} to-json --marks`, env);
  assert.deepEqual(head.status, [0, 0], head.stderr);
  const lines = head.stdout.toString().trim().split('\n');
  assert.equal(lines.length, 5);
  assert.deepEqual((JSON.parse(lines[0] as string) as { overrun: string[] }).overrun, []);
  assert.ok(
    readFileSync(file)
      .subarray(0, 4)
      .equals(Buffer.from([0x89, 0x53, 0x4c, 0x53])),
  );
});

test('pipeline: a wrong, a truncated and a cut-off stream', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  const text = await bash(`echo '{"a":1}' | ${S} to-json`, env);
  assert.deepEqual(text.status, [0, 1]);
  assert.match(text.stderr, /^sluice to-json: stdin: not a Sluice stream .*looks like text/);
  assert.equal(text.stderr.trim().split('\n').length, 1, 'one line');

  const pv = startCli(t, ['mailbox', '--port', '0', 'pipe:n:int=1'], env);
  await pv.line(/serving pipe:n/);
  const file = join(dir, 'one.sls');
  const one = await bash(`${S} cat -n 1 pipe:n > "${file}" && ${S} to-json "${file}"`, env);
  assert.equal(one.stdout.toString().trim(), JSON.stringify(JSON.parse(one.stdout.toString())), one.stderr);
  const cut = await bash(`head -c 40 "${file}" | ${S} head`, env);
  assert.deepEqual(cut.status, [0, 1]);
  assert.match(cut.stderr, /sluice head: stdin: truncated/);

  pv.kill('SIGINT');
  await pv.exited;

  // A reader that goes away: cat ends quietly with status 0.
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'pipe:fast',
      '-nx',
      '8',
      '-ny',
      '8',
      '-fps',
      '1000',
      '-rt',
      '30',
      '-std',
      '0',
      '-shd',
      '0',
      '--wait-clients',
      '1',
      '-dc',
    ],
    env,
  );
  const gone = await bash(`${S} cat pipe:fast | head -c 10 > /dev/null`, env);
  assert.deepEqual(gone.status, [0, 0], gone.stderr);
  assert.equal(gone.stderr, '');
  sim.kill('SIGINT');
  await sim.exited;
});

test('pipeline: partitions are disjoint and complete in every mode, and merge puts them back', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  const file = join(dir, 'ids.sls');
  idStream(file, 31);
  const all = Array.from({ length: 31 }, (_, i) => i + 1);
  for (const mode of ['', '--block', '--seed 7']) {
    const parts: number[][] = [];
    for (let p = 1; p <= 3; p++) {
      const r = await bash(`${S} partition ${mode} ${p}/3 "${file}" > "${dir}/p${p}.sls"`, env);
      assert.deepEqual(r.status, [0], r.stderr);
      parts.push(idsIn(readFileSync(`${dir}/p${p}.sls`)));
    }
    assert.deepEqual(
      parts.flat().sort((a, b) => a - b),
      all,
      `${mode || 'round-robin'}: disjoint and complete`,
    );
    assert.ok(
      parts.every((p) => p.length >= 10 && p.length <= 11),
      `${mode}: sizes ${parts.map((p) => p.length)}`,
    );
    if (mode === '') assert.deepEqual(parts[0]?.slice(0, 3), [1, 4, 7], 'dealt like cards');
    if (mode === '--block') assert.deepEqual(parts[0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'the first block is the larger');
    const sorted = await bash(`${S} merge --sort uniqueId "${dir}/p1.sls" "${dir}/p2.sls" "${dir}/p3.sls"`, env);
    if (mode === '--seed 7') {
      // Shuffled parts are not sorted: merging by uniqueId then only keeps every value.
      assert.deepEqual(
        idsIn(sorted.stdout).sort((a, b) => a - b),
        all,
      );
    } else {
      assert.deepEqual(idsIn(sorted.stdout), all);
    }
  }
  // Round-robin partitions, merged one from each in turn: the original order.
  const rr = await bash(`${S} merge --round-robin "${dir}/p1.sls" "${dir}/p2.sls" "${dir}/p3.sls"`, env);
  assert.notDeepEqual(idsIn(rr.stdout), all, 'the last parts were shuffled: not the original order');
  for (let p = 1; p <= 3; p++) await bash(`${S} partition ${p}/3 "${file}" > "${dir}/p${p}.sls"`, env);
  const back = await bash(`${S} merge --round-robin "${dir}/p1.sls" "${dir}/p2.sls" "${dir}/p3.sls"`, env);
  assert.deepEqual(idsIn(back.stdout), all);
  const bad = await bash(`${S} partition --block 1/2 < "${file}"`, env);
  assert.deepEqual(bad.status, [2]);
  assert.match(bad.stderr, /--block needs a FILE/);
});

test('merge --sort reads the key from the bytes of frames it passes on, in either byte order', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  // NTNDArray frames: uniqueId comes after the pixel union, the codec and the dimensions.
  const type = ntndarray.type();
  const frame = (id: number) =>
    completeStructure(type, ntndarray.build({ data: new Uint16Array(64).fill(id), dims: [8, 8], uniqueId: id }));
  const write = (path: string, littleEndian: boolean, ids: number[]) => {
    const e = new StreamEncoder({ littleEndian });
    writeFileSync(path, Buffer.concat([...e.header(), ...ids.flatMap((id) => e.value(type, frame(id))), ...e.end()]));
  };
  write(join(dir, 'odd.sls'), true, [1, 3, 5, 7, 9]);
  write(join(dir, 'even.sls'), false, [2, 4, 6, 8, 10]);
  const r = await bash(`${S} merge --sort uniqueId "${dir}/odd.sls" "${dir}/even.sls"`, env);
  assert.deepEqual(r.status, [0], r.stderr);
  const values = decodeAll(r.stdout).flatMap((i) => (i.kind === 'value' ? [i.value] : []));
  assert.deepEqual(
    values.map((v) => v['uniqueId']),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  for (const v of values) {
    const id = v['uniqueId'] as number;
    assert.deepEqual((v['value'] as { value: Uint16Array }).value, new Uint16Array(64).fill(id), `frame ${id} intact`);
  }
  const none = await bash(`${S} merge --sort timeStamp.nosuch "${dir}/odd.sls" "${dir}/even.sls"`, env);
  assert.notEqual(none.status[0], 0);
  assert.match(none.stderr, /--sort timeStamp\.nosuch: the stream has no field timeStamp\.nosuch/);

  // A record whose framing is right but whose payload lies (an array of 1000 elements in 8
  // bytes, before the key): merge names the value, the input and the cause.
  const e = new StreamEncoder({ littleEndian: true });
  const idsT = types.struct({ samples: types.array('int'), uniqueId: types.int });
  const lying = Buffer.from([0x56, 0, 0, 0, 11, 0, 0, 0, 1, 1, 0, 254, 0xe8, 0x03, 0, 0, 1, 2, 3]);
  const badFile = join(dir, 'bad.sls');
  const endOfTwo = Buffer.from([0x45, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
  writeFileSync(badFile, Buffer.concat([...e.header(), ...e.value(idsT, { samples: [5], uniqueId: 1 }), lying, endOfTwo]));
  const bad = await bash(`${S} merge --sort uniqueId "${badFile}" "${dir}/odd.sls"`, env);
  assert.equal(bad.status[0], 1, bad.stderr);
  assert.match(bad.stderr, /value 2 of .*bad\.sls: cannot read --sort uniqueId: .*int\[\]/);
});

test('pipeline: tee copies a stream to stdout, a file and a named pipe', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  const file = join(dir, 'ids.sls');
  idStream(file, 50);
  const r = await bash(
    `mkfifo "${dir}/fifo"; ${S} to-json "${dir}/fifo" > "${dir}/fifo.json" & ` +
      `${S} tee "${dir}/copy.sls" "${dir}/fifo" < "${file}" | ${S} to-json; st="\${PIPESTATUS[*]}"; wait; echo "status $st" >&2; exit`,
    env,
  );
  assert.deepEqual(r.status, [0, 0], r.stderr);
  const all = Array.from({ length: 50 }, (_, i) => i + 1);
  assert.deepEqual(idsOf(r.stdout), all);
  assert.deepEqual(idsOf(readFileSync(join(dir, 'fifo.json'))), all);
  assert.deepEqual(readFileSync(join(dir, 'copy.sls')), readFileSync(file), 'the file copy is byte for byte the input');
});

test('pipeline: process runs the consumer\u2019s processors as stages (passthrough, sign then verify, a processor that throws)', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  const file = join(dir, 'ids.sls');
  idStream(file, 20);
  const same = await bash(`${S} process -q < "${file}"`, env);
  assert.deepEqual(same.status, [0], same.stderr);
  assert.ok(same.stdout.equals(readFileSync(file)), 'the passthrough processor passes values and marks on unchanged');

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = join(dir, 'key.pem');
  writeFileSync(key, privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const sign = JSON.stringify({ privateKeyFilePath: key, sign: true });
  const verify = JSON.stringify({ privateKeyFilePath: key, verify: true });
  const chain = await bash(
    `${S} process -pc DataEncryptor -pa '${sign}' < "${file}" | ${S} process -pc DataDecryptor -pa '${verify}' -of objectId`,
    env,
  );
  assert.deepEqual(chain.status, [0, 0], chain.stderr);
  assert.deepEqual(
    idsIn(chain.stdout),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.match(chain.stderr, /processed 20 values, 0 errors, published 20/);

  const thrower = join(dir, 'thrower.mjs');
  writeFileSync(
    thrower,
    `export default class Thrower { process(v) { if (v.uniqueId % 5 === 0) throw new Error('no multiples of 5'); } }\n`,
  );
  const errs = await bash(`${S} process -pf "${thrower}" < "${file}"`, env);
  assert.deepEqual(errs.status, [0], errs.stderr);
  assert.match(errs.stderr, /no multiples of 5/);
  assert.match(errs.stderr, /processed 16 values, 4 errors, published 0/);
});

test('pipeline: to-json and from-json round trip (inferred, or exact with --type-from); to-csv of flat values and of an NTTable', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  const file = join(dir, 'ids.sls');
  idStream(file, 5);
  const exact = await bash(`${S} to-json "${file}" | ${S} from-json --type-from "${file}"`, env);
  assert.deepEqual(exact.status, [0, 0], exact.stderr);
  assert.deepEqual(idsIn(exact.stdout), [1, 2, 3, 4, 5]);

  const lines = ['{"x": 1, "name": "a,b"}', '', '{"x": 2, "name": "say \\"hi\\""}', '{"x": 2.5, "name": "c", "v": [1, 2]}'].join('\n');
  writeFileSync(join(dir, 'in.jsonl'), lines + '\n');
  const csv = await bash(`${S} from-json "${join(dir, 'in.jsonl')}" | ${S} to-csv`, env);
  assert.deepEqual(csv.status, [0, 0], csv.stderr);
  assert.equal(csv.stdout.toString(), ['x,name', '1,"a,b"', '2,"say ""hi"""', 'x,name,v', '2.5,c,"[1,2]"', ''].join('\n'));

  const bad = await bash(`printf '{"x": 1}\\n[1]\\n' | ${S} from-json`, env);
  assert.deepEqual(bad.status, [0, 1]);
  assert.match(bad.stderr, /stdin line 2: a JSON object is needed/);

  const e = new StreamEncoder();
  const table = nttable.type([
    ['id', 'int'],
    ['label', 'string'],
  ]);
  const v = completeStructure(table, { labels: ['id', 'label'], value: { id: Int32Array.from([7, 8]), label: ['x', 'y'] } });
  writeFileSync(join(dir, 'table.sls'), Buffer.concat([e.header(), e.value(table, v), e.end()].flat()));
  const rows = await bash(`${S} to-csv "${join(dir, 'table.sls')}"`, env);
  assert.deepEqual(rows.status, [0], rows.stderr);
  assert.equal(rows.stdout.toString(), 'id,label\n7,x\n8,y\n');
});

test('publish: a new type mid-stream withdraws the PV after what its readers were sent; they reconnect to the new type', async (t) => {
  const env = await loopbackEnv();
  const file = join(tempDir(t), 'retyped.sls');
  const e = new StreamEncoder();
  const num = ntscalar.type('double');
  const text = ntscalar.type('string');
  writeFileSync(
    file,
    Buffer.concat(
      [
        e.header(),
        ...[1, 2, 3].map((v) => e.value(num, completeStructure(num, { value: v }))),
        ...['a', 'b', 'c'].map((v) => e.value(text, completeStructure(text, { value: v }))),
        e.end(),
      ].flat(),
    ),
  );
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  const pub = startCli(t, ['publish', '--input', file, '--wait-clients', '1', 'pipe:retyped'], env);
  const sub = client.monitor('pipe:retyped', { queueSize: 100, pipeline: true });
  const events: string[] = [];
  sub.on('disconnect', () => events.push('disconnect'));
  const got: unknown[] = [];
  for await (const u of sub) {
    got.push(u.value['value']);
    if (typeof u.value['value'] === 'string') break;
  }
  // The doubles, all of them, then (after the disconnect) the new type's current value: the
  // strings before it were posted while no reader was connected.
  assert.deepEqual(got, [1, 2, 3, 'c']);
  assert.deepEqual(events, ['disconnect']);
  await pub.line(/ended after 6 values/);
  pub.kill('SIGINT');
  assert.equal(await pub.exited, 0, pub.stderr());
});
