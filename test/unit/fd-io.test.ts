// Blocking reads and writes on descriptors (pipeline/fd-io.ts): every byte of a file through
// several slabs; a write loop that takes all of a large chunk; and, on a named pipe opened
// non-blocking (where read() and write() say EAGAIN), the streams that take over, in order.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FdReader, FdWritable, fdChunks, fileChunks, inputChunks } from '../../src/pipeline/fd-io.js';

const pattern = (n: number): Buffer => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 12)) & 0xff));

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-fd-io-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; count: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return { bytes: Buffer.concat(parts), count: parts.length };
}

test('fd-io: a file of 3.5 MiB comes back whole, in reads that fill slabs one after another', () =>
  withDir(async (dir) => {
    const data = pattern(3.5 * 1024 * 1024);
    writeFileSync(join(dir, 'f'), data);
    const { bytes, count } = await collect(fileChunks(join(dir, 'f')));
    assert.deepEqual(bytes, data);
    assert.ok(count >= 4, `${count} reads`);
    await assert.rejects(collect(fileChunks(join(dir, 'missing'))), { code: 'ENOENT' });
  }));

test('fd-io: FdWritable writes all of each chunk to a file descriptor, in order', () =>
  withDir(async (dir) => {
    const fd = openSync(join(dir, 'out'), 'w');
    const w = new FdWritable(fd, () => assert.fail('no fallback for a file'));
    const a = pattern(2 * 1024 * 1024);
    const b = pattern(1000).reverse();
    assert.equal(w.write(a), true);
    w.write(b);
    await new Promise<void>((resolve) => w.end(resolve));
    closeSync(fd);
    assert.deepEqual(readFileSync(join(dir, 'out')), Buffer.concat([a, b]));
  }));

test('fd-io: on a non-blocking pipe (EAGAIN) the fallback streams carry the rest, nothing lost or reordered', () =>
  withDir(async (dir) => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    let readFallback = false;
    let writeFallback: Socket | null = null;
    const reader = collect(
      fdChunks(readFd, () => {
        readFallback = true;
        return new Socket({ fd: readFd, readable: true, writable: false });
      }),
    );
    const data = pattern(1024 * 1024 + 123); // far more than a pipe holds: the write meets EAGAIN
    const w = new FdWritable(writeFd, () => (writeFallback = new Socket({ fd: writeFd, readable: false, writable: true })));
    w.write(data.subarray(0, 4096));
    w.write(data.subarray(4096));
    await new Promise<void>((resolve) => w.end(resolve));
    assert.ok(writeFallback, 'the write met EAGAIN');
    (writeFallback as Socket).destroy(); // closes the descriptor: the reader sees the end
    const { bytes } = await reader;
    assert.ok(readFallback, 'the first read met EAGAIN');
    assert.deepEqual(bytes, data);
  }));

test('fd-io: FdReader reuses a slab once told nothing in it is referenced, never one that still holds retained bytes', () =>
  withDir(async (dir) => {
    const data = pattern(6 * 1024 * 1024 + 17);
    writeFileSync(join(dir, 'f'), data);
    const fd = openSync(join(dir, 'f'), 'r');
    try {
      const reader = new FdReader(fd);
      const copies: Buffer[] = [];
      const slabs = new Set<ArrayBufferLike>();
      let held: Uint8Array | null = null; // the last 1000 bytes of each read, still referenced
      let kept = '';
      for await (const c of reader.chunks()) {
        if (held) assert.equal(Buffer.from(held).toString('hex'), kept, 'retained bytes were not overwritten');
        copies.push(Buffer.from(c));
        slabs.add(c.buffer);
        held = c.subarray(Math.max(0, c.length - 1000));
        kept = Buffer.from(held).toString('hex');
        reader.recycle(held.length);
      }
      assert.deepEqual(Buffer.concat(copies), data);
      assert.ok(slabs.size <= 3, `${slabs.size} slabs for 6 MiB: reused`);
    } finally {
      closeSync(fd);
    }
  }));

test('fd-io: inputChunks reads a file in chunks of the size asked, and a named pipe as its bytes arrive', () =>
  withDir(async (dir) => {
    const data = pattern(300 * 1024);
    writeFileSync(join(dir, 'f'), data);
    const file = await collect(inputChunks(join(dir, 'f'), 100 * 1024));
    assert.deepEqual(file.bytes, data);
    assert.equal(file.count, 3);
    await assert.rejects(collect(inputChunks(join(dir, 'missing'))), { code: 'ENOENT' });

    // A named pipe into which values trickle one at a time: each comes as it arrives, then the end.
    const fifo = join(dir, 'p');
    execFileSync('mkfifo', [fifo]);
    const chunks = inputChunks(fifo, 1 << 20);
    const first = chunks.next(); // opens the pipe for reading, off the event loop
    const writer = new Socket({ fd: openSync(fifo, constants.O_WRONLY), readable: false, writable: true });
    writer.write(Buffer.of(0));
    const pieces: number[] = [];
    for (let r = await first; !r.done; r = await chunks.next()) {
      pieces.push(...r.value);
      if (pieces.length < 10)
        writer.write(Buffer.of(pieces.length)); // the next piece once this one was read
      else writer.end();
    }
    assert.deepEqual(pieces, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }));
