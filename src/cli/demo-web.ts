// `sluice demo --web`: the dashboard on the demo. The consumers' servers answer searches on a
// UDP port of this demo's own (loopback only), and the dashboard's client searches there and
// asks the simulator as a name server, so the page finds the image and every status and control PV,
// the simulator's status PV among them.
import { createSocket } from 'node:dgram';
import { DashboardServer } from '../dashboard/server.js';
import { PvaClient } from '../pva/client/client.js';

export interface DemoWeb {
  /** Environment added to the consumers' so their servers answer this demo's searches. */
  consumerEnv: NodeJS.ProcessEnv;
  /** The simulator's status PV (its statusChannel), on the dashboard after the image. */
  simStatusChannel: string;
  /** Consumer options that give each consumer a control and a status PV. */
  consumerArgs: string[];
  /** Serve the dashboard on the simulator and the consumers; resolves with its URL. */
  start(simPort: number): Promise<string>;
  close(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export async function demoWeb(o: {
  host: string;
  port: number;
  imageChannel: string;
  consumerIds: number[];
  log: (line: string) => void;
}): Promise<DemoWeb> {
  const udp = String(await freeUdpPort());
  const prefix = 'sluice:demo:consumer';
  let client: PvaClient | null = null;
  let dashboard: DashboardServer | null = null;
  return {
    simStatusChannel: 'sluice:demo:sim:status',
    consumerEnv: { EPICS_PVAS_BROADCAST_PORT: udp, EPICS_PVAS_INTF_ADDR_LIST: '127.0.0.1' },
    consumerArgs: ['--control-channel', `${prefix}:*:control`, '--status-channel', `${prefix}:*:status`],
    async start(simPort) {
      client = new PvaClient({
        env: {
          EPICS_PVA_AUTO_ADDR_LIST: 'NO',
          EPICS_PVA_ADDR_LIST: '127.0.0.1',
          EPICS_PVA_BROADCAST_PORT: udp,
          EPICS_PVA_NAME_SERVERS: `127.0.0.1:${simPort}`,
        },
        timeoutMs: 5000,
      });
      const pvs = [o.imageChannel, 'sluice:demo:sim:status'];
      for (const id of o.consumerIds) pvs.push(`${prefix}:${id}:status`);
      for (const id of o.consumerIds) pvs.push(`${prefix}:${id}:control`);
      // Writes on: the demo is on loopback, and its control buttons are half the point.
      dashboard = new DashboardServer({ client, host: o.host, port: o.port, pvs, write: true, log: o.log });
      await dashboard.listen();
      return dashboard.url;
    },
    async close() {
      await dashboard?.close();
      client?.close();
    },
  };
}
