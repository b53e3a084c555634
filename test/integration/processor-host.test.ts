// ProcessorHost with a made-up input strategy: what the host does on its own (start and stop
// order, the control commands, the status PV, the output channel, the processor's context),
// whatever the input.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import type { ProcessorContext } from '../../src/processing/processor-context.js';
import type { UserProcessor } from '../../src/processing/processor-adapter.js';
import { UserDataProcessor, type ProcessorLogger } from '../../src/processing/user-data-processor.js';
import { t, type ScalarType, type StructureDesc } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { group, processorStatsT, publisherStatsT } from '../../src/runtime/channels.js';
import type { MetadataStats } from '../../src/runtime/metadata.js';
import type { ProcessorStats } from '../../src/runtime/processing-controller.js';
import { ProcessorHost } from '../../src/runtime/processor-host.js';
import { clientFor, pvaEnv } from '../helpers/net.js';

const itemT = t.struct({ uniqueId: t.int, value: t.double });

interface ListStats {
  hostId: number;
  nFed: number;
  processorStats: ProcessorStats;
  publisherStats: Record<string, number>;
  userStats: Record<string, number>;
  metadataStats: MetadataStats[];
}

/** The simplest input: objects given by the test; every hook call is logged. */
class ListInput extends ProcessorHost<ListStats> {
  readonly log: string[] = [];
  nFed = 0;
  /** Objects received and held back, as a receiver queue holds them, until finishInput(). */
  #held: PVStructure[] = [];

  constructor(processor: UserProcessor, env: NodeJS.ProcessEnv, logger?: ProcessorLogger) {
    super({
      label: 'list 7',
      idField: 'hostId',
      id: 7,
      inputLabel: 'a list',
      outputChannel: 'host:out',
      outputMode: 'pvas',
      statusChannel: 'host:status',
      controlChannel: 'host:control',
      processing: { objectIdField: 'uniqueId', objectIdOffset: 1, nSequentialUpdates: 1, skipInitialUpdates: 0 },
      processor,
      env,
      logger,
    });
  }

  feed(value: PVStructure, hold = false): void {
    this.nFed++;
    if (hold) this.#held.push(value);
    else void this.controller.process(value, itemT);
  }

