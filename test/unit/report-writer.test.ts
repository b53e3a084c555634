import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ReportWriter, wrapToWidth } from '../../src/runtime/report-writer.js';

const LONG =
  '  processorStats: runtime=2.01 startTime=1796513955.458 endTime=1796513957.468 receivingTime=1.774 ' +
  'firstObjectTime=1796513955.692 lastObjectTime=1796513957.466 firstObjectId=1 lastObjectId=1777 nProcessed=889';

test('wrapToWidth cuts at spaces, keeps every word, indents continuations', () => {
  const pieces = wrapToWidth(LONG, 60);
  assert.ok(pieces.length > 2);
  for (const p of pieces) assert.ok(p.length <= 60, `${JSON.stringify(p)} is wider than 60`);
  assert.ok(pieces[0]!.startsWith('  processorStats: '));
  for (const p of pieces.slice(1)) assert.ok(p.startsWith('    ') && !p.startsWith('     '));
  assert.deepEqual(pieces.join(' ').split(/ +/).filter(Boolean), LONG.trim().split(' '));
  assert.deepEqual(wrapToWidth('short', 60), ['short']);
});

test('wrapToWidth cuts a word wider than the terminal', () => {
  const word = 'x'.repeat(50);
  const pieces = wrapToWidth(`  a=${word}`, 20);
  for (const p of pieces) assert.ok(p.length <= 20);
  assert.equal(pieces.join('').replace(/ /g, ''), `a=${word}`);
});

/** A fake terminal: a stream with the columns and rows a TTY has. */
function terminal(columns: number, rows: number): { out: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (b: Buffer) => (text += b.toString()));
  return { out: Object.assign(stream, { columns, rows, isTTY: true }) as unknown as NodeJS.WriteStream, text: () => text };
}

test('the live view moves the cursor up by the rows it drew, wrapped to the width', () => {
  const t = terminal(61, 40);
  const w = new ReportWriter(t.out);
  w.write(`title\n${LONG}`);
  const rows = 1 + wrapToWidth(LONG, 60).length;
  w.write('second');
  const text = t.text();
  assert.ok(text.includes(`\x1b[${rows}A\x1b[J`), `expected the cursor to go up ${rows} rows`);
  // eslint-disable-next-line no-control-regex -- the terminal's escape sequences are what is removed
  for (const line of text.replace(/\x1b\[\d+A\x1b\[J/g, '').split('\n')) assert.ok(line.length <= 60);
});

test('a report taller than the terminal is printed plain, never redrawn over', () => {
  const t = terminal(200, 5);
  const w = new ReportWriter(t.out);
  const tall = Array.from({ length: 8 }, (_, i) => `line ${i}`).join('\n');
  w.write(tall);
  w.write(tall);
  assert.ok(!t.text().includes('\x1b['), 'no cursor movement for a report taller than the terminal');
  assert.equal(t.text().split('line 0').length - 1, 2);
});

test('not a terminal: plain lines, never cursor movement', () => {
  const t = terminal(10, 5);
  const w = new ReportWriter(t.out, false);
  w.write(LONG);
  w.write(LONG);
  assert.equal(t.text(), `${LONG}\n${LONG}\n`);
});
