// sluice sim's progress on a terminal: without -dc each progress line replaces the previous one
// (PvaPy's curses screen); with -dc, --json or a pipe every line is printed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressScreen } from '../../src/cli/commands/sim.js';

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = {
    isTTY,
    text: '',
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

test('on a terminal without -dc, a progress line is redrawn in place', () => {
  const out = stream(true);
  const screen = progressScreen(out, {});
  assert.ok(screen);
  screen.write('Published frame id      1');
  screen.write('Published frame id      2');
  assert.equal(out.text, 'Published frame id      1\n\x1b[1A\x1b[JPublished frame id      2\n');
});

test('-dc, --json or a pipe: plain lines', () => {
  assert.equal(progressScreen(stream(true), { 'disable-curses': true }), null);
  assert.equal(progressScreen(stream(true), { json: true }), null);
  assert.equal(progressScreen(stream(false), {}), null);
});
