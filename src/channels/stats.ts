// Summaries of channels and readers (channelInfo, listChannels) and the load statistics channel:
// a channel like any other whose server-made value, every interval, holds per-channel message and
// byte counts and rates, per-reader buffer fill and counters, and per-client bytes in and out, as
// NTTable-like columns (one array per column), so `sluice monitor` and pvmonitor can read it.
import { t } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import type { ChannelSource } from './channel-source.js';
import type { ChannelSummary, ReaderSummary } from './protocol.js';
import type { ChannelServer } from './server.js';

export function summaryOf(ch: ChannelSource): ChannelSummary {
  const s = ch.settings;
  return {
    name: s.name,
    owner: s.owner,
    public: s.public,
    multiWriter: s.multiWriter,
    persist: s.persist,
    expiresIn: s.expiresAt ? Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000)) : -1,
    readers: ch.readers.size,
    writers: [...ch.writers.values()].filter((w) => !w.ended).length,
    messages: ch.messages,
    bytes: ch.bytes,
    typed: ch.type !== null,
  };
}

export function readerSummaries(ch: ChannelSource): ReaderSummary[] {
  return [...ch.readers.values()].map((r) => {
    const s = r.subscriber;
    const st = s.readerStats?.();
    return {
      peer: r.peer,
      client: r.client,
      policy: s.policy ?? '',
      queueSize: st?.queueSize ?? 0,
      fillRate: s.fillRate ?? 1,
      queued: st?.queued ?? 0,
      posted: st?.posted ?? 0,
      sent: st?.sent ?? 0,
      dropped: st?.dropped ?? 0,
      fillSkipped: st?.fillSkipped ?? 0,
      overruns: st?.overruns ?? 0,
    };
  });
}

export const statsType = t.struct(
  [
    [
      'channels',
      t.struct([
        ['name', t.array('string')],
        ['readers', t.array('int')],
        ['writers', t.array('int')],
        ['messages', t.array('double')],
        ['bytes', t.array('double')],
        ['messageRate', t.array('double')],
        ['byteRate', t.array('double')],
      ]),
    ],
    [
      'readers',
      t.struct([
        ['channel', t.array('string')],
        ['client', t.array('string')],
        ['peer', t.array('string')],
        ['policy', t.array('string')],
        ['queueSize', t.array('int')],
        ['queued', t.array('int')],
        ['fill', t.array('double')],
        ['posted', t.array('double')],
        ['sent', t.array('double')],
        ['dropped', t.array('double')],
        ['fillSkipped', t.array('double')],
        ['overruns', t.array('double')],
      ]),
    ],
    [
      'clients',
      t.struct([
        ['name', t.array('string')],
        ['peer', t.array('string')],
        ['bytesIn', t.array('double')],
        ['bytesOut', t.array('double')],
      ]),
    ],
    [
      'timeStamp',
      t.struct(
        [
          ['secondsPastEpoch', t.long],
          ['nanoseconds', t.int],
          ['userTag', t.int],
        ],
        'time_t',
      ),
    ],
  ],
  'sluice:channels/Stats:1.0',
);

/** The statistics channel: posts the server's load every interval. */
export class StatsChannel {
  readonly #server: ChannelServer;
  readonly #channel: ChannelSource;
  readonly #timer: NodeJS.Timeout;
  /** Per channel: messages and bytes at the last value (for rates). */
  #last = new Map<ChannelSource, { messages: number; bytes: number; at: number }>();
  /** Per reader: updates sent that were counted into its client's bytesOut. */
  #counted = new WeakMap<object, number>();

  constructor(server: ChannelServer, channel: ChannelSource, intervalMs: number) {
    this.#server = server;
    this.#channel = channel;
    channel.setType(statsType);
    this.#timer = setInterval(() => this.post(), intervalMs);
    this.#timer.unref();
  }

  /**
   * Add to each client's bytesOut what its readers were sent since the last time (the channel's
   * mean message size times updates sent: readers of one channel get the same values).
   */
  refresh(): void {
    for (const ch of this.#server.channels.values()) {
      const mean = ch.messages > 0 ? ch.bytes / ch.messages : 0;
      for (const r of ch.readers.values()) {
        const sent = r.subscriber.readerStats?.().sent ?? 0;
        const before = this.#counted.get(r.subscriber) ?? 0;
        this.#counted.set(r.subscriber, sent);
        const c = r.client ? this.#server.clients.get(r.client) : undefined;
        if (c && sent > before) c.bytesOut += (sent - before) * mean;
      }
    }
  }

