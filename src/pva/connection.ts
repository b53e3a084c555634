// What a pvAccess TCP connection does on either side: frame incoming bytes, build and flush
// outgoing messages in batches, answer echoes, watch for silence, and bound what it buffers.
// It takes any Duplex stream (a socket, or one end of a duplexPair in tests).
import type { Duplex } from 'node:stream';
import { ProtocolError, SluiceError } from '../errors.js';
import { ByteReader, ByteWriter, type DecodeLimits } from '../pvdata/wire.js';
import { Cmd, Ctrl } from './constants.js';
import { Framer, type AppMessage, type Message } from './framer.js';
import { MessageWriter } from './message-writer.js';

export interface ConnectionLimits {
  /** Largest message (all segments together) accepted from the peer. */
  maxMessageSize: number;
  /**
   * Most segments one message may arrive in; by default one per 4 KiB of maxMessageSize (at
   * least 64). Small segments cost far more memory than their bytes.
   */
  maxSegments?: number;
  /**
   * Most fields the type descriptions in one message may have, counted as expanded (a reused
   * cached type counts all its fields). Decoding a field costs microseconds, so this bounds how
   * long one message can block the event loop. Default 1024 (a Client's default is 65,536).
   */
  maxTypeFields: number;
  /** Most elements of string, boolean, structure, union and any arrays in one message. */
  maxDecodeElements: number;
  /** Above this many buffered outgoing bytes, monitors stop sending until the socket drains. */
  sendHighWater: number;
  /**
   * Pipelined monitors go on sending within the credit their client gave up to this many
   * buffered bytes: the client has promised to take those updates, and holding them here rather
   * than squashing them lets a consumer that pauses (start-up, a GC) catch up without loss.
   */
  creditHighWater: number;
  /**
   * A producer that waits for room (SharedPV.post() false, drained()) is asked to wait while a
   * pipelined monitor's connection has this many bytes unsent, although creditHighWater would
   * take more: frames made just in time are still in the CPU cache when the kernel copies them,
   * and the process does not hold its client's whole window (bench/peers.js: Sluice's server to
   * PVXS's client at 2 MiB went from x0.27-0.46 to x1.97 of PVXS -> PVXS).
   */
  postHighWater: number;
  /** Above this many, the peer is not reading at all: the connection is closed. */
  sendHardLimit: number;
  /** Close the connection after this long without receiving anything (ms; 0 = never). */
  idleTimeoutMs: number;
  /** Send an echo after this long without sending anything (ms; 0 = never). Clients do this. */
  echoIntervalMs: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  maxMessageSize: 256 * 1024 * 1024,
  maxTypeFields: 1024,
  maxDecodeElements: 1_000_000,
  sendHighWater: 4 * 1024 * 1024,
  creditHighWater: 256 * 1024 * 1024,
  postHighWater: 16 * 1024 * 1024,
  sendHardLimit: 512 * 1024 * 1024,
  idleTimeoutMs: 40_000,
  echoIntervalMs: 0,
};

const EARLY_FLUSH_BYTES = 256 * 1024;
/** Peer messages being handled now, on any connection of the process (see scheduleFlush). */
let handling = 0;
/**
 * Handling one peer's input takes turns with everything else: after this long on messages from
 * one read, the rest waits for the next turn of the event loop (and the peer's socket is paused).
 */
const TURN_MS = 5;
const SLAB_SIZE = 1024 * 1024;
const MIN_READ = 64 * 1024;
/**
 * After a large payload, the next read takes at most this much: enough for the next header and
 * any small messages, while the bulk of a large payload that follows is read straight into its own
 * buffer. Reading the whole slab instead copied most of each 1 MiB stream chunk out of it again.
 */
const AFTER_LARGE_READ = 16 * 1024;

export abstract class PvaConnection {
  readonly stream: Duplex;
  readonly limits: ConnectionLimits;
  readonly out: MessageWriter;
  readonly framer: Framer;
  readonly #decodeLimits: DecodeLimits;
  /** Byte order the peer asked us to send in (the server's choice, announced by SET_BYTE_ORDER). */
  closed = false;
  closeReason: Error | null = null;
  bytesIn = 0;
  bytesOut = 0;
  #flushScheduled = false;
  #lastRx = Date.now();
  #lastTx = Date.now();
  #timer: NodeJS.Timeout | null = null;

