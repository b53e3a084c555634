import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pacer } from '../../src/pipeline/pacer.js';

test('Pacer: values are due at start + k/fps whatever the waits cost (no drift)', () => {
  let now = 1000;
  const p = new Pacer(10, () => now);
  assert.equal(p.delay(), 0, 'the first value at once');
  // Each wait overshoots by 3 ms: the next delay is shortened by as much.
  for (let k = 1; k <= 50; k++) {
    const d = p.delay();
    assert.equal(Math.round(d * 1000) / 1000, k === 1 ? 100 : 97);
    now += d + 3;
  }
  assert.ok(Math.abs(now - (1000 + 50 * 100 + 3)) < 1e-6, `value 50 sent at ${now}`);
});

test('Pacer: a late value restarts the schedule (no burst); fps 0 never waits', () => {
  let now = 0;
  const p = new Pacer(100, () => now);
  p.delay();
  now = 500; // held back for 50 periods
  assert.equal(p.delay(), 0);
  assert.equal(p.delay(), 10, 'then one period apart again, not back to back');
  const fast = new Pacer(0, () => now);
  assert.equal(fast.delay(), 0);
  assert.equal(fast.delay(), 0);
});
