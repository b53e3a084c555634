// Remote minus local clock offset (Pyacq's measure_clock_diff): a few pings, each assuming the
// server read its clock halfway through the round trip. The fastest round trip wins: its error
// is at most half of it, where a slow one (a busy machine) can be lopsided by its whole length.
import { performance } from 'node:perf_hooks';
import type { RPCClient } from './client.js';

export async function measureClockDiff(client: RPCClient, pings = 7): Promise<number> {
  let fastest = Infinity;
  let diff = 0;
  for (let i = 0; i < pings; i++) {
    const t0 = performance.timeOrigin + performance.now();
    const remote = await client.ping();
    const t1 = performance.timeOrigin + performance.now();
    if (t1 - t0 < fastest) {
      fastest = t1 - t0;
      diff = remote - (t0 + t1) / 2;
    }
  }
  return diff;
}
