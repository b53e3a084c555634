// Where a PvaConnection's socket reads land (the `onread` path of clients): a large payload goes
// straight into a buffer of its own, and after one large payload the next read is kept small, so
// the bulk of the next large payload is not read into the slab and then copied out of it.
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { test } from 'node:test';
import { PvaConnection } from '../../src/pva/connection.js';
import type { AppMessage } from '../../src/pva/framer.js';
import type { ByteReader } from '../../src/pvdata/wire.js';
import { message } from '../helpers/messages.js';

class Probe extends PvaConnection {
  readonly got: AppMessage[] = [];
  protected onMessage(m: AppMessage, _r: ByteReader): void {
    this.got.push(m);
  }
  protected isServerSide(): boolean {
    return false;
  }
}

/**
 * Play the kernel: fill each buffer readBuffer() offers with as much of `bytes` as it takes (the
 * socket always has more data than the buffer holds). Returns the bytes that went into the slab,
 * not into a payload's own buffer, per read.
 */
function readAll(conn: Probe, bytes: Uint8Array): number[] {
  const slabReads: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    const direct = conn.framer.directTarget();
    const buf = conn.readBuffer();
    const n = Math.min(buf.length, bytes.length - at);
    buf.set(bytes.subarray(at, at + n));
    at += n;
    if (!direct) slabReads.push(n);
    conn.onRead(n, buf);
  }
  return slabReads;
}

/** Input may wait for the next turn of the event loop (a turn lasts 5 ms): let it be framed. */
async function framed(conn: Probe, count: number): Promise<void> {
  while (conn.got.length < count) await new Promise((resolve) => setImmediate(resolve));
}

test('after a large payload, the next large one is read into its own buffer, not through the slab', async () => {
  const [a, b] = duplexPair();
  const conn = new Probe(a, false, { idleTimeoutMs: 0 });
  const size = 1024 * 1024;
  const big = (fill: number): Uint8Array => message(20, 0x40, new Uint8Array(size).fill(fill));
  const small = message(20, 0x40, '0102');
  const stream = new Uint8Array(Buffer.concat([big(1), big(2), big(3), small, small, big(4)]));
  const slabReads = readAll(conn, stream);
  await framed(conn, 6);

  // Messages arrive whole and in order, each large payload as one buffer of its own.
  assert.deepEqual(
    conn.got.map((m) => m.size),
    [size, size, size, 2, 2, size],
  );
  for (const [i, fill] of [
    [0, 1],
    [1, 2],
    [2, 3],
    [5, 4],
  ] as const) {
    const m = conn.got[i]!;
    assert.equal(m.payload.length, 1);
    assert.ok(m.payload[0]!.every((x) => x === fill));
  }
  // The first read is a whole slab (nothing says a large payload comes); after a large payload,
  // reads take at most 16 KiB until the next header, so little of the next payload is copied.
  assert.ok(slabReads[0]! > 64 * 1024, `first read ${slabReads[0]}`);
  for (const n of slabReads.slice(1)) assert.ok(n <= 16 * 1024, `slab read of ${n} bytes after a large payload`);
  const copied = slabReads.reduce((s, n) => s + n, 0);
  assert.ok(copied < slabReads[0]! + 4 * 16 * 1024, `${copied} bytes read through the slab`);
  conn.close(null);
  b.destroy();
});

test('small messages alone are read a whole slab at a time', async () => {
  const [a, b] = duplexPair();
  const conn = new Probe(a, false, { idleTimeoutMs: 0 });
  const small = message(20, 0x40, new Uint8Array(1000));
  const stream = new Uint8Array(Buffer.concat(Array.from({ length: 2000 }, () => small)));
  const slabReads = readAll(conn, stream);
  await framed(conn, 2000);
  assert.ok(slabReads.length <= 4, `${slabReads.length} reads for 2 MB of small messages`);
  conn.close(null);
  b.destroy();
});
