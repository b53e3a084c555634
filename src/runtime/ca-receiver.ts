// The consumer's `ca` input mode: monitor a Channel Access channel and hand each update to the
// consumer as a pvData normative type (NTScalar, NTScalarArray or NTEnum: see src/ca/nt-mapping.ts).
// CA has no flow control per subscription, so a consumer slower than the channel loses updates
// in the client queue (the newest replaces the last queued); they are counted as overruns.
import type { CaClient } from '../ca/client.js';
import type { CaSubscription } from '../ca/subscription.js';
import { watchConnection, type InputNotifier, type Receiver, type ReceiverStats, type Received } from './io.js';

/** Client-side queue of a CA input (updates kept while the consumer is busy). */
const DEFAULT_QUEUE = 1000;

export class CaReceiver implements Receiver {
  #sub: CaSubscription | null = null;
  #base = { received: 0, overruns: 0 };
  readonly #client: CaClient;
  readonly #channel: string;
  readonly #queueSize: number;
  readonly #notify: InputNotifier | undefined;

  /** `channel` may carry the `ca://` prefix of the consumer's command line. */
  constructor(client: CaClient, channel: string, queueSize = DEFAULT_QUEUE, notify?: InputNotifier) {
    this.#notify = notify;
    this.#client = client;
    this.#channel = channel.replace(/^ca:\/\//, '');
    this.#queueSize = queueSize > 0 ? queueSize : DEFAULT_QUEUE;
  }

  start(sink: (r: Received) => boolean | Promise<boolean>): void {
    const sub = this.#client.monitor(this.#channel, { queueSize: this.#queueSize });
    this.#sub = sub;
    if (this.#notify) watchConnection(sub, `ca://${this.#channel}`, this.#notify);
    void (async () => {
      try {
        for await (const u of sub) {
          const r = sink({ value: u.value, type: u.type, connection: sub.stats.connects });
          if (r instanceof Promise) await r;
        }
      } catch (err) {
        process.emitWarning(`input ca://${this.#channel}: ${(err as Error).message}`);
      }
    })();
  }

  stats(): ReceiverStats {
    const s = this.#sub?.stats;
    return {
      nReceived: (s?.received ?? 0) - this.#base.received,
      nRejected: 0,
      nErrors: 0,
      nOverruns: (s?.overruns ?? 0) - this.#base.overruns,
    };
  }

  resetStats(): void {
    const s = this.#sub?.stats;
    this.#base = { received: s?.received ?? 0, overruns: s?.overruns ?? 0 };
  }

  stop(): void {
    this.#sub?.close();
  }
}
