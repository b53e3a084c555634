// The Framer's bounds on one message, fed a byte at a time and in one chunk: total bytes
// (maxMessageSize) and number of segments (maxSegments, by default derived from the size limit).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { defaultMaxSegments, Framer, type Message } from '../../src/pva/framer.js';
import { message } from '../helpers/messages.js';

/** `total` segments of command 10 with 1-byte payloads (first, middles, last). */
function segmented(total: number): Uint8Array {
  const parts = [message(10, 0x10, '01')];
  for (let i = 0; i < total - 2; i++) parts.push(message(10, 0x30, '02'));
  parts.push(message(10, 0x20, '03'));
  return new Uint8Array(Buffer.concat(parts));
}

function feed(bytes: Uint8Array, maxSegments: number | undefined, byteAtATime: boolean): Message[] {
  const out: Message[] = [];
  const f = new Framer((m) => out.push(m), 1 << 20, maxSegments);
  if (byteAtATime) for (let i = 0; i < bytes.length; i++) f.push(bytes.subarray(i, i + 1));
  else f.push(bytes);
  return out;
}

test('default segment bound: one per 4 KiB of maxMessageSize, never fewer than 64', () => {
  assert.equal(defaultMaxSegments(256 * 1024 * 1024), 65536);
  assert.equal(defaultMaxSegments(1 << 20), 256);
  assert.equal(defaultMaxSegments(1000), 64);
});

test('a message of exactly maxSegments segments is delivered whole; one more is refused', () => {
  for (const byteAtATime of [true, false]) {
    const ok = feed(segmented(8), 8, byteAtATime);
    assert.equal(ok.length, 1);
    const m = ok[0]!;
    assert.ok(!m.control);
    assert.equal(m.size, 8);
    assert.deepEqual([...Buffer.concat(m.payload)], [1, 2, 2, 2, 2, 2, 2, 3]);
    assert.throws(
      () => feed(segmented(9), 8, byteAtATime),
      (e: unknown) =>
        e instanceof SluiceError && e.code === 'ERR_LIMIT' && /split into more than 8 segments \(8 bytes so far\)/.test(e.message),
    );
  }
  // The count starts afresh with each message.
  const two = new Uint8Array(Buffer.concat([segmented(8), segmented(8)]));
  assert.equal(feed(two, 8, true).length, 2);
  // Undefined means the default (256 for a 1 MiB limit).
  assert.equal(feed(segmented(256), undefined, false).length, 1);
  assert.throws(() => feed(segmented(257), undefined, false), /more than 256 segments/);
});
