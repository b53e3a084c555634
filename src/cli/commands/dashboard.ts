// sluice dashboard: a web page and a PV Web Socket gateway (ornl-epics/pvws protocol) on one
// HTTP port, for a person's machine or a beamline server, until Ctrl-C.
import { CaClient } from '../../ca/client.js';
import { DashboardServer } from '../../dashboard/server.js';
import { accessOptions, loadAccess, reloadAccessOnHangup } from '../access-options.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { parseCount, whenAborted, type CliContext } from '../common.js';
import { makeClient } from '../pva-client.js';
import { debugEnvironment, debugLog, debugOption } from '../tool-options.js';

export const spec = defineCommand({
  name: 'dashboard',
  summary: 'Serve a live web dashboard and a PV Web Socket gateway for browsers, until Ctrl-C.',
  usage: ['[options] [PV...]'],
  description:
    'Serves the page on http://HOST:PORT/ and a web socket at /pvws/pv speaking the PV Web Socket protocol of ' +
    'ornl-epics/pvws (subscribe, clear, list, write, ping, echo; JSON updates with metadata once, then changes; ' +
    'numeric arrays packed in base64), so existing PVWS web clients work against it. NTNDArray images are binned ' +
    'on the server to fit --image-size and sent as binary messages. Every client gets at most --max-fps updates ' +
    'per PV per second (the newest wins; skipped ones are counted), and nothing more while --max-buffer bytes wait ' +
    'unsent to it. Writes are refused unless --write is given, and then decided by the access rules ' +
    '(web clients are anonymous; HAGs match their IP address; control PVs are judged in ASG CONTROL). ' +
    'PVs on the command line are listed by /api/config for the page to show. PVs are read over pvAccess ' +
    '(NAME or pva://NAME, found through EPICS_PVA_ADDR_LIST, EPICS_PVA_AUTO_ADDR_LIST and EPICS_PVA_NAME_SERVERS) ' +
    'or Channel Access (ca://NAME, through EPICS_CA_ADDR_LIST and friends). The one line printed on stdout ' +
    'once listening is "dashboard: http://HOST:PORT/". See docs/dashboard.md.',
  options: {
    port: { type: 'string', value: 'PORT', description: 'TCP port of the page and the web socket; 0 picks a free one.', default: '8080' },
    host: {
      type: 'string',
      value: 'ADDR',
      description: 'Interface to serve on; 0.0.0.0 serves every interface (mind --write).',
      default: '127.0.0.1',
    },
    write: { type: 'boolean', description: 'Allow web clients to write PVs (subject to the access rules).' },
    'max-fps': { type: 'string', value: 'N', description: 'Most updates per PV per second to each client.', default: '10' },
    'image-size': {
      type: 'string',
      value: 'PIXELS',
      description: 'Images are binned (by an integer factor) until their larger side fits this.',
      default: '1024',
    },
    'max-buffer': {
      type: 'string',
      value: 'MB',
      description: 'Per client: send nothing more while this many MB wait unsent (a client that stops reading).',
      default: '8',
    },
    debug: debugOption,
    ...accessOptions,
  },
  examples: [
    'sluice dashboard',
    'sluice dashboard --port 0 SIM:image CONSUMER:1:status',
    'sluice dashboard --host 0.0.0.0 --write --access-file beamline.acf',
  ],
});

function positive(text: string | undefined, option: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${option} expects a positive number, not '${text}'`);
  return n;
}

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const port = parseCount(args.values.port, '--port', true);
  if (port > 65535) throw new UsageError(`--port expects 0..65535, not ${port}`);
  const maxFps = positive(args.values['max-fps'], '--max-fps');
  const imageSize = parseCount(args.values['image-size'], '--image-size');
  const maxBuffer = positive(args.values['max-buffer'], '--max-buffer');
  const debug = debugLog(ctx, args.values.debug);
  debugEnvironment(debug, ctx.env, 'pva');
  const policy = await loadAccess(args.values, ctx);
  const client = makeClient(ctx, 5000);
  const dashboard = new DashboardServer({
    client,
    caClient: () => new CaClient({ env: ctx.env, timeoutMs: 5000 }),
    host: args.values.host,
    port,
    pvs: args.positionals,
    write: args.values.write === true,
    policy,
    maxFps,
    imageSize,
    maxBufferedBytes: Math.round(maxBuffer * 1024 * 1024),
    log: (line) => ctx.err(line),
  });
  reloadAccessOnHangup(args.values, ctx, (p) => (dashboard.policy = p));
  try {
    await dashboard.listen();
    ctx.out(`dashboard: ${dashboard.url}`);
    await whenAborted(ctx.signal);
    return 0;
  } finally {
    await dashboard.close();
    client.close();
  }
}
