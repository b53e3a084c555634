// The control and status PVs of a consumer or collector (PvaPy reference 3.2, 3.3). Control: a client puts
// {command, args}; commands are configure, reset_stats, get_stats and stop, and statusMessage
// tells how the last one went. Status: the statistics, refreshed by the consumer.
import { InvalidArgumentError } from '../errors.js';
import type { PvaServer } from '../pva/server/server.js';
import { SharedPV } from '../pv/shared-pv.js';
import { timeNow, timeT } from '../pvdata/nt/index.js';
import { t, type FieldDesc, type ScalarType, type StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';

export type ControlCommand = 'configure' | 'reset_stats' | 'get_stats' | 'stop';

/** Runs a command for the client at `peer`; resolves with the statusMessage to show. */
export type CommandHandler = (command: ControlCommand, args: string, peer: string) => Promise<string> | string;

/** How a failed `configure` starts its statusMessage; the put then fails too. */
export const CONFIG_FAILED = 'Configuration failed: ';

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

/** The access security group of control PVs. */
export const CONTROL_ACCESS_GROUP = 'CONTROL';

const COMMANDS: readonly string[] = ['configure', 'reset_stats', 'get_stats', 'stop'];

/** PvaPy's objectTime (seconds, a double) and objectTimestamp of now. */
function objectStamp(): { objectTime: number; objectTimestamp: ReturnType<typeof timeNow> } {
  const now = timeNow();
  return { objectTime: Number(now.secondsPastEpoch) + now.nanoseconds / 1e9, objectTimestamp: now };
}

/**
 * A status PV: each post is a complete refresh, numbered by objectId and stamped with the time,
 * then the processor's typed userStats and one metadataStats_<n> per metadata channel.
 */
export class StatusPV {
  readonly #pv: SharedPV;
  readonly #userTypes: Record<string, ScalarType>;
  #count = 0;

  constructor(server: PvaServer, name: string, type: StructureDesc, userTypes: Record<string, ScalarType>) {
    this.#pv = new SharedPV().open(type);
    this.#userTypes = userTypes;
    server.addPV(name, this.#pv);
  }

  post(fields: PVStructure, userStats: Record<string, number>, metadataStats: readonly object[]): void {
    this.#pv.post({
      ...fields,
      objectId: ++this.#count,
      ...objectStamp(),
      ...(Object.keys(this.#userTypes).length ? { userStats: typedUserStats(userStats, this.#userTypes) } : {}),
      ...Object.fromEntries(metadataStats.map((m, i) => [`metadataStats_${i + 1}`, m])),
    });
  }
}

/** What a control command acts on: a consumer or a collector. */
export interface ControlTarget {
  /** The framework's own keys of a `configure` (queue sizes, offsets), before the processor's. */
  applyConfig(cfg: Record<string, unknown>): void;
  configureProcessor(cfg: Record<string, unknown>): void | Promise<void>;
  resetStats(): void;
  refreshStatus(): unknown;
  requestStop(): void;
}

/** Run a control command; resolves with the statusMessage (PvaPy's texts). */
export async function runControlCommand(target: ControlTarget, cmd: ControlCommand, args: string): Promise<string> {
  switch (cmd) {
    case 'configure': {
      let cfg: unknown = args;
      try {
        cfg = args ? JSON.parse(args) : {};
      } catch {
        // PvaPy passes non-JSON arguments through as a string.
      }
      try {
        const obj = typeof cfg === 'object' && cfg !== null ? (cfg as Record<string, unknown>) : {};
        target.applyConfig(obj);
        await target.configureProcessor(typeof cfg === 'object' && cfg !== null ? obj : { args: cfg });
        return 'Configuration successful';
      } catch (err) {
        return CONFIG_FAILED + (err as Error).message;
      }
    }
    case 'reset_stats':
      target.resetStats();
      return 'Stats reset successful';
    case 'get_stats':
      target.refreshStatus();
      return 'Stats update successful';
    case 'stop':
      target.requestStop();
      return 'Stop flag set';
  }
}

/** Host the control PV; puts run the command and then post its result. */
export function serveControl(server: PvaServer, name: string, idField: string, id: number, handler: CommandHandler): SharedPV {
  const pv = new SharedPV({
    // An access file can lock the control PVs of consumers and collectors with ASG(CONTROL).
    accessGroup: CONTROL_ACCESS_GROUP,
    onPut: async (pv, put) => {
      const command = String(put.value['command'] ?? '');
      const args = String(put.value['args'] ?? '');
      const stamp = objectStamp();
      let statusMessage: string;
      if (!command) statusMessage = `Ignoring invalid request (no command specified): ${JSON.stringify({ command, args })}`;
      else if (!COMMANDS.includes(command)) {
        statusMessage = `Ignoring invalid request (unrecognized command specified): ${JSON.stringify({ command, args })}`;
      } else {
        // Unlike PvaPy, the command runs before the put completes, so a pvget right after the
        // pvput sees the real result, not "Command successful".
        statusMessage = await handler(command as ControlCommand, args, put.peer);
      }
      pv.post({ command, args, statusMessage, ...stamp });
      // A refused configuration is an error for the putter too (pvput exits non-zero).
      if (statusMessage.startsWith(CONFIG_FAILED)) throw new InvalidArgumentError(statusMessage);
    },
  });
  pv.open(controlType(idField), { [idField]: id });
  server.addPV(name, pv);
  return pv;
}

/**
 * Resolves once the client at `peer` has no connection to this server any more, or after `ms`:
 * a host stopped through its control PV lets the client that asked read the put's reply (and
 * fetch what it wants after it, as pvput does) and leave, before it closes its server.
 */
/** How long a host stopped through its control PV waits for that client to leave. */
export const STOP_LINGER_MS = 2000;

export function untilPeerLeaves(server: PvaServer, peer: string, ms: number): Promise<void> {
  const connected = (): boolean => [...server.connections].some((c) => c.peerName() === peer);
  if (!connected()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    server.onConnectionClosed(() => {
      if (connected()) return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** PvaPy's name of the rate that goes with each counter. */
const RATE_OF: Record<string, string> = {
  nReceived: 'receivedRate',
  nRejected: 'rejectedRate',
  nErrors: 'errorRate',
  nOverruns: 'overrunRate',
  nPublished: 'publishedRate',
  nCollected: 'collectedRate',
  nMissed: 'missedRate',
};

/** Counters with their rates interleaved (`nReceived, receivedRate, …`), as the status groups have them. */
export function withRates(counts: Record<string, number>, rate: (n: number) => number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) {
    out[k] = v;
    const r = RATE_OF[k];
    if (r) out[r] = rate(v);
  }
  return out;
}

const COUNTER: ScalarType = 'uint';
const RATE: ScalarType = 'double';

export function group(fields: Record<string, ScalarType>): StructureDesc {
  return t.struct(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, t.scalar(v)])));
}

export const receiverStatsT = group({
  nReceived: COUNTER,
  receivedRate: RATE,
  nRejected: COUNTER,
  rejectedRate: RATE,
  nErrors: COUNTER,
  errorRate: RATE,
  nOverruns: COUNTER,
  overrunRate: RATE,
});
export const publisherStatsT = group({ nPublished: COUNTER, publishedRate: RATE, nErrors: COUNTER, errorRate: RATE });
export const queueStatsT = group({ nReceived: COUNTER, nRejected: COUNTER, nDelivered: COUNTER, nQueued: COUNTER });
export const processorStatsT = group({
  runtime: RATE,
  startTime: RATE,
  endTime: RATE,
  receivingTime: RATE,
  firstObjectTime: RATE,
  lastObjectTime: RATE,
  firstObjectId: COUNTER,
  lastObjectId: COUNTER,
  nProcessed: COUNTER,
  processedRate: RATE,
  nErrors: COUNTER,
  errorRate: RATE,
  nMissed: COUNTER,
  missedRate: RATE,
  nSkipped: COUNTER,
  nRuns: COUNTER,
});

/** What one monitored input counts (a metadata channel, a collector's producer). */
export const monitorStatsT = group({
  nReceived: COUNTER,
  receivedRate: RATE,
  nRejected: COUNTER,
  rejectedRate: RATE,
  nOverruns: COUNTER,
  overrunRate: RATE,
});

export const metadataStatsT = t.struct({
  channel: t.string,
  receiverStats: monitorStatsT,
  queueStats: queueStatsT,
});

/** metadataStats_1..N fields of a status type. */
export function metadataFields(n: number): [string, FieldDesc][] {
  return Array.from({ length: n }, (_, i) => [`metadataStats_${i + 1}`, metadataStatsT] as [string, FieldDesc]);
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
