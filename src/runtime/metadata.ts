// Metadata channels (PvaPy reference 4.8): `--metadata-channels pva://x,ca://y,z` (bare = CA).
// Each is a monitor of its own, with the same server queue size as the input, and always a
// receiver queue (the receiver queue size if >= 0, else 1000), which the processor reads as
// `metadataQueueMap.get(name)`. The framework never interprets the metadata; it counts it.
import { SluiceError } from '../errors.js';
import type { CaClient } from '../ca/client.js';
import type { PvaClient } from '../pva/client/client.js';
import type { MetadataQueue } from '../processing/user-data-processor.js';
import type { PVStructure } from '../pvdata/values.js';
import { pvRequest } from '../pvdata/pvrequest-builder.js';
import { withRates } from './channels.js';
import { inputUpstream, UpstreamReceiver, type Received } from './io.js';
import { ReceiverQueue, type QueueStats } from './receiver-queue.js';

export interface MetadataChannelSpec {
  protocol: 'pva' | 'ca';
  /** The name without its pva:// or ca:// prefix: the key of metadataQueueMap. */
  name: string;
}

/** `pva://a,ca://b,c` → specs; a bare name is a CA channel, as in PvaPy. */
export function parseMetadataChannels(text: string): MetadataChannelSpec[] {
  const out: MetadataChannelSpec[] = [];
  for (const raw of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z]+):\/\/(.*)$/i.exec(raw);
    const protocol = (m ? (m[1] as string).toLowerCase() : 'ca') as MetadataChannelSpec['protocol'];
    const name = m ? (m[2] as string) : raw;
    if (protocol !== 'pva' && protocol !== 'ca') {
      throw new SluiceError('ERR_USAGE', `metadata channel '${raw}': the protocol must be pva:// or ca://`);
    }
    if (!name) throw new SluiceError('ERR_USAGE', `metadata channel '${raw}' has no name`);
    if (out.some((s) => s.name === name)) throw new SluiceError('ERR_USAGE', `metadata channel '${name}' is given twice`);
    out.push({ protocol, name });
  }
  return out;
}

export interface MetadataStats {
  channel: string;
  receiverStats: Record<string, number>;
  queueStats: QueueStats;
}

/** A queue the processor reads: PVStructure values only. */
class ValueQueue implements MetadataQueue {
  constructor(readonly q: ReceiverQueue<Received>) {}
  shift(): PVStructure | undefined {
    return this.q.shift()?.value;
  }
  peek(): PVStructure | undefined {
    return this.q.peek()?.value;
  }
  get length(): number {
    return this.q.length;
  }
}

export interface MetadataOptions {
  client: PvaClient;
  /** The Channel Access client, made on first use (only ca:// channels need one). */
  caClient: () => CaClient;
  serverQueueSize: number;
  receiverQueueSize: number;
}

export class MetadataChannels {
  readonly specs: readonly MetadataChannelSpec[];
  readonly queueMap = new Map<string, MetadataQueue>();
  readonly #channels: { spec: MetadataChannelSpec; receiver: UpstreamReceiver; queue: ReceiverQueue<Received> }[] = [];

  constructor(specs: readonly MetadataChannelSpec[], o: MetadataOptions) {
    this.specs = specs;
    const size = o.receiverQueueSize >= 0 ? o.receiverQueueSize : 1000;
    const request = o.serverQueueSize > 0 ? pvRequest().record({ queueSize: o.serverQueueSize }).build() : '';
    for (const spec of specs) {
      // CA has no server queue: the CA monitor's own client queue stands in for it.
      const receiver =
        spec.protocol === 'pva'
          ? new UpstreamReceiver(inputUpstream('pva', o.client), spec.name, { request, queueSize: o.serverQueueSize })
          : new UpstreamReceiver(inputUpstream('ca', o.caClient()), spec.name, { queueSize: 0 });
      const queue = new ReceiverQueue<Received>(size);
      this.#channels.push({ spec, receiver, queue });
      this.queueMap.set(spec.name, new ValueQueue(queue));
    }
  }

  start(): void {
    for (const c of this.#channels) c.receiver.start((r) => c.queue.push(r));
  }

  stats(rate: (n: number) => number): MetadataStats[] {
    return this.#channels.map((c) => {
      const r = c.receiver.stats();
      const rejected = r.nRejected + c.queue.nRejected;
      return {
        channel: `${c.spec.protocol}://${c.spec.name}`,
        receiverStats: withRates({ nReceived: r.nReceived, nRejected: rejected, nOverruns: r.nOverruns }, rate),
        queueStats: c.queue.stats(),
      };
    });
  }

  resetStats(): void {
    for (const c of this.#channels) {
      c.receiver.resetStats();
      c.queue.resetCounters();
    }
  }

  stop(): void {
    for (const c of this.#channels) void c.receiver.stop();
  }
}
