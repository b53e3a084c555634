// What one server lets its clients use: connections, channels and monitors (per peer and in
// total), and bytes held in monitor queues (per subscription and in total). Each limit is set in
// the Server options, else by its SLUICE_PVAS_MAX_* environment variable, else by its default.
// See docs/limits.md.
import type { Env } from '../config.js';

export interface PvaServerLimits {
  /** Open client connections in all (beyond: the new connection is closed, with a logged reason). */
  maxConnections: number;
  /** Open connections from one IP address. */
  maxConnectionsPerPeer: number;
  /** Channels on the whole server (beyond: CREATE_CHANNEL gets an error status naming the limit). */
  maxChannels: number;
  /** Channels on one connection. */
  maxChannelsPerConnection: number;
  /** Monitors on the whole server (beyond: MONITOR INIT gets an error status naming the limit). */
  maxMonitors: number;
  /** Monitors on one connection. */
  maxMonitorsPerConnection: number;
  /**
   * Bytes one subscription's queue may hold (array and string contents of the queued values, plus
   * a fixed cost per entry). Beyond, a post is squashed into the newest entry and counted as an
   * overrun, whatever queueSize the client asked for. A queue may always hold one entry.
   */
  maxQueueBytes: number;
  /** Bytes all subscription queues together may hold; beyond, posts are squashed likewise. */
  maxQueueBytesTotal: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<PvaServerLimits> = {
  maxConnections: 4096,
  maxConnectionsPerPeer: 512,
  maxChannels: 262_144,
  maxChannelsPerConnection: 65_536,
  maxMonitors: 262_144,
  maxMonitorsPerConnection: 65_536,
  maxQueueBytes: 256 * 1024 * 1024,
  maxQueueBytesTotal: 1024 * 1024 * 1024,
};

/** The environment variable of each limit: SLUICE_PVAS_MAX_CONNECTIONS_PER_PEER and so on. */
export function envNameOf(limit: keyof PvaServerLimits): string {
  return 'SLUICE_PVAS_' + limit.replace(/([A-Z])/g, '_$1').toUpperCase();
}

/** Limits from options, else the environment, else the defaults; bad variables are ignored with a warning. */
export function serverLimits(options: Partial<PvaServerLimits>, env: Env, warnings: string[]): PvaServerLimits {
  const out = { ...DEFAULT_SERVER_LIMITS };
  for (const key of Object.keys(out) as (keyof PvaServerLimits)[]) {
    const given = options[key];
    if (given !== undefined) {
      out[key] = given;
      continue;
    }
    const name = envNameOf(key);
    const text = env[name]?.trim();
    if (!text) continue;
    const n = Number(text);
    if (Number.isSafeInteger(n) && n > 0) out[key] = n;
    else warnings.push(`ignoring ${name}='${text}': expected a positive whole number`);
  }
  return out;
}
