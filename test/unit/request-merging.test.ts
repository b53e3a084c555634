// The requests the consumer and Client.monitor send, now built with the pvRequest builder, are
// the ones the former text splicing gave. The former code is kept here as the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inputRequest, monitorRequest, type DistributorOptions } from '../../src/consumer/options.js';
import { monitorPVRequest } from '../../src/pva/client/client.js';
import { formatPVRequest, parsePVRequest, readPVRequest, type PVRequest } from '../../src/pvdata/pvrequest.js';
import { encodeType } from '../../src/pvdata/type-codec.js';
import { t } from '../../src/pvdata/types.js';
import { encodeValue } from '../../src/pvdata/value-codec.js';
import { ByteWriter } from '../../src/pvdata/wire.js';

function wire(r: PVRequest): string {
  const w = new ByteWriter(true);
  encodeType(w, r.type);
  encodeValue(w, r.type, r.value);
  return Buffer.concat(w.take()).toString('hex');
}

/** The consumer's request text as src/consumer/options.ts spliced it before the builder. */
function formerConsumerRequest(serverQueueSize: number, fieldRequest: string, idField: string, d: DistributorOptions): string {
  let req = serverQueueSize > 0 ? `record[queueSize=${serverQueueSize}]` : '';
  if (d.group !== undefined || d.set !== undefined || d.trigger !== undefined || d.updates !== undefined) {
    const parts: string[] = [];
    if (d.group !== undefined) parts.push(`group:${d.group}`);
    if (d.set !== undefined) parts.push(`set:${d.set}`);
    if (d.trigger !== undefined) parts.push(`trigger:${d.trigger}`);
    if (d.updates !== undefined) parts.push(`updates:${d.updates}`);
    req += `field(_[${d.pluginName}=${parts.join(';')}])`;
  } else {
    let fields = fieldRequest.trim();
    const inner = /^field\((.*)\)$/.exec(fields);
    if (inner) fields = (inner[1] as string).trim();
    if (fields) {
      const names = fields.split(',').map((f) => f.trim());
      if (!names.includes(idField)) names.unshift(idField);
      req += `field(${names.join(',')})`;
    }
  }
  return req;
}

/** Client.monitor's request as it was spliced before the builder. */
function formerMonitorRequest(request: string | PVRequest | undefined, queueSize?: number, pipeline?: boolean): PVRequest {
  let text = typeof request === 'object' ? formatPVRequest(request) : (request ?? '');
  const extra: string[] = [];
  if (queueSize !== undefined) extra.push(`queueSize=${queueSize}`);
  if (pipeline !== undefined) extra.push(`pipeline=${pipeline}`);
  if (extra.length)
    text = text.includes('record[') ? text.replace('record[', `record[${extra.join(',')},`) : `${text}record[${extra.join(',')}]`;
  return extra.length || typeof request !== 'object' ? parsePVRequest(text) : request;
}

test('the consumer input request is the one spliced before, for every option combination', () => {
  const fieldRequests = [
    '',
    'value',
    'field(value,dimension)',
    ' field( value , uniqueId ) ',
    'uniqueId,value',
    'value,alarm.severity',
    'field()',
  ];
  const distributors: DistributorOptions[] = [
    { pluginName: 'pydistributor' },
    { pluginName: 'pydistributor', set: 'A', updates: 3, trigger: 'uniqueId' },
    { pluginName: 'pydistributor', group: 'g', set: 's', trigger: 'uniqueId', updates: 1 },
    { pluginName: 'distributor', updates: 2 },
  ];
  let n = 0;
  for (const q of [0, 1, 100])
    for (const f of fieldRequests)
      for (const d of distributors) {
        const former = formerConsumerRequest(q, f, 'uniqueId', d);
        if (f === 'field()' && !d.updates) continue; // see below: the one request that changed
        const what = JSON.stringify({ q, f, d });
        assert.equal(wire(inputRequest(q, f, 'uniqueId', d).build()), wire(parsePVRequest(former)), what);
        assert.equal(wire(parsePVRequest(monitorRequest(q, f, 'uniqueId', d))), wire(parsePVRequest(former)), what);
        n++;
      }
  assert.ok(n > 70);
  // The texts the tests have always expected.
  const none = { pluginName: 'pydistributor' };
  assert.equal(monitorRequest(0, '', 'uniqueId', none), '');
  assert.equal(monitorRequest(100, 'field(value,dimension)', 'uniqueId', none), 'record[queueSize=100]field(uniqueId,value,dimension)');
  // An explicit empty selection (`field()`, everything) is kept rather than dropped: same fields.
  const empty = inputRequest(0, 'field()', 'uniqueId', none).build();
  assert.deepEqual(readPVRequest(empty.type, empty.value), readPVRequest(parsePVRequest('').type, {}));
});

test('a field request with nested braces keeps them', () => {
  assert.equal(
    monitorRequest(0, 'field(value,alarm{severity,status})', 'uniqueId', { pluginName: 'pydistributor' }),
    'field(uniqueId,value,alarm{severity,status})',
  );
});

test('Client.monitor requests: queueSize and pipeline merged as before, request options win', () => {
  const requests: (string | undefined)[] = [
    undefined,
    '',
    'field(value)',
    'record[pipeline=true]',
    'field(value)record[queueSize=2]',
    'record[queueSize=8,pipeline=false]field(value,alarm)',
    '_[pydistributor=updates:1;group:mirror]',
  ];
  const queueSizes = [undefined, 4, 100];
  const pipelines = [undefined, true, false];
  for (const r of requests)
    for (const q of queueSizes)
      for (const p of pipelines) {
        const what = JSON.stringify({ r, q, p });
        const opts = {
          ...(r !== undefined ? { request: r } : {}),
          ...(q !== undefined ? { queueSize: q } : {}),
          ...(p !== undefined ? { pipeline: p } : {}),
        };
        assert.equal(wire(monitorPVRequest(opts)), wire(formerMonitorRequest(r, q, p)), what);
        const parsed = r === undefined ? undefined : parsePVRequest(r);
        assert.equal(
          wire(monitorPVRequest({ ...opts, ...(parsed ? { request: parsed } : {}) })),
          wire(formerMonitorRequest(parsed, q, p)),
          what,
        );
      }
  const r = monitorPVRequest({ request: 'record[queueSize=2]', queueSize: 10, pipeline: true });
  assert.deepEqual(readPVRequest(r.type, r.value).options, { queueSize: '2', pipeline: 'true' });
});

test('Client.monitor sends a request structure as given when it adds nothing', () => {
  const typed = {
    type: t.struct({ record: t.struct({ _options: t.struct({ queueSize: t.int }) }), field: t.struct({ value: t.struct({}) }) }),
    value: { record: { _options: { queueSize: 3 } }, field: { value: {} } },
  };
  assert.equal(monitorPVRequest({ request: typed }), typed);
  const withPipeline = monitorPVRequest({ request: typed, pipeline: true });
  assert.equal(formatPVRequest(withPipeline), 'record[pipeline=true,queueSize=3]field(value)');
});

test('an empty record[] in the request no longer breaks adding options', () => {
  assert.equal(formatPVRequest(monitorPVRequest({ request: 'record[]field(value)', queueSize: 4 })), 'record[queueSize=4]field(value)');
});
