// Builds outgoing pvAccess messages into a ByteWriter: header first, size patched at the end,
// so large arrays can be passed by reference without knowing the total size in advance.
import type { ByteWriter, WriterMark } from '../pvdata/wire.js';
import { Flags, PVA_MAGIC, PVA_VERSION } from './constants.js';

export class MessageWriter {
  readonly w: ByteWriter;
  /** Flags added to every message: FROM_SERVER for a server, BIG_ENDIAN when so agreed. */
  baseFlags: number;
  #sizeAt: { buf: DataView; at: number } | null = null;
  #bodyStart = 0;
  #mark: WriterMark | null = null;

  constructor(w: ByteWriter, fromServer: boolean) {
    this.w = w;
    this.baseFlags = (fromServer ? Flags.FROM_SERVER : 0) | (w.le ? 0 : Flags.BIG_ENDIAN);
  }

  setByteOrder(littleEndian: boolean): void {
    this.w.le = littleEndian;
    this.baseFlags = (this.baseFlags & ~Flags.BIG_ENDIAN) | (littleEndian ? 0 : Flags.BIG_ENDIAN);
  }

  begin(command: number): ByteWriter {
    const w = this.w;
    this.#mark = w.mark();
    w.u8(PVA_MAGIC);
    w.u8(PVA_VERSION);
    w.u8(this.baseFlags);
    w.u8(command);
    this.#sizeAt = w.reserve32();
    this.#bodyStart = w.length;
    return w;
  }

  end(): void {
    // plain Error: a bug in Sluice's own message code, not a condition any input can cause
    if (!this.#sizeAt) throw new Error('MessageWriter.end() without begin()');
    this.w.patch32(this.#sizeAt, this.w.length - this.#bodyStart);
    this.#sizeAt = null;
    this.#mark = null;
  }

  /** Drop the message begun last (its value failed to encode): the stream stays well-formed. */
  abort(): void {
    if (this.#mark) this.w.reset(this.#mark);
    this.#mark = null;
    this.#sizeAt = null;
  }

  /** begin(), build the body, end(); on a throw, abort() and rethrow. */
  message(command: number, build: (w: ByteWriter) => void): void {
    const w = this.begin(command);
    try {
      build(w);
    } catch (err) {
      this.abort();
      throw err;
    }
    this.end();
  }

  /** A control message: no payload, the value travels in the size field. */
  control(command: number, value: number): void {
    const w = this.w;
    w.u8(PVA_MAGIC);
    w.u8(PVA_VERSION);
    w.u8(this.baseFlags | Flags.CONTROL);
    w.u8(command);
    w.u32(value);
  }
}