  /** The current load as the channel's value. */
  value(): PVStructure {
    this.refresh();
    const now = Date.now();
    const chans = [...this.#server.channels.values()];
    const rates = chans.map((ch) => {
      const last = this.#last.get(ch);
      const dt = last ? (now - last.at) / 1000 : 0;
      this.#last.set(ch, { messages: ch.messages, bytes: ch.bytes, at: now });
      return dt > 0 && last ? [(ch.messages - last.messages) / dt, (ch.bytes - last.bytes) / dt] : [0, 0];
    });
    for (const ch of this.#last.keys()) if (!this.#server.channels.has(ch.name)) this.#last.delete(ch);
    const readers = chans.flatMap((ch) => readerSummaries(ch).map((r) => ({ ...r, channel: ch.name })));
    const clients = [...this.#server.clients.values()];
    const num = (xs: number[]) => Float64Array.from(xs);
    return {
      channels: {
        name: chans.map((c) => c.name),
        readers: Int32Array.from(chans, (c) => c.readers.size),
        writers: Int32Array.from(chans, (c) => [...c.writers.values()].filter((w) => !w.ended).length),
        messages: num(chans.map((c) => c.messages)),
        bytes: num(chans.map((c) => c.bytes)),
        messageRate: num(rates.map((r) => r[0] as number)),
        byteRate: num(rates.map((r) => r[1] as number)),
      },
      readers: {
        channel: readers.map((r) => r.channel),
        client: readers.map((r) => r.client),
        peer: readers.map((r) => r.peer),
        policy: readers.map((r) => r.policy),
        queueSize: Int32Array.from(readers, (r) => r.queueSize),
        queued: Int32Array.from(readers, (r) => r.queued),
        fill: num(readers.map((r) => (r.queueSize > 0 ? r.queued / r.queueSize : 0))),
        posted: num(readers.map((r) => r.posted)),
        sent: num(readers.map((r) => r.sent)),
        dropped: num(readers.map((r) => r.dropped)),
        fillSkipped: num(readers.map((r) => r.fillSkipped)),
        overruns: num(readers.map((r) => r.overruns)),
      },
      clients: {
        name: clients.map((c) => c.name),
        peer: clients.map((c) => c.peer),
        bytesIn: num(clients.map((c) => c.bytesIn)),
        bytesOut: num(clients.map((c) => c.bytesOut)),
      },
      timeStamp: { secondsPastEpoch: BigInt(Math.floor(now / 1000)), nanoseconds: (now % 1000) * 1e6, userTag: 0 },
    };
  }

  post(): void {
    if (this.#channel.closed) return;
    this.#channel.postFromServer(this.value());
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A table of the server's load: one line per channel, then one per reader (what `sluice server` prints). */
export class LoadTable {
  readonly #server: ChannelServer;
  #last = new Map<string, { messages: number; bytes: number; at: number }>();

  constructor(server: ChannelServer) {
    this.#server = server;
  }

  /** The table's lines, with rates since the previous call. */
  lines(): string[] {
    const now = Date.now();
    const s = this.#server;
    const out = [`${s.channels.size} channel(s), ${s.clients.size} client(s)`];
    const next = new Map<string, { messages: number; bytes: number; at: number }>();
    const rows: string[][] = [['CHANNEL', 'OWNER', 'READERS', 'WRITERS', 'MSG/S', 'MB/S', 'MESSAGES', 'DROPPED']];
    const readerRows: string[][] = [['  READER', 'CLIENT', 'POLICY', 'QUEUE', 'SENT', 'DROPPED', 'FILL-SKIP', 'OVERRUNS']];
    for (const ch of s.channels.values()) {
      const last = this.#last.get(ch.name);
      next.set(ch.name, { messages: ch.messages, bytes: ch.bytes, at: now });
      const dt = last ? (now - last.at) / 1000 : 0;
      const rate = dt > 0 && last ? (ch.messages - last.messages) / dt : 0;
      const mb = dt > 0 && last ? (ch.bytes - last.bytes) / dt / 1e6 : 0;
      const readers = readerSummaries(ch);
      const dropped = readers.reduce((a, r) => a + r.dropped, 0);
      const writers = [...ch.writers.values()].filter((w) => !w.ended).length;
      rows.push([
        ch.name,
        ch.settings.owner,
        String(ch.readers.size),
        String(writers),
        rate.toFixed(1),
        mb.toFixed(2),
        String(ch.messages),
        String(dropped),
      ]);
      for (const r of readers) {
        readerRows.push([
          `  ${ch.name} <- ${r.peer}`,
          r.client || '-',
          r.policy || 'squash',
          `${r.queued}/${r.queueSize}`,
          String(r.sent),
          String(r.dropped),
          String(r.fillSkipped),
          String(r.overruns),
        ]);
      }
    }
    this.#last = next;
    out.push(...columns(rows));
    if (readerRows.length > 1) out.push(...columns(readerRows));
    return out;
  }
}

function columns(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
}
