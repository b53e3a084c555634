// A PV Web Socket test client: connects with `ws`, keeps every message (JSON text parsed, binary
// image messages unpacked), and waits for the next one matching a predicate (events, no polling).
import { WebSocket } from 'ws';
import { unpackImage, type ImageHeader } from '../../src/dashboard/image.js';

export type Json = Record<string, unknown>;

export interface ImageMessage {
  header: ImageHeader;
  pixels: Buffer;
  bytes: number;
}

export type Message = { kind: 'json'; json: Json } | { kind: 'image'; image: ImageMessage };

export class PvwsClient {
  readonly ws: WebSocket;
  readonly messages: Message[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Messages not taken by next() yet, in arrival order. */
  readonly #pending: Message[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      if (isBinary) {
        const { header, pixels } = unpackImage(buf);
        this.messages.push({ kind: 'image', image: { header, pixels: Buffer.from(pixels), bytes: buf.length } });
      } else this.messages.push({ kind: 'json', json: JSON.parse(buf.toString('utf8')) as Json });
      this.#pending.push(this.messages[this.messages.length - 1] as Message);
      for (const w of this.#waiters) w();
    });
  }

  static async connect(url: string): Promise<PvwsClient> {
    const c = new PvwsClient(url);
    await c.opened;
    return c;
  }

  send(o: unknown): void {
    this.ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  }

  /** The first message not taken yet that matches (taking it); waits for one, rejects after ms. */
  next(match: (m: Message) => boolean, ms = 10_000, what = 'a matching message'): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const i = this.#pending.findIndex(match);
        if (i < 0) return false;
        const [m] = this.#pending.splice(i, 1);
        finish();
        resolve(m as Message);
        return true;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(this.messages.slice(-5)).slice(0, 1500)}`));
      }, ms);
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = () => void check();
      if (!check()) this.#waiters.add(waiter);
    });
  }

  /** The next JSON message of `type` (and for `pv`, when given). */
  async json(type: string, pv?: string, ms?: number): Promise<Json> {
    const m = await this.next(
      (m) => m.kind === 'json' && m.json['type'] === type && (pv === undefined || m.json['pv'] === pv),
      ms,
      `${type} ${pv ?? ''}`,
    );
    return (m as { json: Json }).json;
  }

  async image(pv: string, ms?: number): Promise<ImageMessage> {
    const m = await this.next((m) => m.kind === 'image' && m.image.header.pv === pv, ms, `image of ${pv}`);
    return (m as { image: ImageMessage }).image;
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
