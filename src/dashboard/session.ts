// One web client of the gateway: its PV Web Socket messages in, its updates out. What it holds is
// bounded: per subscribed PV one encoder state and a "dirty" mark (the value itself is the hub's
// newest update, latest wins), and nothing is sent while the socket's send buffer is over a bound,
// so a client that stops reading costs at most that bound plus one message.
import type { WebSocket } from 'ws';
import type { ClientIdentity } from '../access/policy.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVUpdate } from '../pvdata/update.js';
import type { Hub, HubListener, HubPV } from './hub.js';
import { packImage, type BinMode } from './image.js';
import { PvwsEncoder } from './pvws-update.js';
import type { WriteRequest, WriteResult } from './write.js';

export interface SessionOptions {
  /** Most updates per second per PV (scalars and structures). */
  maxFps: number;
  /** Largest side of a sent image, in pixels. */
  imageSize: number;
  /** Most images per second per PV. */
  imageFps: number;
  binMode: BinMode;
  /** Nothing is sent while more than this many bytes wait in the socket's buffer. */
  maxBufferedBytes: number;
  maxSubscriptions: number;
  /** Writes in progress per client beyond which more are refused. */
  maxPendingWrites: number;
  /** Whether a PV (of this type, when known) is writable for this client (false when writes are off). */
  canWrite(pv: string, who: ClientIdentity, type?: StructureDesc): boolean;
  write(req: WriteRequest, who: ClientIdentity): Promise<WriteResult>;
}

interface ImageOptions {
  maxSize: number;
  fps: number;
  binMode: BinMode;
}

interface Subscription {
  pv: HubPV;
  enc: PvwsEncoder;
  fps: number;
  image: ImageOptions;
  /** The hub has an update this client was not sent yet. */
  dirty: boolean;
  lastSentMs: number;
  timer: NodeJS.Timeout | null;
  /** Whether the NTNDArray announcement went out since (re)connecting. */
  announced: boolean;
  lastError: string;
  stats: { sent: number; skipped: number; deferred: number; bytes: number };
  /** Updates superseded since the last one sent (an image header's `dropped`). */
  skippedSinceSent: number;
  /** The hub's received count when this client subscribed, less the value it then had. */
  receivedBase: number;
}

/** What answers may add to the send buffer beyond twice the bound before the client is dropped. */
const HARD_CAP_SLACK = 32 * 1024 * 1024;

/** Wait before trying again when the socket's buffer is full. */
const CONGESTED_RETRY_MS = 20;

export class Session implements HubListener {
  readonly who: ClientIdentity;
  readonly #ws: WebSocket;
  readonly #hub: Hub;
  readonly #o: SessionOptions;
  readonly #subs = new Map<string, Subscription>();
  #pendingWrites = 0;
  #closed = false;
  /** Largest send-buffer backlog seen (for the stats message and tests). */
  maxBufferedAmount = 0;

  constructor(ws: WebSocket, hub: Hub, who: ClientIdentity, options: SessionOptions) {
    this.#ws = ws;
    this.#hub = hub;
    this.who = who;
    this.#o = options;
  }

  get subscriptions(): number {
    return this.#subs.size;
  }

  // ---- messages from the client ------------------------------------------------------------

  /** Clients send JSON text; a binary message is answered with an error. */
  handleBinary(): void {
    this.#error('binary messages are not accepted: send JSON text');
  }

  /** One text message; anything wrong is answered with an error message, never a throw. */
  handle(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.#error(`message is not JSON: ${shorten(text)}`);
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return this.#error(`message is not a JSON object: ${shorten(text)}`);
    const m = msg as Record<string, unknown>;
    switch (m['type']) {
      case 'subscribe':
      case 'monitor': // epics2web's name, which PVWS accepts too
        return this.#subscribe(m, text);
      case 'clear':
        return this.#clear(m, text);
      case 'list':
        this.#sendJSON({ type: 'list', pvs: [...this.#subs.keys()] });
        return;
      case 'write':
        return this.#write(m, text);
      case 'ping':
        // PVWS answers with a web socket ping; browsers answer it with a pong by themselves.
        if (this.#ws.readyState === this.#ws.OPEN) this.#ws.ping();
        return;
      case 'echo':
        // PVWS sends the message back unchanged.
        this.#sendText(text);
        return;
      case 'stats':
        this.#sendJSON(this.stats());
        return;
      case undefined:
        return this.#error(`missing 'type' in ${shorten(text)}`);
      default:
        return this.#error(`unknown message type: ${shorten(text)}`);
    }
  }

  #pvNames(m: Record<string, unknown>, text: string): string[] | null {
    const pvs = typeof m['pvs'] === 'string' ? [m['pvs']] : m['pvs'];
    if (!Array.isArray(pvs)) {
      this.#error(`missing 'pvs' in ${shorten(text)}`);
      return null;
    }
    const bad = pvs.find((p) => typeof p !== 'string' || p.length === 0 || p.length > 512);
    if (bad !== undefined) {
      this.#error(`'pvs' must hold PV names (non-empty strings up to 512 characters), not ${shorten(JSON.stringify(bad))}`);
      return null;
    }
    return pvs as string[];
  }

