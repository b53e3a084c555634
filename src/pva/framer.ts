// Splits a TCP byte stream into pvAccess messages: a byte-at-a-time state machine that takes
// chunks of any size, joins segmented messages (first/middle/last), and passes control
// messages through at once. No copies: a payload is a list of views into the received chunks.
import { ProtocolError } from '../errors.js';
import { Flags, HEADER_SIZE, PVA_MAGIC } from './constants.js';

export interface ControlMessage {
  control: true;
  command: number;
  flags: number;
  /** The header's size field, which carries the value for control messages. */
  value: number;
}

export interface AppMessage {
  control: false;
  command: number;
  flags: number;
  version: number;
  /** Byte order of the payload (from the first segment's header). */
  littleEndian: boolean;
  payload: Uint8Array[];
  size: number;
}

export type Message = ControlMessage | AppMessage;

/** Payloads at least this large are gathered into one buffer of their own (see directTarget). */
export const DIRECT_MIN = 64 * 1024;

/**
 * Such buffers are allocated when a header announces the payload, before the bytes arrive, so
 * a peer could claim sizes it never sends: all connections of the process together may hold at
 * most this many bytes that way. Beyond it, payloads are kept as the chunks that arrive, which
 * costs only what is really received.
 */
const DIRECT_BUDGET = 64 * 1024 * 1024;
let directInUse = 0;

const enum State {
  Header,
  Payload,
}

/**
 * Each segment held for a message costs a view and an array slot besides its bytes (about 135
 * bytes), so a peer sending 1-byte segments would make memory grow 15 times faster than its input.
 * Unless set, a message may have one segment per this many bytes of maxMessageSize (at least 64):
 * 65,536 segments for the default 256 MiB, far more than real senders use (16 KiB or larger).
 */
export const BYTES_PER_SEGMENT = 4096;

/** The default bound on segments per message, derived from the message size limit. */
export function defaultMaxSegments(maxMessageSize: number): number {
  return Math.max(64, Math.ceil(maxMessageSize / BYTES_PER_SEGMENT));
}

export class Framer {
  readonly #onMessage: (m: Message) => void;
  readonly #maxMessageSize: number;
  readonly #maxSegments: number;
  #segments = 0;
  #state = State.Header;
  readonly #header = new Uint8Array(HEADER_SIZE);
  #headerHave = 0;
  // current segment
  #flags = 0;
  #command = 0;
  #version = 0;
  #want = 0;
  // logical message being assembled (segments)
  #parts: Uint8Array[] = [];
  #partsSize = 0;
  #segmenting = false;
  #segCommand = 0;
  #segFlags = 0;
  #segVersion = 0;
  // A large segment's payload is gathered here: one contiguous buffer that socket reads can fill
  // directly, so the arrays in it are views, not copies of many small chunks.
  #direct: Uint8Array | null = null;
  #directFill = 0;
  #lastLarge = false;

  constructor(onMessage: (m: Message) => void, maxMessageSize: number, maxSegments = defaultMaxSegments(maxMessageSize)) {
    this.#onMessage = onMessage;
    this.#maxMessageSize = maxMessageSize;
    this.#maxSegments = maxSegments;
  }

