// Shared test set-up: a Server on 127.0.0.1 port 0 and a Client pointed at it over TCP search
// (name servers), so tests need neither UDP nor fixed ports.
import { PvaClient, type PvaClientOptions } from '../../src/pva/client/client.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { PvaServer, type PvaServerOptions } from '../../src/pva/server/server.js';

export async function startServer(options: PvaServerOptions = {}): Promise<{ server: PvaServer; port: number }> {
  const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false, ...options });
  const port = await server.listen();
  return { server, port };
}

/**
 * Environment that makes clients (ours, or spawned CLIs) find only the given server, and keeps
 * any server they start from beaconing or searching beyond loopback.
 */
export function pvaEnv(port: number): Record<string, string> {
  return {
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}`,
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
  };
}

export function clientFor(port: number, options: PvaClientOptions = {}): PvaClient {
  return new PvaClient({ env: pvaEnv(port), timeoutMs: 5000, reconnectDelayMs: 100, ...options });
}

/** Resolve when `emitter` emits `event`, or reject after ms. */
export function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    emitter.once(event, (v: T) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

/**
 * Resolve with the first value of `pv` (its monitor: the current value, then every update) for
 * which `done` is true; reject after ms with the last value seen. Waits on events, never polls.
 */
export async function untilUpdate(client: PvaClient, pv: string, done: (v: PVStructure) => boolean, ms = 10_000): Promise<PVStructure> {
  const sub = client.monitor(pv, { queueSize: 4 });
  let last: PVStructure | undefined;
  const timer = setTimeout(() => sub.close(), ms);
  try {
    for await (const u of sub) {
      last = u.value;
      if (done(u.value)) return u.value;
    }
    throw new Error(
      `${pv}: no update as awaited within ${ms} ms; last value ${JSON.stringify(last, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
  } finally {
    clearTimeout(timer);
    sub.close();
  }
}
