// `tcp`: the output serves one PV on a pvAccess server of its own, whose value is the last chunk
// (an NTStreamChunk, chunk-type.ts); each input is a pvAccess monitor of it. A lossless input
// asks for pipeline flow control, so a reader that falls behind fills its server queue and
// send() returns false until it catches up; a drop-oldest input does not, so its full queue
// squashes (counted in the sender's stats().dropped) and the writer never waits for it.
// Arrays go to the socket by reference and arrive as views of the received bytes when aligned.
import { randomUUID } from 'node:crypto';
import { BitSet } from '../pvdata/bitset.js';
import { ConnectionError, SluiceError } from '../errors.js';
import { PvaClient } from '../pva/client/client.js';
import type { MonitorUpdate, PvaSubscription } from '../pva/client/subscription.js';
import { PvaServer } from '../pva/server/server.js';
import type { PVSubscriber, Source } from '../pv/source.js';
import type { PVStructure } from '../pvdata/values.js';
import { typedArrayClass } from './ndarray.js';
import { buildStreamChunk, readStreamChunk, streamChunkT } from './chunk-type.js';
import {
  registerTransferMode,
  type ConnectParams,
  type NdChunk,
  type ReceiverOptions,
  type StreamReceiver,
  type StreamSender,
  type StreamSpec,
} from './transfer.js';

const WHOLE = BitSet.of(0);
/** How long close() lets readers take the end of the stream. */
const CLOSE_WAIT_MS = 2000;

/** The stream's PV: like a read-only SharedPV, but only pipelined (lossless) readers hold the writer back. */
class StreamSource implements Source {
  readonly type = streamChunkT;
  value: PVStructure | null = null;
  posts = 0;
  readonly accessGroup = undefined;
  readonly acceptsPut = false;
  readonly acceptsRpc = false;
  readonly #subscribers = new Set<PVSubscriber>();
  readonly #closeListeners = new Set<() => void>();
  #drainWaiters: { all: boolean; resolve: () => void }[] = [];

