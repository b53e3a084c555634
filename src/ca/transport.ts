// The one part of the CA code that touches sockets: a framed TCP link (client or server side),
// a TCP listener, and a UDP endpoint. Everything else works on messages and byte arrays, so
// the protocol logic is testable without a network and the socket handling is in one place.
import dgram from 'node:dgram';
import net from 'node:net';
import { ConnectionError, ProtocolError } from '../errors.js';
import { CaFramer } from './framer.js';
import type { CaMessage } from './header.js';

export interface LinkHandlers {
  onMessage(m: CaMessage): void;
  /** Called once; `reason` is null when the peer closed cleanly or we closed without error. */
  onClose(reason: Error | null): void;
  /** The socket's send buffer emptied. */
  onDrain?(): void;
}

/** A TCP connection carrying CA messages. */
export class TcpLink {
  readonly #sock: net.Socket;
  readonly #framer: CaFramer;
  #h: LinkHandlers | null = null;
  #corked = false;
  closed = false;
  closeReason: Error | null = null;
  /** "host:port" of the peer. */
  readonly remote: string;
  /** The peer's IP address ('' when unknown). */
  readonly remoteAddress: string;

  constructor(sock: net.Socket, maxPayload: number, remote?: string) {
    this.#sock = sock;
    this.remote = remote ?? `${sock.remoteAddress}:${sock.remotePort}`;
    this.remoteAddress = sock.remoteAddress ?? '';
    this.#framer = new CaFramer((m) => this.#h?.onMessage(m), maxPayload);
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 15_000);
    sock.on('data', (chunk: Buffer) => this.#receive(chunk));
    sock.on('drain', () => this.#h?.onDrain?.());
    sock.on('error', (err) =>
      this.close(new ConnectionError('ERR_CONNECTION_CLOSED', `CA connection ${this.remote}: ${err.message}`, { cause: err })),
    );
    sock.on('close', () => this.close(null));
  }

  /** Connects; the link is usable at once (writes before the connection is made are queued). */
  static connect(host: string, port: number, maxPayload: number): TcpLink {
    return new TcpLink(net.connect({ host, port }), maxPayload, `${host}:${port}`);
  }

  attach(h: LinkHandlers): void {
    this.#h = h;
  }

  /** Resolves when the TCP connection is established; rejects if it closes first. */
  get connected(): Promise<void> {
    if (!this.#sock.connecting && !this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (this.closed)
        return reject(this.closeReason ?? new ConnectionError('ERR_CONNECTION_CLOSED', `CA connection ${this.remote} closed`));
      const ok = (): void => (this.#sock.off('close', ko), resolve());
      const ko = (): void => (
        this.#sock.off('connect', ok),
        reject(this.closeReason ?? new ConnectionError('ERR_CONNECTION_CLOSED', `CA connection ${this.remote} closed`))
      );
      this.#sock.once('connect', ok);
      this.#sock.once('close', ko);
    });
  }

  #receive(chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      this.#framer.push(chunk);
    } catch (err) {
      // Bad bytes (or a handler that refused them): this link ends, nothing else does.
      this.close(err instanceof Error ? err : new ProtocolError('ERR_PROTOCOL', String(err)));
    }
  }

  /** Bytes accepted by send() and not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.#sock.writableLength;
  }

  /** Queues messages; those sent in one turn of the event loop go out together. */
  send(...messages: Uint8Array[]): void {
    if (this.closed) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#sock.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#sock.uncork();
      });
    }
    for (const m of messages) this.#sock.write(m);
  }

  /** Ends the connection: after what is queued is sent, unless `now` (or an error) says at once. */
  close(reason: Error | null = null, now = false): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (reason || now) this.#sock.destroy();
    else this.#sock.end(() => this.#sock.destroy());
    const h = this.#h;
    this.#h = null;
    h?.onClose(reason);
  }
}

/** Accepts TCP connections; resolves with the listener once bound. */
export async function listenTcp(
  host: string,
  port: number,
  onSocket: (sock: net.Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const srv = net.createServer({ noDelay: true }, onSocket);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port }, () => (srv.off('error', reject), resolve()));
  });
  const bound = (srv.address() as net.AddressInfo).port;
  return { port: bound, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

/** A UDP socket for searches (IPv4). */
export class UdpEndpoint {
  readonly #sock: dgram.Socket;
  #closed = false;
  port = 0;

  private constructor(sock: dgram.Socket) {
    this.#sock = sock;
  }

  /**
   * Binds; `reuse` lets several servers on one host share the search port (as EPICS servers do).
   * Datagrams and their senders go to `onDatagram`; socket errors to `onError`.
   */
  static async bind(
    host: string,
    port: number,
    reuse: boolean,
    onDatagram: (bytes: Uint8Array, from: { host: string; port: number }) => void,
    onError: (err: Error) => void = () => {},
  ): Promise<UdpEndpoint> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: reuse });
    const ep = new UdpEndpoint(sock);
    sock.on('message', (msg, rinfo) => onDatagram(msg, { host: rinfo.address, port: rinfo.port }));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: host, port }, () => (sock.off('error', reject), resolve()));
    });
    sock.on('error', onError);
    try {
      sock.setBroadcast(true);
    } catch {
      // not permitted: unicast still works
    }
    ep.port = sock.address().port;
    return ep;
  }

  send(bytes: Uint8Array, host: string, port: number, onError?: (err: Error) => void): void {
    if (this.#closed) return;
    this.#sock.send(bytes, port, host, (err) => {
      if (err) onError?.(err);
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((r) => this.#sock.close(() => r()));
  }
}
