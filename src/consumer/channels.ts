// The control and status PVs of a consumer (PvaPy reference 3.2, 3.3). Control: a client puts
// {command, args}; commands are configure, reset_stats, get_stats and stop, and statusMessage
// tells how the last one went. Status: the statistics, refreshed by the consumer.
import type { Server } from '../pva/server/server.js';
import { SharedPV } from '../pva/server/shared-pv.js';
import { timeNow, timeT } from '../pvdata/nt/index.js';
import { t, type FieldDesc, type ScalarType, type StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';

export type ControlCommand = 'configure' | 'reset_stats' | 'get_stats' | 'stop';

/** Runs a command; resolves with the statusMessage to show. */
export type CommandHandler = (command: ControlCommand, args: string) => Promise<string> | string;

export function controlType(idField: string): StructureDesc {
  return t.struct({
    [idField]: t.uint,
    objectTime: t.double,
    objectTimestamp: timeT,
    command: t.string,
    args: t.string,
    statusMessage: t.string,
  });
}

const COMMANDS: readonly string[] = ['configure', 'reset_stats', 'get_stats', 'stop'];

/** Host the control PV; puts run the command and then post its result. */
export function serveControl(server: Server, name: string, idField: string, id: number, handler: CommandHandler): SharedPV {
  const pv = new SharedPV({
    onPut: async (pv, put) => {
      const command = String(put.value['command'] ?? '');
      const args = String(put.value['args'] ?? '');
      const now = timeNow();
      const stamp = { objectTime: Number(now.secondsPastEpoch) + now.nanoseconds / 1e9, objectTimestamp: now };
      let statusMessage: string;
      if (!command) statusMessage = `Ignoring invalid request (no command specified): ${JSON.stringify({ command, args })}`;
      else if (!COMMANDS.includes(command)) {
        statusMessage = `Ignoring invalid request (unrecognized command specified): ${JSON.stringify({ command, args })}`;
      } else {
        // Unlike PvaPy, the command runs before the put completes, so a pvget right after the
        // pvput sees the real result, not "Command successful".
        statusMessage = await handler(command as ControlCommand, args);
      }
      pv.post({ command, args, statusMessage, ...stamp });
    },
  });
  pv.open(controlType(idField), { [idField]: id });
  server.addPV(name, pv);
  return pv;
}

const COUNTER: ScalarType = 'uint';
const RATE: ScalarType = 'double';

function group(fields: Record<string, ScalarType>): StructureDesc {
  return t.struct(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, t.scalar(v)])));
}

export const receiverStatsT = group({
  nReceived: COUNTER, receivedRate: RATE, nRejected: COUNTER, rejectedRate: RATE,
  nErrors: COUNTER, errorRate: RATE, nOverruns: COUNTER, overrunRate: RATE,
});
export const publisherStatsT = group({ nPublished: COUNTER, publishedRate: RATE, nErrors: COUNTER, errorRate: RATE });
export const queueStatsT = group({ nReceived: COUNTER, nRejected: COUNTER, nDelivered: COUNTER, nQueued: COUNTER });
export const processorStatsT = group({
  runtime: RATE, startTime: RATE, endTime: RATE, receivingTime: RATE, firstObjectTime: RATE, lastObjectTime: RATE,
  firstObjectId: COUNTER, lastObjectId: COUNTER, nProcessed: COUNTER, processedRate: RATE,
  nErrors: COUNTER, errorRate: RATE, nMissed: COUNTER, missedRate: RATE,
});

/** The consumer status type; userStats holds the processor's typed statistics. */
export function statusType(userTypes: Record<string, ScalarType>): StructureDesc {
  const fields: [string, FieldDesc][] = [
    ['consumerId', t.uint],
    ['inputChannel', t.string],
    ['objectId', t.uint],
    ['objectTime', t.double],
    ['objectTimestamp', timeT],
    ['receiverStats', receiverStatsT],
    ['publisherStats', publisherStatsT],
    ['queueStats', queueStatsT],
    ['processorStats', processorStatsT],
  ];
  if (Object.keys(userTypes).length > 0) fields.push(['userStats', group(userTypes)]);
  return t.struct(fields);
}

/** Keep only the declared user stats, as numbers of the declared types. */
export function typedUserStats(stats: Record<string, number>, types: Record<string, ScalarType>): PVStructure {
  const out: PVStructure = {};
  for (const [k, type] of Object.entries(types)) {
    const v = Number(stats[k] ?? 0);
    out[k] = type === 'long' || type === 'ulong' ? BigInt(Math.trunc(v)) : v;
  }
  return out;
}