  protected startInput(): void {
    this.log.push('startInput');
  }
  protected async stopReceiving(): Promise<void> {
    this.log.push('stopReceiving');
  }
  protected async finishInput(): Promise<void> {
    this.log.push(`finishInput(${this.#held.length})`);
    for (const v of this.#held.splice(0)) void this.controller.process(v, itemT);
  }
  protected applyInputConfig(cfg: Record<string, unknown>): void {
    if (cfg['refuse']) throw new InvalidArgumentError('refused by the input');
    this.log.push(`applyInputConfig(${Object.keys(cfg).join(',')})`);
  }
  protected resetInputStats(): void {
    this.log.push('resetInputStats');
    this.nFed = 0;
  }
  protected statusType(userTypes: Record<string, ScalarType>): StructureDesc {
    const fields: Record<string, StructureDesc | ReturnType<typeof t.scalar>> = {
      hostId: t.uint,
      nFed: t.uint,
      objectId: t.uint,
      objectTime: t.double,
      publisherStats: publisherStatsT,
      processorStats: processorStatsT,
    };
    if (Object.keys(userTypes).length) fields['userStats'] = group(userTypes);
    return t.struct(fields);
  }
  protected statusFields(s: ListStats): PVStructure {
    return { hostId: s.hostId, nFed: s.nFed, publisherStats: s.publisherStats, processorStats: s.processorStats };
  }
  stats(): ListStats {
    const { processorStats, publisherStats, userStats, metadataStats } = this.processingStats();
    return { hostId: 7, nFed: this.nFed, processorStats, publisherStats, userStats, metadataStats };
  }
}

class Passthrough extends UserDataProcessor {
  readonly calls: string[] = [];
  override start(): void {
    this.calls.push('start');
  }
  override configure(cfg: Record<string, unknown>): void {
    this.calls.push(`configure(${Object.keys(cfg).join(',')})`);
  }
  override stop(): void {
    this.calls.push('stop');
  }
  override getStats(): Record<string, number> {
    return { nCalls: this.calls.length };
  }
  override getStatsTypes(): Record<string, ScalarType> {
    return { nCalls: 'uint' };
  }
}

const hostEnv = (): NodeJS.ProcessEnv => ({ ...pvaEnv(0), EPICS_PVAS_SERVER_PORT: '0', EPICS_PVAS_BROADCAST_PORT: '0' });

/** A logger that keeps what is logged, as `level: message`. */
function keptLogger(): ProcessorLogger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

async function startHost(t0: TestContext): Promise<{ host: ListInput; processor: Passthrough; client: ReturnType<typeof clientFor> }> {
  const processor = new Passthrough();
  const host = new ListInput(processor, hostEnv());
  await host.start();
  const client = clientFor(host.server.tcpPort);
  t0.after(() => client.close());
  return { host, processor, client };
}

test('the host starts the processor before the input, and stops the input before the processor', async (t0) => {
  const { host, processor } = await startHost(t0);
  assert.deepEqual(processor.calls, ['start']);
  assert.deepEqual(host.log, ['startInput']);
  host.feed({ uniqueId: 1, value: 0.5 });
  const s = await host.stop();
  assert.deepEqual(host.log, ['startInput', 'stopReceiving', 'finishInput(0)']);
  assert.deepEqual(processor.calls, ['start', 'stop']);
  assert.equal(s.processorStats.nProcessed, 1);
  assert.equal(s.nFed, 1);
});

test('control commands: configure goes to the input, then the controller, then the processor; a refusal stops it', async (t0) => {
  const { host, processor, client } = await startHost(t0);
  await client.put('host:control', { command: 'configure', args: JSON.stringify({ objectIdOffset: 3, mine: 1 }) });
  assert.equal((await client.get('host:control')).value['statusMessage'], 'Configuration successful');
  assert.equal(host.controller.options.objectIdOffset, 3);
  assert.deepEqual(processor.calls, ['start', 'configure(objectIdOffset,mine)']);
  await assert.rejects(client.put('host:control', { command: 'configure', args: JSON.stringify({ refuse: true, objectIdOffset: 5 }) }));
  assert.match(String((await client.get('host:control')).value['statusMessage']), /^Configuration failed: refused by the input/);
  assert.equal(host.controller.options.objectIdOffset, 3, 'nothing applied after a refusal');
  assert.equal(processor.calls.length, 2);
  assert.equal((await client.get('host:control')).value['hostId'], 7);
  await host.stop();
});

test('status PV: the input fields, the processor statistics and userStats; reset_stats resets input and controller', async (t0) => {
  const { host, client } = await startHost(t0);
  for (let id = 1; id <= 3; id++) host.feed({ uniqueId: id, value: id });
  await client.put('host:control', { command: 'get_stats' });
  let status = (await client.get('host:status')).value;
  assert.equal(status['nFed'], 3);
  assert.equal((status['processorStats'] as PVStructure)['nProcessed'], 3);
  assert.equal((status['publisherStats'] as PVStructure)['nPublished'], 3, 'the passthrough output was opened with the first input');
  assert.equal((status['userStats'] as PVStructure)['nCalls'], 1);
  assert.deepEqual((await client.get('host:out')).value, { uniqueId: 3, value: 3 });
  await client.put('host:control', { command: 'reset_stats' });
  await client.put('host:control', { command: 'get_stats' });
  status = (await client.get('host:status')).value;
  assert.ok(host.log.includes('resetInputStats'));
  assert.equal(status['nFed'], 0);
  assert.equal((status['processorStats'] as PVStructure)['nProcessed'], 0);
  assert.equal((status['publisherStats'] as PVStructure)['nPublished'], 0);
  await host.stop();
});

test('a stop command resolves `stopped`; stop() then finishes what the input still holds', async (t0) => {
  const { host, client } = await startHost(t0);
  host.feed({ uniqueId: 1, value: 1 }, true);
  host.feed({ uniqueId: 2, value: 2 }, true);
  await client.put('host:control', { command: 'stop' });
  await host.stopped;
  assert.equal((await client.get('host:control')).value['statusMessage'], 'Stop flag set');
  client.close();
  const s = await host.stop();
  assert.equal(s.processorStats.nProcessed, 2);
  assert.deepEqual(host.log, ['startInput', 'stopReceiving', 'finishInput(2)']);
});

test('the processor gets a context in start(ctx); the framework writes no field into the processor', async (t0) => {
  class ContextUser extends UserDataProcessor {
    ctx: ProcessorContext | null = null;
    override start(ctx: ProcessorContext): void {
      this.ctx = ctx;
    }
    override process(value: PVStructure): void {
      this.ctx?.publish({ ...value, value: 2 * (value['value'] as number) });
    }
  }
  const processor = new ContextUser({ x: 1 });
  const before = Object.keys(processor).sort();
  const host = new ListInput(processor, hostEnv());
  await host.start();
  const client = clientFor(host.server.tcpPort);
  t0.after(() => client.close());
  const ctx = processor.ctx!;
  assert.equal(ctx.processorId, 7);
  assert.equal(ctx.inputChannel, 'a list');
  assert.equal(ctx.outputChannel, 'host:out');
  assert.equal(ctx.server, host.server);
  assert.deepEqual(ctx.config, { x: 1, processorId: 7, objectIdField: 'uniqueId', inputChannel: 'a list', outputChannel: 'host:out' });
  assert.equal(ctx.inputType, null);
  host.feed({ uniqueId: 1, value: 2 });
  assert.equal(ctx.inputType, itemT);
  assert.equal(ctx.outputType, itemT);
  assert.deepEqual((await client.get('host:out')).value, { uniqueId: 1, value: 4 });
  // PvaPy's attributes read the same context.
  assert.equal(processor.processorId, 7);
  assert.equal(processor.server, host.server);
  assert.equal(processor.inputType, itemT);
  assert.deepEqual(Object.keys(processor).sort(), before, 'only the processor itself set its fields');
  assert.equal(processor.publisher, null);
  await host.stop();
});

test('an output type known only later: ctx.openOutput (openOutputChannel) opens the hosted PV once', async (t0) => {
  const outT = t.struct({ uniqueId: t.int, twice: t.double });
  class Late extends UserDataProcessor {
    override getOutputType(): undefined {
      return undefined;
    }
    override process(value: PVStructure): void {
      this.openOutputChannel(outT);
      this.updateOutputChannel({ uniqueId: value['uniqueId'], twice: 2 * (value['value'] as number) });
    }
  }
  const processor = new Late();
  const host = new ListInput(processor, hostEnv());
  await host.start();
  const client = clientFor(host.server.tcpPort);
  t0.after(() => client.close());
  host.feed({ uniqueId: 1, value: 1 });
  host.feed({ uniqueId: 2, value: 5 });
  assert.equal(processor.openOutputChannel(outT), false, 'open already');
  assert.deepEqual((await client.get('host:out')).value, { uniqueId: 2, twice: 10 });
  const s = await host.stop();
  assert.equal(s.publisherStats['nPublished'], 2);
});

test('a plain class with only process() runs under the host, which adds nothing to it', async () => {
  class Counter {
    n = 0;
    process(value: PVStructure): void {
      this.n += value['uniqueId'] as number;
    }
  }
  const processor = new Counter();
  const own = Reflect.ownKeys(processor);
  const keys = Object.keys(processor);
  const methods = Reflect.ownKeys(Counter.prototype);
  const host = new ListInput(processor, hostEnv());
  await host.start();
  for (let id = 1; id <= 3; id++) host.feed({ uniqueId: id, value: id });
  assert.equal(await host.command('configure', JSON.stringify({ objectIdOffset: 1 })), 'Configuration successful');
  await host.command('reset_stats', '');
  host.feed({ uniqueId: 4, value: 4 });
  const s = await host.stop();
  assert.equal(processor.n, 10, 'every object reached process()');
  assert.equal(s.processorStats.nProcessed, 1, 'counted after reset_stats');
  assert.equal(s.processorStats.nErrors, 0, 'the defaults stood in for the missing methods');
  assert.deepEqual(s.userStats, {});
  assert.deepEqual(Object.keys(processor), keys);
  assert.deepEqual(Reflect.ownKeys(processor), own, 'no property added, enumerable or not');
  assert.deepEqual(Reflect.ownKeys(Counter.prototype), methods, 'nor to its class');
});

test("a plain class's methods are called with itself as `this`; it publishes and logs through ctx", async (t0) => {
  class Plain {
    #ctx: ProcessorContext | null = null;
    nStarted = 0;
    start(ctx: ProcessorContext): void {
      this.#ctx = ctx;
      this.nStarted++;
    }
    process(value: PVStructure): void {
      this.#ctx?.logger.info(`object ${String(value['uniqueId'])}`);
      this.#ctx?.publish({ ...value, value: 3 * (value['value'] as number) });
    }
    getStats(): Record<string, number> {
      return { nStarted: this.nStarted };
    }
    getStatsPvaTypes(): Record<string, ScalarType> {
      return { nStarted: 'uint' };
    }
  }
  const logger = keptLogger();
  const processor = new Plain();
  const keys = Reflect.ownKeys(processor);
  const host = new ListInput(processor, hostEnv(), logger);
  await host.start();
  const client = clientFor(host.server.tcpPort);
  t0.after(() => client.close());
  host.feed({ uniqueId: 1, value: 2 });
  assert.deepEqual((await client.get('host:out')).value, { uniqueId: 1, value: 6 });
  await client.put('host:control', { command: 'get_stats' });
  assert.equal(((await client.get('host:status')).value['userStats'] as PVStructure)['nStarted'], 1, "PvaPy's getStatsPvaTypes() typed it");
  await host.stop();
  assert.deepEqual(logger.lines, ['info: object 1']);
  assert.deepEqual(Reflect.ownKeys(processor), keys);
});

test("a UserDataProcessor subclass logs through this.logger: the host's, unless it set its own", async () => {
  class Talker extends UserDataProcessor {
    override start(): void {
      this.logger.info('started'); // no super.start(ctx): the base class finds the context itself
    }
    override process(value: PVStructure): void {
      this.logger.warning?.(`object ${String(value['uniqueId'])}`);
    }
  }
  const logger = keptLogger();
  logger.warning = (m) => void logger.lines.push(`warning: ${m}`);
  const talker = new Talker();
  const keys = Reflect.ownKeys(talker);
  const host = new ListInput(talker, hostEnv(), logger);
  await host.start();
  host.feed({ uniqueId: 1, value: 1 });
  await host.stop();
  assert.deepEqual(logger.lines, ['info: started', 'warning: object 1']);
  assert.deepEqual(Reflect.ownKeys(talker), keys);

  const mine = keptLogger();
  class OwnLogger extends Talker {
    constructor() {
      super();
      this.logger = mine;
    }
  }
  const other = keptLogger();
  const host2 = new ListInput(new OwnLogger(), hostEnv(), other);
  await host2.start();
  await host2.stop();
  assert.deepEqual(mine.lines, ['info: started']);
  assert.deepEqual(other.lines, []);
});

test("processing errors are logged to the host's logger", async () => {
  class Fails extends UserDataProcessor {
    override process(): void {
      throw new Error('no good');
    }
  }
  const logger = keptLogger();
  const host = new ListInput(new Fails(), hostEnv(), logger);
  await host.start();
  host.feed({ uniqueId: 1, value: 1 });
  const s = await host.stop();
  assert.equal(s.processorStats.nErrors, 1);
  assert.deepEqual(logger.lines, ['error: process() failed (1 errors so far): no good']);
});
