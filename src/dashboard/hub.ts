// One monitor per PV, shared by every web client that subscribes to it. The monitor's loop only
// keeps the newest update and tells the clients; each client decides when (and whether) to send
// it, so a fast PV costs the gateway one reference per client, not a queue. PVs are read over
// pvAccess (NAME, pva://NAME) or Channel Access (ca://NAME), as PVWS names them.
import type { CaClient } from '../ca/client.js';
import type { PvaClient } from '../pva/client/client.js';
import { ntIs } from '../pvdata/nt/common.js';
import type { PVUpdate } from '../pvdata/update.js';
import { decimate, type BinMode, type DecimatedImage } from './image.js';

/** Where a PVWS name is read: `ca://NAME` over Channel Access, `pva://NAME` and NAME over pvAccess. */
export function upstreamOf(name: string): { protocol: 'pva' | 'ca'; name: string } {
  if (name.startsWith('ca://')) return { protocol: 'ca', name: name.slice('ca://'.length) };
  return { protocol: 'pva', name: name.startsWith('pva://') ? name.slice('pva://'.length) : name };
}

/** What the hub needs of a pvAccess or Channel Access monitor. */
interface Monitor extends AsyncIterable<PVUpdate> {
  on(event: 'disconnect', listener: () => void): unknown;
  close(): void;
}

/** What a client implements to hear about a PV. */
export interface HubListener {
  onUpdate(pv: HubPV): void;
  onDisconnect(pv: HubPV): void;
  onError(pv: HubPV, message: string): void;
}

/** Wait before monitoring again a PV whose monitor ended without an update. */
const RESUBSCRIBE_DELAY_MS = 1000;

export class HubPV {
  readonly name: string;
  readonly #hub: Hub;
  #sub: Monitor;
  readonly listeners = new Set<HubListener>();
  /** The newest update, null before the first one and after a disconnect. */
  latest: PVUpdate | null = null;
  /** Updates received from the server. */
  received = 0;
  #closed = false;
  /** Binned images of `latest`, one per setting asked for: clients with the same setting share one. */
  #images = new Map<string, DecimatedImage>();
  #imagesOf: PVUpdate | null = null;

  constructor(hub: Hub, name: string) {
    this.name = name;
    this.#hub = hub;
    this.#sub = this.#monitor();
    void this.#run();
  }

  #monitor(): Monitor {
    const up = upstreamOf(this.name);
    const hub = this.#hub;
    // Images are big: a short server queue, squashed there when the gateway lags.
    const sub = up.protocol === 'ca' ? hub.ca().monitor(up.name, { queueSize: 2 }) : hub.client.monitor(up.name, { queueSize: 2 });
    sub.on('disconnect', () => this.#down());
    return sub;
  }

  #down(): void {
    // Once per loss: an ended monitor and then its channel's disconnect are one event to a display.
    if (this.latest === null) return;
    this.latest = null;
    for (const l of this.listeners) l.onDisconnect(this);
  }

  get isImage(): boolean {
    return this.latest !== null && ntIs(this.latest.type, 'NTNDArray');
  }

  /** The newest frame binned to fit maxSize (computed once per frame and setting). */
  image(maxSize: number, mode: BinMode): DecimatedImage | null {
    const u = this.latest;
    if (!u) return null;
    if (this.#imagesOf !== u) {
      this.#images.clear();
      this.#imagesOf = u;
    }
    const key = `${maxSize}/${mode}`;
    let img = this.#images.get(key);
    if (!img) {
      // A handful of settings at most in practice; a client cycling through many cannot grow this.
      if (this.#images.size >= 8) this.#images.clear();
      img = decimate(u.value, maxSize, mode);
      this.#images.set(key, img);
    }
    return img;
  }

  async #run(): Promise<void> {
    for (;;) {
      const before = this.received;
      try {
        for await (const u of this.#sub) {
          if (this.#closed) break;
          // The client squashes updates we did not take yet; we only ever look at the newest.
          this.latest = u;
          this.received++;
          for (const l of this.listeners) l.onUpdate(this); // a Session never throws from onUpdate
        }
      } catch (err) {
        if (this.#closed) return;
        for (const l of this.listeners) l.onError(this, (err as Error).message);
        return;
      }
      if (this.#closed) return;
      // The server ended the monitor (its PV closed): a display shows that as a disconnect and
      // watches the name again (a monitor ended at once waits a second, not to spin).
      this.#down();
      if (this.received === before) await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_DELAY_MS));
      if (this.#closed) return;
      this.#sub = this.#monitor();
    }
  }

  close(): void {
    this.#closed = true;
    this.#sub.close();
  }
}

/** The shared monitors, opened on the first subscriber and closed with the last. */
export class Hub {
  readonly client: PvaClient;
  readonly #pvs = new Map<string, HubPV>();
  readonly #caFactory: () => CaClient;
  #ca: CaClient | null = null;

  /** The Channel Access client is made on the first ca:// PV (and closed with the hub). */
  constructor(client: PvaClient, caClient: () => CaClient) {
    this.client = client;
    this.#caFactory = caClient;
  }

  ca(): CaClient {
    this.#ca ??= this.#caFactory();
    return this.#ca;
  }

  get size(): number {
    return this.#pvs.size;
  }

  subscribe(name: string, l: HubListener): HubPV {
    let pv = this.#pvs.get(name);
    if (!pv) {
      pv = new HubPV(this, name);
      this.#pvs.set(name, pv);
    }
    pv.listeners.add(l);
    return pv;
  }

  unsubscribe(pv: HubPV, l: HubListener): void {
    pv.listeners.delete(l);
    if (pv.listeners.size === 0 && this.#pvs.get(pv.name) === pv) {
      this.#pvs.delete(pv.name);
      pv.close();
    }
  }

  close(): void {
    for (const pv of this.#pvs.values()) pv.close();
    this.#pvs.clear();
    this.#ca?.close();
    this.#ca = null;
  }
}