  /** The connection ended: give back what an unfinished large payload reserved. */
  dispose(): void {
    if (this.#direct) directInUse -= this.#direct.length;
    this.#direct = null;
    this.#parts = [];
  }

  /** Bytes held for a message not yet complete (bounded by maxMessageSize). */
  get pendingBytes(): number {
    return this.#partsSize;
  }

  #stopped = false;

  /** Called while a message is delivered: push() returns right after it, leaving the rest. */
  stop(): void {
    this.#stopped = true;
  }

  /** Frame the bytes of `chunk`; returns how many were taken (all, unless stop() was called). */
  push(chunk: Uint8Array): number {
    let pos = 0;
    const end = chunk.length;
    this.#stopped = false;
    while (pos < end && !this.#stopped) {
      if (this.#state === State.Header) {
        if (this.#headerHave === 0 && end - pos >= HEADER_SIZE) {
          this.#startMessage(chunk, pos);
          pos += HEADER_SIZE;
        } else {
          const k = Math.min(HEADER_SIZE - this.#headerHave, end - pos);
          this.#header.set(chunk.subarray(pos, pos + k), this.#headerHave);
          this.#headerHave += k;
          pos += k;
          if (this.#headerHave < HEADER_SIZE) return pos;
          this.#headerHave = 0;
          this.#startMessage(this.#header, 0);
        }
        if ((this.#state as State) === State.Payload && this.#want === 0) this.#endSegment();
        continue;
      }
      const k = Math.min(this.#want, end - pos);
      if (this.#direct) {
        this.#direct.set(chunk.subarray(pos, pos + k), this.#directFill);
        this.#directFill += k;
      } else this.#parts.push(chunk.subarray(pos, pos + k));
      this.#partsSize += k;
      this.#want -= k;
      pos += k;
      if (this.#want === 0) this.#endSegment();
    }
    return pos;
  }

  #startMessage(b: Uint8Array, at: number): void {
    if (b[at] !== PVA_MAGIC) {
      throw new ProtocolError('ERR_PROTOCOL', `bad magic byte 0x${(b[at] as number).toString(16)} (expected 0xca)`);
    }
    const version = b[at + 1] as number;
    const flags = b[at + 2] as number;
    const command = b[at + 3] as number;
    const le = (flags & Flags.BIG_ENDIAN) === 0;
    const size = le
      ? ((b[at + 4] as number) | ((b[at + 5] as number) << 8) | ((b[at + 6] as number) << 16) | ((b[at + 7] as number) << 24)) >>> 0
      : (((b[at + 4] as number) << 24) | ((b[at + 5] as number) << 16) | ((b[at + 6] as number) << 8) | (b[at + 7] as number)) >>> 0;
    if (flags & Flags.CONTROL) {
      this.#onMessage({ control: true, command, flags, value: size });
      return; // stays in Header state
    }
    if (this.#partsSize + size > this.#maxMessageSize) {
      throw new ProtocolError(
        'ERR_MESSAGE_TOO_LARGE',
        `message of ${this.#partsSize + size} bytes (command ${command}) exceeds the limit of ${this.#maxMessageSize}`,
      );
    }
    const seg = flags & Flags.SEGMENT_MASK;
    if (this.#segmenting) {
      if (seg !== Flags.SEGMENT_MIDDLE && seg !== Flags.SEGMENT_LAST) {
        throw new ProtocolError('ERR_PROTOCOL', `unsegmented message (command ${command}) inside a segmented one`);
      }
      if (command !== this.#segCommand) {
        throw new ProtocolError('ERR_PROTOCOL', `segment of command ${command} inside a message of command ${this.#segCommand}`);
      }
      if (++this.#segments >= this.#maxSegments) {
        throw new ProtocolError(
          'ERR_LIMIT',
          `message (command ${command}) split into more than ${this.#maxSegments} segments (${this.#partsSize} bytes so far)`,
        );
      }
    } else if (seg === Flags.SEGMENT_MIDDLE || seg === Flags.SEGMENT_LAST) {
      throw new ProtocolError('ERR_PROTOCOL', `middle or last segment (command ${command}) without a first one`);
    } else if (seg === Flags.SEGMENT_FIRST) {
      this.#segments = 0;
      this.#segmenting = true;
      this.#segCommand = command;
      this.#segFlags = flags;
      this.#segVersion = version;
    }
    this.#flags = flags;
    this.#command = command;
    this.#version = version;
    this.#want = size;
    this.#state = State.Payload;
    if (size >= DIRECT_MIN && directInUse + size <= DIRECT_BUDGET) {
      // Not zero-filled: every byte is written before the message is delivered.
      this.#direct = new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
      this.#directFill = 0;
      directInUse += size;
    }
  }

  /**
   * Where the next socket read should go: the unfilled rest of a large payload (so the kernel
   * copies straight into the message), or null when any fresh buffer will do.
   */
  directTarget(): Uint8Array | null {
    const d = this.#direct;
    return d && this.#state === State.Payload ? d.subarray(this.#directFill) : null;
  }

  /**
   * The last segment was large, so the next one probably is too (frames of one stream). Until its
   * header is seen, reads should be small (PvaConnection.readBuffer): what a read brings beyond the
   * header is copied out of the slab into the payload's own buffer.
   */
  get expectLarge(): boolean {
    return this.#lastLarge;
  }

  /** n bytes were read into the buffer directTarget() returned. */
  directFilled(n: number): void {
    this.#directFill += n;
    this.#partsSize += n;
    this.#want -= n;
    if (this.#want === 0) this.#endSegment();
  }

  #endSegment(): void {
    this.#state = State.Header;
    this.#lastLarge = this.#direct !== null;
    if (this.#direct) {
      this.#parts.push(this.#direct);
      directInUse -= this.#direct.length;
      this.#direct = null;
    }
    const seg = this.#flags & Flags.SEGMENT_MASK;
    if (seg === Flags.SEGMENT_FIRST || seg === Flags.SEGMENT_MIDDLE) return;
    const flags = this.#segmenting ? this.#segFlags : this.#flags;
    const msg: AppMessage = {
      control: false,
      command: this.#segmenting ? this.#segCommand : this.#command,
      flags: flags & ~Flags.SEGMENT_MASK,
      version: this.#segmenting ? this.#segVersion : this.#version,
      littleEndian: (flags & Flags.BIG_ENDIAN) === 0,
      payload: this.#parts,
      size: this.#partsSize,
    };
    this.#parts = [];
    this.#partsSize = 0;
    this.#segmenting = false;
    this.#segments = 0;
    this.#onMessage(msg);
  }
}
