// Remote minus local clock offset (Pyacq's measure_clock_diff): a few pings, each assuming the
// server read its clock halfway through the round trip; the median resists a slow round trip.
import { performance } from 'node:perf_hooks';
import type { RPCClient } from './client.js';

export async function measureClockDiff(client: RPCClient, pings = 7): Promise<number> {
  const diffs: number[] = [];
  for (let i = 0; i < pings; i++) {
    const t0 = performance.timeOrigin + performance.now();
    const remote = await client.ping();
    const t1 = performance.timeOrigin + performance.now();
    diffs.push(remote - (t0 + t1) / 2);
  }
  diffs.sort((a, b) => a - b);
  return diffs[Math.floor(diffs.length / 2)] as number;
}
