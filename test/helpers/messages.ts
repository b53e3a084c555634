// Raw pvAccess messages as byte strings: split a stream at message boundaries (header + payload,
// control messages are header only), order a captured conversation by message, and hex helpers.
// Independent of src/pva/framer.ts on purpose, so tests can check the Framer against it.
import type { Duplex } from 'node:stream';
import type { TcpConnection } from './pcap.js';

export interface RawMessage {
  from: 'client' | 'server';
  bytes: Uint8Array;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Bytes from hex text; blanks and newlines are ignored, so vectors can be spaced for reading. */
export function unhex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`bad hex: ${text.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** Spaced hex for assertion messages: "ca 02 40 09 …". */
export function spaced(b: Uint8Array, max = 64): string {
  const s = Array.from(b.subarray(0, max), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return b.length > max ? `${s} … (${b.length} bytes)` : s;
}

/** Total length of the message starting at `at`, or -1 when the header is incomplete. */
export function messageLength(data: Uint8Array, at: number): number {
  if (data.length - at < 8) return -1;
  if (data[at + 2]! & 0x01) return 8; // control: the size field is a value
  const le = (data[at + 2]! & 0x80) === 0;
  const dv = new DataView(data.buffer, data.byteOffset + at + 4, 4);
  return 8 + dv.getUint32(0, le);
}

/** Whole messages (views) and the number of bytes they cover; a trailing partial message is left. */
export function splitMessages(data: Uint8Array): { messages: Uint8Array[]; used: number } {
  const messages: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const n = messageLength(data, at);
    if (n < 0 || at + n > data.length) break;
    messages.push(data.subarray(at, at + n));
    at += n;
  }
  return { messages, used: at };
}

/** A captured connection as the sequence of messages in the order they were complete on the wire. */
export function conversation(conn: TcpConnection): RawMessage[] {
  const out: RawMessage[] = [];
  const pending = { client: new Uint8Array(0), server: new Uint8Array(0) };
  for (const f of conn.flow) {
    const from = f.fromClient ? 'client' : 'server';
    const buf = Buffer.concat([pending[from], f.data]);
    const { messages, used } = splitMessages(buf);
    for (const m of messages) out.push({ from, bytes: new Uint8Array(m) });
    pending[from] = buf.subarray(used);
  }
  if (pending.client.length || pending.server.length) throw new Error('conversation ends inside a message');
  return out;
}

/** Header fields of a raw message (for assertions). */
export function headerOf(m: Uint8Array): { version: number; flags: number; command: number; size: number; control: boolean } {
  const flags = m[2]!;
  const le = (flags & 0x80) === 0;
  const size = new DataView(m.buffer, m.byteOffset + 4, 4).getUint32(0, le);
  return { version: m[1]!, flags, command: m[3]!, size, control: (flags & 1) !== 0 };
}

/** Payload of a raw application message (a view). */
export function payloadOf(m: Uint8Array): Uint8Array {
  return m.subarray(8);
}

/** A message with the given header fields and payload (little-endian unless flags has 0x80). */
export function message(command: number, flags: number, payload: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  const p = typeof payload === 'string' ? unhex(payload) : payload;
  const out = new Uint8Array(8 + p.length);
  out.set([0xca, 2, flags, command]);
  new DataView(out.buffer).setUint32(4, p.length, (flags & 0x80) === 0);
  out.set(p, 8);
  return out;
}

interface Waiter {
  count: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One end of a pvAccess conversation driven by a test (a raw socket or one side of a duplexPair):
 * sends raw bytes and collects whole messages as they arrive. Waits are event driven, with a
 * deadline so that a missing message fails the test instead of hanging it.
 */
export class MessagePeer {
  readonly stream: Duplex;
  readonly messages: Uint8Array[] = [];
  /** Bytes received so far. */
  bytes = 0;
  ended = false;
  #cursor = 0;
  #pending: Buffer = Buffer.alloc(0);
  #waiters: Waiter[] = [];
  #endWaiters: (() => void)[] = [];
  readonly #keep: boolean;
  readonly #onMessage: ((m: Uint8Array) => void) | undefined;

  constructor(stream: Duplex, options: { keep?: boolean; onMessage?: (m: Uint8Array) => void } = {}) {
    this.stream = stream;
    this.#keep = options.keep ?? true;
    this.#onMessage = options.onMessage;
    stream.on('data', (c: Buffer) => this.#onData(c));
    const end = (): void => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.#endWaiters.splice(0)) w();
      for (const w of this.#waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`stream ended after ${this.messages.length} messages, waiting for ${w.count}`));
      }
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  /** Messages received (or counted, when not kept). */
  count = 0;

  #onData(c: Buffer): void {
    this.bytes += c.length;
    const buf = this.#pending.length ? Buffer.concat([this.#pending, c]) : c;
    const { messages, used } = splitMessages(buf);
    for (const m of messages) {
      this.count++;
      const copy = new Uint8Array(m); // the chunk may be reused by the stream
      if (this.#keep) this.messages.push(copy);
      this.#onMessage?.(copy);
    }
    this.#pending = Buffer.from(buf.subarray(used));
    this.#waiters = this.#waiters.filter((w) => {
      if (this.count < w.count) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }

  send(b: Uint8Array | string): void {
    this.stream.write(typeof b === 'string' ? unhex(b) : b);
  }

  /** Resolves once `n` messages in total have arrived. */
  waitCount(n: number, timeoutMs = 5000): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    if (this.ended) return Promise.reject(new Error(`stream ended after ${this.count} messages, waiting for ${n}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`only ${this.count} of ${n} messages within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push({ count: n, resolve, reject, timer });
    });
  }

  /** The next message not yet returned by next() (kept messages only). */
  async next(timeoutMs = 5000): Promise<Uint8Array> {
    await this.waitCount(this.#cursor + 1, timeoutMs);
    return this.messages[this.#cursor++]!;
  }

  /** Messages received but not yet returned by next(). */
  get unread(): number {
    return this.messages.length - this.#cursor;
  }

  /** Resolves when the stream ends or closes. */
  whenEnded(timeoutMs = 5000): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream still open after ${timeoutMs} ms`)), timeoutMs);
      this.#endWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
