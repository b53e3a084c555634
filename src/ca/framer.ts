// Splits a CA byte stream (TCP) into messages. Takes chunks of any size, down to one byte at a
// time. A header's payload size is checked against a bound before anything is allocated, and a
// payload is gathered from the chunks as they arrive, so a peer that claims a large size and
// never sends it costs only what it really sent.
import { ProtocolError } from '../errors.js';
import { cmdName } from './constants.js';
import { EXTENDED_HEADER_SIZE, HEADER_SIZE, headerLength, readHeader, type CaHeader, type CaMessage } from './header.js';

export class CaFramer {
  readonly #onMessage: (m: CaMessage) => void;
  readonly #maxPayload: number;
  readonly #head = new Uint8Array(EXTENDED_HEADER_SIZE);
  #headHave = 0;
  #header: CaHeader | null = null;
  #parts: Uint8Array[] = [];
  #have = 0;

  /** `maxPayload`: largest payload accepted, in bytes (a larger claim ends the stream). */
  constructor(onMessage: (m: CaMessage) => void, maxPayload: number) {
    this.#onMessage = onMessage;
    this.#maxPayload = maxPayload;
  }

  /** Bytes held for a message not yet complete. */
  get pendingBytes(): number {
    return this.#headHave + this.#have;
  }

  /** Feeds bytes; calls onMessage for each complete message. Throws on an oversized claim. */
  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#header === null) {
        // Fast path: a whole header in the chunk, nothing buffered.
        if (this.#headHave === 0) {
          const len = headerLength(chunk, pos);
          if (len !== 0 && chunk.length - pos >= len) {
            this.#begin(readHeader(chunk, pos));
            pos += len;
            pos = this.#payload(chunk, pos);
            continue;
          }
        }
        pos = this.#fillHead(chunk, pos);
        if (this.#header === null) return;
      }
      pos = this.#payload(chunk, pos);
    }
  }

  /** Buffers header bytes; starts the message once the header (standard or extended) is whole. */
  #fillHead(chunk: Uint8Array, pos: number): number {
    const want = this.#headHave < HEADER_SIZE ? HEADER_SIZE : headerLength(this.#head);
    const k = Math.min(want - this.#headHave, chunk.length - pos);
    this.#head.set(chunk.subarray(pos, pos + k), this.#headHave);
    this.#headHave += k;
    pos += k;
    if (this.#headHave === HEADER_SIZE && headerLength(this.#head) === EXTENDED_HEADER_SIZE) return pos; // 8 more to come
    if (this.#headHave === want) {
      this.#headHave = 0;
      this.#begin(readHeader(this.#head.subarray(0, want)));
    }
    return pos;
  }

  #begin(h: CaHeader): void {
    if (h.payloadSize > this.#maxPayload) {
      throw new ProtocolError(
        'ERR_MESSAGE_TOO_LARGE',
        `CA ${cmdName(h.command)} claims a ${h.payloadSize}-byte payload; the limit is ${this.#maxPayload}`,
      );
    }
    this.#header = h;
    this.#parts = [];
    this.#have = 0;
  }

  /** Takes payload bytes for the current message; delivers it when complete. */
  #payload(chunk: Uint8Array, pos: number): number {
    const h = this.#header as CaHeader;
    const k = Math.min(h.payloadSize - this.#have, chunk.length - pos);
    if (k > 0) {
      this.#parts.push(chunk.subarray(pos, pos + k));
      this.#have += k;
    }
    if (this.#have < h.payloadSize) return pos + k;
    const parts = this.#parts;
    const payload = parts.length === 1 ? (parts[0] as Uint8Array) : parts.length === 0 ? new Uint8Array(0) : concat(parts, this.#have);
    this.#header = null;
    this.#parts = [];
    this.#have = 0;
    this.#onMessage({ header: h, payload });
    return pos + k;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
