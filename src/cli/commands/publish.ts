// sluice publish: the last stage of a pipeline that EPICS tools read: the stream on stdin served
// as a PV, each value posted with its marks. Lossless towards pipelined readers: while one of
// them has a full queue, no more of the stream is read (its writer upstream waits in turn).
import { inputChunks } from '../../pipeline/fd-io.js';
import { readStream } from '../../pipeline/stdio.js';
import { SharedPV } from '../../pv/shared-pv.js';
import { accessOptions, servingServer } from '../access-options.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { hostOption, parseCount, portOption, stdio, whenAborted, type CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'publish',
  summary: 'Serve a Sluice stream (stdin or --input FILE) as a PV, value by value, then hold the last value until Ctrl-C.',
  usage: ['[options] PV'],
  description:
    'The PV opens with the type of the stream\u2019s first value; a type record mid-stream closes and reopens it ' +
    'with the new type (clients reconnect). Each value is posted with its changed and overrun marks. While a ' +
    'reader\u2019s queue is full (a pipelined monitor that has not caught up), no more of the stream is read. ' +
    'The first line printed is "listening on HOST:PORT"; "ended after N values" follows the end of the stream, ' +
    'and the PV keeps its last value until Ctrl-C. A wrong or truncated stream stops the command with exit status 1.',
  options: {
    input: { type: 'string', short: 'i', value: 'FILE', description: 'Read the stream from FILE instead of stdin.' },
    'wait-clients': {
      type: 'string',
      value: 'N',
      description: 'Read nothing until N monitors are subscribed (none then misses the first values).',
    },
    port: portOption,
    host: hostOption,
    ...accessOptions,
  },
  minPositionals: 1,
  maxPositionals: 1,
  examples: ['sluice cat sim:image | sluice publish copy:image', 'sluice publish --input frames.sls --wait-clients 1 replay:image'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const name = args.positionals[0] as string;
  const waitClients = args.values['wait-clients'] === undefined ? 0 : parseCount(args.values['wait-clients'], '--wait-clients');
  const server = await servingServer(args.values, ctx);
  const pv = new SharedPV(); // no onPut: read-only
  server.addPV(name, pv);
  const tcpPort = await server.listen();
  try {
    ctx.out(`listening on ${server.tcpHost}:${tcpPort}`);
    if (!(await pv.whenSubscribers(waitClients, ctx.signal))) return 0;
    const file = args.values.input;
    const input = file ? inputChunks(file) : stdio(ctx, 'stdin');
    let n = 0;
    try {
      for await (const item of readStream(input, { source: file ?? 'stdin' })) {
        if (ctx.signal.aborted) break;
        if (item.kind !== 'value') continue;
        n++;
        if (pv.type !== item.type) {
          // Opened with its first value (a default value first would be one readers never asked for).
          // A new type: the PV is withdrawn (closing it would end its readers' monitors), and
          // its readers reconnect to the new one.
          if (pv.isOpen) {
            server.removePV(name);
            server.addPV(name, pv);
          }
          pv.open(item.type, item.value);
        } else if (!pv.post(item.value, { changed: item.changed, overrun: item.overrun })) {
          await pv.drained();
        }
      }
    } catch (err) {
      ctx.err(`sluice publish: ${(err as Error).message}`);
      return 1;
    }
    ctx.out(`ended after ${n} values`);
    await whenAborted(ctx.signal);
    return 0;
  } finally {
    await server.close();
    if (pv.isOpen) pv.close();
  }
}