  #subscribe(m: Record<string, unknown>, text: string): void {
    const names = this.#pvNames(m, text);
    if (!names) return;
    const fps = clampNumber(m['fps'], this.#o.maxFps);
    const io = typeof m['image'] === 'object' && m['image'] !== null ? (m['image'] as Record<string, unknown>) : {};
    const image: ImageOptions = {
      maxSize: Math.floor(clampNumber(io['maxSize'], this.#o.imageSize, 1)),
      fps: clampNumber(io['fps'], this.#o.imageFps),
      binMode: io['binMode'] === 'stride' || io['binMode'] === 'mean' ? io['binMode'] : this.#o.binMode,
    };
    for (const name of names) {
      if (/^[a-z]+:\/\//.test(name) && !/^(pva|ca):\/\//.test(name)) {
        this.#sendJSON({
          type: 'error',
          pv: name,
          message: `${name}: only pvAccess (NAME, pva://NAME) and Channel Access (ca://NAME) PVs are served`,
        });
        continue;
      }
      let s = this.#subs.get(name);
      if (!s) {
        if (this.#subs.size >= this.#o.maxSubscriptions) {
          this.#error(`too many subscriptions: at most ${this.#o.maxSubscriptions} PVs per client; ${name} not subscribed`);
          continue;
        }
        s = {
          pv: this.#hub.subscribe(name, this),
          enc: new PvwsEncoder(name),
          fps,
          image,
          dirty: false,
          lastSentMs: 0,
          timer: null,
          announced: false,
          lastError: '',
          stats: { sent: 0, skipped: 0, deferred: 0, bytes: 0 },
          skippedSinceSent: 0,
          receivedBase: 0,
        };
        s.receivedBase = s.pv.received - (s.pv.latest ? 1 : 0);
        this.#subs.set(name, s);
      } else {
        // Subscribing again changes the rates and sends the current value with all its metadata.
        s.fps = fps;
        s.image = image;
        s.enc.reset();
        s.announced = false;
      }
      if (s.pv.latest) {
        s.dirty = true;
        this.#flush(s);
      }
    }
  }

  #clear(m: Record<string, unknown>, text: string): void {
    const names = this.#pvNames(m, text);
    if (!names) return;
    for (const name of names) {
      const s = this.#subs.get(name);
      if (!s) continue;
      this.#drop(s);
      this.#subs.delete(name);
    }
  }