  constructor(stream: Duplex, isServer: boolean, limits: Partial<ConnectionLimits> = {}) {
    this.stream = stream;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.out = new MessageWriter(new ByteWriter(true), isServer);
    this.#decodeLimits = { maxTypeFields: this.limits.maxTypeFields, maxElements: this.limits.maxDecodeElements };
    this.framer = new Framer((m) => this.#dispatch(m), this.limits.maxMessageSize, this.limits.maxSegments);
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('drain', () => this.onDrain());
    stream.on('error', (err: Error) => this.close(err));
    stream.on('close', () => this.close(null));
    stream.on('end', () => this.close(null));
    const tick = Math.min(this.limits.idleTimeoutMs || Infinity, this.limits.echoIntervalMs || Infinity);
    if (Number.isFinite(tick)) {
      this.#timer = setInterval(() => this.#checkTimers(), Math.max(50, tick / 4));
      this.#timer.unref();
    }
  }

  /** Input not yet framed because its turn was over (oldest first). */
  #backlog: Uint8Array[] = [];
  #turnStart = 0;

  /** Bytes from the peer (from 'data' events, or from a socket's onread callback). */
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    this.#lastRx = Date.now();
    if (this.#backlog.length > 0) {
      this.#backlog.push(chunk); // arrived before the pause took effect: after what waits
      return;
    }
    this.#turnStart = performance.now();
    const rest = this.#frame(chunk);
    if (rest) {
      this.#backlog.push(rest);
      this.stream.pause();
      setImmediate(() => this.#nextTurn());
    }
  }

  /** Frame a chunk; what its turn left unframed, or null. */
  #frame(chunk: Uint8Array): Uint8Array | null {
    try {
      const used = this.framer.push(chunk);
      return used < chunk.length && !this.closed ? chunk.subarray(used) : null;
    } catch (err) {
      this.protocolFailure(err);
      return null;
    }
  }

  #nextTurn(): void {
    this.#turnStart = performance.now();
    while (this.#backlog.length > 0 && !this.closed) {
      const rest = this.#frame(this.#backlog[0] as Uint8Array);
      if (rest) {
        this.#backlog[0] = rest; // out of time again
        setImmediate(() => this.#nextTurn());
        return;
      }
      this.#backlog.shift();
    }
    if (!this.closed) this.stream.resume();
  }

  // Reads land in the unused tail of a slab, so one allocation serves many reads and each read
  // may take more than 64 KiB; a slab is never written twice, so views into it stay valid.
  #slab: Uint8Array | null = null;
  #slabUsed = 0;

  /** For sockets created with `onread`: the buffer the next read fills. */
  readBuffer(): Uint8Array {
    const d = this.#backlog.length > 0 ? null : this.framer.directTarget();
    if (d) return d;
    if (!this.#slab || this.#slab.length - this.#slabUsed < MIN_READ) {
      this.#slab = new Uint8Array(Buffer.allocUnsafeSlow(SLAB_SIZE).buffer, 0, SLAB_SIZE);
      this.#slabUsed = 0;
    }
    const end = this.framer.expectLarge ? this.#slabUsed + AFTER_LARGE_READ : this.#slab.length;
    return this.#slab.subarray(this.#slabUsed, end);
  }

