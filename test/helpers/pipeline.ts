// What the pipeline e2e tests share: a temporary directory removed when the test ends, bash
// pipelines of the real CLI with every stage's exit status, and small streams made in-process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { StreamDecoder, type StreamItem } from '../../src/pipeline/stream-decoder.js';
import { StreamEncoder } from '../../src/pipeline/stream-format.js';
import { t as types } from '../../src/pvdata/types.js';
import { CLI } from './cli.js';

/** The CLI as a shell word pair, for bash pipelines. */
export const S = `"${process.execPath}" "${CLI}"`;

/** A new temporary directory, removed with its contents when the test ends. */
export function tempDir(t: TestContext, prefix = 'sluice-pipeline-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Run a bash pipeline; resolves with its output and the exit status of every stage. */
export function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ stdout: Buffer; stderr: string; status: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${script}; echo "status \${PIPESTATUS[*]}" >&2`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const m = /status ([\d ]+)\n$/.exec(err);
      resolve({
        stdout: Buffer.concat(out),
        stderr: err.replace(/status [\d ]+\n$/, ''),
        status: m ? (m[1] as string).split(' ').map(Number) : [],
      });
    });
  });
}

/** A stream file of `n` values {uniqueId: 1..n}, made in-process. */
export function idStream(path: string, n: number): void {
  const e = new StreamEncoder();
  const type = types.struct([['uniqueId', types.int]]);
  const chunks = [e.header(), e.note({ source: 'test' })];
  for (let i = 1; i <= n; i++) chunks.push(e.value(type, { uniqueId: i }));
  chunks.push(e.end());
  writeFileSync(path, Buffer.concat(chunks.flat()));
}

/** The uniqueIds of a stream (a file's bytes, or a stage's stdout), decoded in-process. */
export function idsIn(bytes: Buffer): number[] {
  const ids: number[] = [];
  const d = new StreamDecoder((i) => i.kind === 'value' && ids.push(i.value['uniqueId'] as number));
  d.push(bytes);
  d.finish();
  return ids;
}

/** The uniqueIds of JSON lines (to-json's output). */
export const idsOf = (out: Buffer): number[] =>
  out
    .toString()
    .trim()
    .split('\n')
    .filter((l) => l)
    .map((l) => (JSON.parse(l) as { uniqueId: number }).uniqueId);

/** Every item of a whole stream, pushed in chunks of `step` bytes (each a copy of its own). */
export function decodeAll(bytes: Uint8Array, step = bytes.length): StreamItem[] {
  const items: StreamItem[] = [];
  const d = new StreamDecoder((i) => items.push(i), { source: 'test' });
  for (let at = 0; at < bytes.length; at += step) d.push(bytes.slice(at, at + step));
  d.finish();
  return items;
}