  whenOpen(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(s: PVSubscriber): () => void {
    this.#subscribers.add(s);
    return () => {
      this.#subscribers.delete(s);
      this.notifyRoom();
      if (this.#subscribers.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
    };
  }

  #idleWaiters: (() => void)[] = [];
  /** Resolves when no reader is subscribed (readers leave once they read the end of the stream). */
  idle(): Promise<void> {
    if (this.#subscribers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  post(value: PVStructure): boolean {
    this.value = value;
    this.posts++;
    let room = true;
    for (const s of this.#subscribers) {
      s.onPost(value, WHOLE);
      if (s.pipeline === true && !s.hasRoom()) room = false;
    }
    return room;
  }

  /** No lossless reader's queue is full (with `all`, no reader's at all). */
  writable(all = false): boolean {
    for (const s of this.#subscribers) if ((all || s.pipeline === true) && !s.hasRoom()) return false;
    return true;
  }

  drained(all = false): Promise<void> {
    if (this.writable(all)) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ all, resolve }));
  }

  notifyRoom(): void {
    if (this.#drainWaiters.length === 0) return;
    const waiting = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiting) {
      if (this.writable(w.all)) w.resolve();
      else this.#drainWaiters.push(w);
    }
  }

  onClosed(listener: () => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  handlePut(): never {
    throw new SluiceError('ERR_NOT_SUPPORTED', 'a stream PV is read-only');
  }

  handleRpc(): never {
    throw new SluiceError('ERR_NOT_SUPPORTED', 'a stream PV has no RPC');
  }

  /** Readers get what is queued for them, then their monitor ends (the stream is over). */
  close(): void {
    const subs = [...this.#subscribers];
    this.#subscribers.clear();
    for (const s of subs) s.onClose();
    for (const w of this.#drainWaiters.splice(0)) w.resolve();
    for (const l of this.#closeListeners) l();
  }
}

class TcpSender implements StreamSender {
  params: ConnectParams;
  readonly #spec: StreamSpec;
  readonly #server: PvaServer;
  readonly #source = new StreamSource();
  #sent = 0;
  #bytes = 0;

  constructor(spec: StreamSpec, server: PvaServer, pvName: string) {
    this.#spec = spec;
    this.#server = server;
    this.params = { ...spec, pvName };
    server.addPV(pvName, this.#source);
  }

  /** Listen, then fill in the bound port and the address inputs reach. */
  async listen(): Promise<void> {
    const port = await this.#server.listen();
    const host = this.#spec.interface === '0.0.0.0' || this.#spec.interface === '' ? '127.0.0.1' : this.#spec.interface;
    this.params = { ...this.params, port, address: `${host.includes(':') ? `[${host}]` : host}:${port}` };
  }

  send(index: number, chunk: NdChunk): boolean {
    this.#sent++;
    this.#bytes += chunk.data.byteLength;
    return this.#source.post(buildStreamChunk(index, chunk, this.#spec));
  }

  drained(): Promise<void> {
    return this.#source.drained();
  }

  stats(): { sent: number; bytes: number; readers: number; dropped: number } {
    const s = this.#server.stats;
    return { sent: this.#sent, bytes: this.#bytes, readers: s.monitors, dropped: s.overruns };
  }

  /** Server-side bytes queued for readers (bounded by the server's queue limits). */
  get queuedBytes(): number {
    return this.#server.stats.queuedBytes;
  }

  /**
   * The end of the stream travels in band, after the last chunk: a structure whose value union
   * selects nothing. It is posted once every reader's queue has room, so it never squashes the
   * last chunk of a drop-oldest reader. Readers leave when they read it; one that does not
   * read within CLOSE_WAIT_MS is cut off with the server.
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([this.#source.drained(true), timeout]);
    const last = this.#source.value;
    this.#source.post({
      ...(last ??
        buildStreamChunk(
          0,
          { data: new (typedArrayClass(this.#spec.dtype))(0) as NdChunk['data'], shape: this.#spec.shape.map(() => 0) },
          this.#spec,
        )),
      value: null,
    });
    await Promise.race([this.#source.idle(), timeout]);
    clearTimeout(timer);
    this.#source.close();
    await this.#server.close();
  }
}

class TcpReceiver implements StreamReceiver {
  readonly #client: PvaClient;
  readonly #sub: PvaSubscription;
  readonly #spec: StreamSpec;
  readonly #source: string;
  #last = -1;
  #connects = 0;
  /** The end of the stream was among the updates discardQueued() took. */
  #ended = false;

  constructor(client: PvaClient, sub: PvaSubscription, spec: StreamSpec, source: string) {
    this.#client = client;
    this.#sub = sub;
    this.#spec = spec;
    this.#source = source;
  }

  async recv(): Promise<{ index: number; chunk: NdChunk } | null> {
    if (this.#ended) {
      await this.close();
      return null;
    }
    for (;;) {
      const r: IteratorResult<MonitorUpdate> = await this.#sub.next();
      if (r.done) return null;
      const u = r.value;
      if (u.value['value'] === null) {
        // The end of the stream (the PV has no value before the first chunk, so nothing else is empty).
        await this.close();
        return null;
      }
      const got = readStreamChunk(u.type.id, u.value, this.#spec, this.#source);
      // After a reconnect the monitor starts with the current value, which this reader may have had.
      const reconnected = this.#sub.stats.connects !== this.#connects;
      this.#connects = this.#sub.stats.connects;
      if (reconnected && this.#connects > 1 && got.index <= this.#last) continue;
      this.#last = got.index;
      return got;
    }
  }

  stats(): { received: number; dropped: number } {
    return { received: this.#sub.stats.received, dropped: this.#sub.stats.queueOverruns };
  }

  queued(): number {
    if (this.#ended) return 0;
    const n = this.#sub.pending;
    // The end of the stream, when it came, is the last update queued and not a chunk.
    return n > 0 && this.#sub.peekLast()?.value['value'] === null ? n - 1 : n;
  }

  discardQueued(): number {
    let n = 0;
    for (const u of this.#sub.takeQueued()) {
      if (u.value['value'] === null) this.#ended = true;
      else {
        n++;
        const index = Number(u.value['index']);
        if (index > this.#last) this.#last = index;
      }
    }
    return n;
  }

  close(): Promise<void> {
    this.#sub.close();
    this.#client.close();
    return Promise.resolve();
  }
}

export const tcpMode = {
  name: 'tcp',
  async createSender(spec: StreamSpec): Promise<StreamSender> {
    const name = typeof spec['name'] === 'string' && spec['name'] !== '' ? spec['name'] : `sluice:stream:${randomUUID().slice(0, 8)}`;
    // Inputs find the PV by TCP search at params.address. `discoverable: true` also answers UDP
    // searches as any server does (EPICS_PVAS_* of the environment), for tools without name servers.
    const discoverable = spec['discoverable'] === true;
    const server = new PvaServer({
      host: spec.interface,
      port: spec.port,
      ...(discoverable ? {} : { udpPort: false as const, env: {} }),
      ...(typeof spec['serverLimits'] === 'object' ? { serverLimits: spec['serverLimits'] as object } : {}),
    });
    const sender = new TcpSender(spec, server, name);
    await sender.listen();
    return sender;
  },
  async createReceiver(params: ConnectParams, options: ReceiverOptions): Promise<StreamReceiver> {
    const address = params['address'];
    const pvName = params['pvName'];
    if (typeof address !== 'string' || typeof pvName !== 'string') {
      throw new ConnectionError('ERR_CHANNEL_NOT_FOUND', 'tcp stream: the params have no address and pvName (was the output configured?)');
    }
    const client = new PvaClient({
      env: { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: address },
      beaconPort: false,
      reconnectDelayMs: 200,
    });
    const lossless = options.policy === 'lossless';
    const sub = client.monitor(pvName, { queueSize: options.queueSize, pipeline: lossless });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new ConnectionError('ERR_CHANNEL_NOT_FOUND', `tcp stream: ${pvName} at ${address} did not answer`)),
          client.timeoutMs,
        );
        sub.once('connect', () => (clearTimeout(timer), resolve()));
        sub.once('error', (e: Error) => (clearTimeout(timer), reject(e)));
      });
    } catch (e) {
      sub.close();
      client.close();
      throw e;
    }
    return new TcpReceiver(client, sub, params, `${pvName} at ${address}`);
  },
};

registerTransferMode(tcpMode);