  /** For sockets created with `onread`: n bytes arrived in `buf` (from readBuffer()). */
  onRead(n: number, buf: Uint8Array): void {
    if (this.closed || n <= 0) return;
    const d = this.framer.directTarget();
    if (d && buf.buffer === d.buffer && buf.byteOffset === d.byteOffset) {
      // The kernel wrote straight into a large payload's own buffer.
      this.bytesIn += n;
      this.#lastRx = Date.now();
      try {
        this.framer.directFilled(n);
      } catch (err) {
        this.protocolFailure(err);
      }
      return;
    }
    if (this.#slab && buf.buffer === this.#slab.buffer) this.#slabUsed += n;
    this.receive(buf.subarray(0, n));
  }

  #dispatch(m: Message): void {
    if (this.closed) return;
    if (performance.now() - this.#turnStart > TURN_MS) this.framer.stop();
    if (m.control) {
      this.onControl(m.command, m.value, m.flags);
      return;
    }
    const r = new ByteReader(m.payload, m.littleEndian).limitWork(this.#decodeLimits);
    handling++;
    try {
      this.#handle(m, r);
    } finally {
      handling--;
    }
  }

  #handle(m: AppMessage, r: ByteReader): void {
    if (m.command === Cmd.ECHO) {
      // v2 peers echo the payload back.
      if (this.isServerSide()) {
        const w = this.out.begin(Cmd.ECHO);
        for (const p of m.payload) w.bytes(p);
        this.out.end();
        this.scheduleFlush();
      }
      return;
    }
    this.onMessage(m, r);
  }

  /** Turn an exception while handling peer bytes into a logged, orderly close. */
  protected protocolFailure(err: unknown): void {
    const e = err instanceof SluiceError ? err : new ProtocolError('ERR_PROTOCOL', `bad message from peer: ${String(err)}`, { cause: err });
    this.log('warn', `closing connection to ${this.peerName()}: ${e.message}`);
    this.close(e);
  }

  protected onControl(command: number, value: number, _flags: number): void {
    if (command === Ctrl.ECHO_REQUEST) {
      this.out.control(Ctrl.ECHO_RESPONSE, value);
      this.scheduleFlush();
    }
  }

  protected abstract onMessage(m: AppMessage, r: ByteReader): void;
  protected abstract isServerSide(): boolean;
  protected onDrain(): void {}
  protected onClose(_reason: Error | null): void {}

  log(level: 'debug' | 'info' | 'warn' | 'error', text: string): void {
    if (level === 'warn' || level === 'error') process.emitWarning(text, { code: 'SLUICE_PVA' });
  }

  /** host:port of the peer, kept once known (asked for with every put and monitor). */
  #peerName = '';

  peerName(): string {
    if (this.#peerName) return this.#peerName;
    const s = this.stream as Duplex & { remoteAddress?: string; remotePort?: number };
    if (!s.remoteAddress) return 'in-memory peer';
    this.#peerName = `${s.remoteAddress}:${s.remotePort}`;
    return this.#peerName;
  }

  /** Bytes written but not yet taken by the kernel, plus what is being built. */
  get pendingOut(): number {
    return this.stream.writableLength + this.out.w.length;
  }

  get writable(): boolean {
    return !this.closed && this.pendingOut < this.limits.sendHighWater;
  }

  /** Room for a producer posting to a pipelined monitor of this connection (see postHighWater). */
  get postable(): boolean {
    return !this.closed && this.pendingOut < Math.max(this.limits.postHighWater, this.limits.sendHighWater);
  }

  /** Room for a sender that holds the peer's credit (pipeline), or for any other one. */
  hasRoom(credited: boolean): boolean {
    const limit = credited ? Math.max(this.limits.creditHighWater, this.limits.sendHighWater) : this.limits.sendHighWater;
    return !this.closed && this.pendingOut < limit;
  }

  /**
   * Flush at the end of this tick, so messages built together go out in one writev; or now, once
   * enough is built that the peer should start receiving while we go on encoding. What a server
   * builds while handling a peer's message (on any connection: a put posted to monitors) waits
   * until this turn of the event loop has read all that was ready (setImmediate), not just this
   * read: the answers to a writer's stream of puts then go out once per turn rather than once per
   * 64 KiB read (a ninth of the writes, and of the writer's wake-ups, at 16 KiB puts). Anything
   * else (replies of asynchronous handlers, whatever a client sends) goes at the end of its tick,
   * before anything the code that built it set up with setImmediate.
   */
  scheduleFlush(): void {
    if (this.out.w.length >= EARLY_FLUSH_BYTES) {
      this.flush();
      return;
    }
    if (this.#flushScheduled || this.closed) return;
    this.#flushScheduled = true;
    if (handling > 0 && this.isServerSide()) setImmediate(this.#flushNow);
    else process.nextTick(this.#flushNow);
  }

  readonly #flushNow = (): void => this.flush();

  flush(): void {
    this.#flushScheduled = false;
    if (this.closed) return;
    const chunks = this.out.w.take();
    if (chunks.length === 0) return;
    this.#lastTx = Date.now();
    const s = this.stream;
    s.cork();
    for (const c of chunks) {
      this.bytesOut += c.length;
      s.write(c);
    }
    s.uncork();
    if (s.writableLength > this.limits.sendHardLimit) {
      this.close(new ProtocolError('ERR_LIMIT', `peer ${this.peerName()} does not read: ${s.writableLength} bytes unsent`));
    }
  }

  #checkTimers(): void {
    const now = Date.now();
    if (this.limits.idleTimeoutMs && now - this.#lastRx > this.limits.idleTimeoutMs) {
      this.close(new ProtocolError('ERR_PROTOCOL', `no message from ${this.peerName()} for ${this.limits.idleTimeoutMs} ms`));
      return;
    }
    if (this.limits.echoIntervalMs && now - this.#lastTx > this.limits.echoIntervalMs) {
      this.out.begin(Cmd.ECHO);
      this.out.end();
      this.scheduleFlush();
    }
  }

  close(reason: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.#timer) clearInterval(this.#timer);
    this.framer.dispose();
    this.stream.destroy();
    this.onClose(reason);
  }
}