  #drop(s: Subscription): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    this.#hub.unsubscribe(s.pv, this);
  }

  #write(m: Record<string, unknown>, text: string): void {
    const pv = m['pv'];
    const id = m['id'];
    const reply = (r: Omit<WriteResult, 'pv'>): void => {
      this.#sendJSON({ type: 'write-result', pv, ...(id !== undefined ? { id } : {}), ...r });
    };
    if (typeof pv !== 'string' || !pv) return this.#error(`missing 'pv' in ${shorten(text)}`);
    if (!('value' in m)) return this.#error(`missing 'value' in ${shorten(text)}`);
    if (this.#pendingWrites >= this.#o.maxPendingWrites) {
      return reply({ ok: false, message: `too many writes in progress (at most ${this.#o.maxPendingWrites})` });
    }
    this.#pendingWrites++;
    this.#o
      .write({ pv, value: m['value'] }, this.who)
      .then(
        (r) => reply({ ok: r.ok, message: r.message, ...(r.value !== undefined ? { value: r.value } : {}) }),
        (err: unknown) => reply({ ok: false, message: (err as Error).message }),
      )
      .finally(() => this.#pendingWrites--);
  }

  // ---- updates from the hub ----------------------------------------------------------------

  onUpdate(pv: HubPV): void {
    const s = this.#subs.get(pv.name);
    if (!s || s.pv !== pv) return;
    if (s.dirty) {
      s.stats.skipped++;
      s.skippedSinceSent++;
    }
    s.dirty = true;
    this.#flush(s);
  }

  onDisconnect(pv: HubPV): void {
    const s = this.#subs.get(pv.name);
    if (!s || s.pv !== pv) return;
    if (s.dirty) s.stats.skipped++;
    s.dirty = false;
    s.enc.reset();
    s.announced = false;
    this.#sendJSON({ type: 'update', pv: pv.name, connected: false, severity: 'UNDEFINED' });
  }

  onError(pv: HubPV, message: string): void {
    if (this.#subs.get(pv.name)?.pv === pv) this.#sendJSON({ type: 'error', pv: pv.name, message });
  }

  /** Send the newest update now if its PV's rate and the socket allow, else arm a timer. */
  #flush(s: Subscription): void {
    if (!s.dirty || s.timer || this.#closed) return;
    const u = s.pv.latest;
    if (!u) return;
    const image = s.pv.isImage;
    const now = performance.now();
    const fps = image ? s.image.fps : s.fps;
    const interval = 1000 / fps;
    const due = s.lastSentMs + interval;
    if (now < due) return this.#arm(s, due - now);
    const buffered = this.#ws.bufferedAmount;
    if (buffered > this.#o.maxBufferedBytes) {
      s.stats.deferred++;
      return this.#arm(s, CONGESTED_RETRY_MS);
    }
    s.dirty = false;
    // Keep the cadence: a timer that fired late does not push every later send back too.
    s.lastSentMs = now >= due + interval ? now : due;
    try {
      if (image) this.#sendImage(s);
      else this.#sendUpdate(s, u);
    } catch (err) {
      // A value we cannot encode is this PV's problem, said once, not the gateway's.
      const why = (err as Error).message;
      if (why !== s.lastError) this.#sendJSON({ type: 'error', pv: s.pv.name, message: why });
      s.lastError = why;
    }
  }

  #arm(s: Subscription, ms: number): void {
    s.timer = setTimeout(
      () => {
        s.timer = null;
        this.#flush(s);
      },
      Math.max(1, Math.ceil(ms)),
    );
  }

  #readonly(s: Subscription): boolean {
    return !this.#o.canWrite(s.pv.name, this.who, s.pv.latest?.type);
  }

  #sendUpdate(s: Subscription, u: PVUpdate): void {
    const msg = s.enc.encode(u.type, u.value, this.#readonly(s));
    if (!msg) return;
    s.stats.sent++;
    s.skippedSinceSent = 0;
    s.stats.bytes += this.#sendJSON(msg);
  }

  #sendImage(s: Subscription): void {
    if (!s.announced) {
      s.announced = true;
      this.#sendJSON({ type: 'update', pv: s.pv.name, vtype: 'NTNDArray', connected: true, readonly: this.#readonly(s) });
    }
    let msg: Buffer;
    try {
      const img = s.pv.image(s.image.maxSize, s.image.binMode);
      if (!img) return;
      msg = packImage(s.pv.name, img, s.image.binMode, s.skippedSinceSent);
    } catch (err) {
      // Say why once per distinct reason, not once per frame.
      const why = (err as Error).message;
      if (why !== s.lastError) this.#sendJSON({ type: 'error', pv: s.pv.name, message: why });
      s.lastError = why;
      return;
    }
    s.lastError = '';
    s.stats.sent++;
    s.skippedSinceSent = 0;
    s.stats.bytes += msg.length;
    this.#send(msg);
  }

  // ---- output ------------------------------------------------------------------------------

  stats(): Record<string, unknown> {
    const pvs: Record<string, unknown> = {};
    for (const [name, s] of this.#subs) {
      pvs[name] = { received: s.pv.received - s.receivedBase, ...s.stats, connected: s.pv.latest !== null };
    }
    return { type: 'stats', bufferedAmount: this.#ws.bufferedAmount, maxBufferedAmount: this.maxBufferedAmount, pvs };
  }

  /** Report a failure that escaped the handling of a message. */
  fail(message: string): void {
    this.#error(message);
  }

  #error(message: string): void {
    this.#sendJSON({ type: 'error', message });
  }

  #sendJSON(o: object): number {
    return this.#sendText(JSON.stringify(o));
  }

  #sendText(text: string): number {
    this.#send(text);
    return text.length;
  }

  #send(data: string | Buffer): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    // Updates wait for room, but answers (echo, errors, stats) do not: a client that keeps asking
    // and never reads would make them pile up, so past twice the bound plus room for one big image
    // (1024x1024 RGB float64 is 24 MiB) it is dropped.
    if (this.#ws.bufferedAmount > 2 * this.#o.maxBufferedBytes + HARD_CAP_SLACK) {
      this.#ws.terminate();
      return;
    }
    this.#ws.send(data);
    const b = this.#ws.bufferedAmount;
    if (b > this.maxBufferedAmount) this.maxBufferedAmount = b;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#subs.values()) this.#drop(s);
    this.#subs.clear();
  }
}

/** A positive number from the client, at most `max` (the server's setting), else `max`. */
function clampNumber(v: unknown, max: number, min = 0.001): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min ? Math.min(v, max) : max;
}

function shorten(text: string): string {
  return text.length <= 200 ? text : `${text.slice(0, 200)} ...`;
}
