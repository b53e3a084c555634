// Pipeline throughput (issue 12's targets), every figure against a baseline of the same run:
//  (a) a 3-stage passthrough pipeline, `sluice cat FILE | sluice filter | sluice filter |
//      sluice filter > /dev/null`, against `cat FILE | cat | cat | cat > /dev/null` moving the
//      same bytes through the same number of pipes, for 16 KiB and 2 MiB frames;
//      and against the same pipeline of four bare Node.js processes that only read() and write()
//      (the floor for any stage that is a Node.js process);
//  (b) a CPU-bound stage (`sluice process` with bench/pipeline-cpu.mjs) run once on the whole
//      stream, then as 2 partitions in parallel (`sluice partition P/2 FILE | sluice process`)
//      merged back as they come (`sluice merge --sort uniqueId <(...) <(...)`), for N and 2N frames:
//      the times, and the steady rates from their differences.
// Medians of several runs; process start-up is part of every pipeline's time, as it is for users,
// and is also timed alone (the same pipeline on an empty stream) to give the streaming rate.
//
//   node dist/bench/pipeline.js [--runs 3] [--mib 1024] [--cpu-frames 4000]
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StreamEncoder } from '../src/pipeline/stream-format.js';
import { ntndarray } from '../src/pvdata/nt/index.js';
import { completeStructure } from '../src/pvdata/values.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    mib: { type: 'string', default: '1024' },
    'cpu-frames': { type: 'string', default: '4000' },
  },
});
const RUNS = Number(opts.runs);
const MIB = Number(opts.mib);
const CPU_FRAMES = Number(opts['cpu-frames']);
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const CPU_STAGE = fileURLToPath(new URL('../../bench/pipeline-cpu.mjs', import.meta.url));
const S = `"${process.execPath}" "${CLI}"`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Seconds a bash script takes; throws when a stage of it fails. */
function timed(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) =>
      code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`${script}: exit ${code}\n${err}`)),
    );
  });
}

/** A stream file of `count` NTNDArray frames with the pixels `make` gives. */
async function frameFile(path: string, count: number, make: (i: number) => ArrayBufferView, dims: number[]): Promise<void> {
  const e = new StreamEncoder();
  const type = ntndarray.type();
  const out = createWriteStream(path);
  const write = (chunks: Uint8Array[]): Promise<void> | void => {
    let ok = true;
    for (const c of chunks) ok = out.write(c);
    if (!ok) return new Promise((r) => out.once('drain', () => r()));
  };
  await write(e.header());
  for (let i = 0; i < count; i++) {
    const frame = ntndarray.build({ data: make(i) as Uint8Array, dims, uniqueId: i + 1 });
    await write(e.value(type, completeStructure(type, frame)));
  }
  await write(e.end());
  await new Promise<void>((r) => out.end(() => r()));
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-pipeline-'));
// A stage that is nothing but Node.js: blocking read() and write() of 1 MiB at a time.
const bareNode = join(dir, 'bare-node.mjs');
writeFileSync(
  bareNode,
  `import { openSync, readSync, writeSync } from 'node:fs';
const fd = process.argv[2] ? openSync(process.argv[2], 'r') : 0;
const b = Buffer.allocUnsafeSlow(1 << 20);
for (let n; (n = readSync(fd, b, 0, b.length, null)) > 0; ) for (let o = 0; o < n; ) o += writeSync(1, b, o, n - o);
`,
);
const N = `"${process.execPath}" "${bareNode}"`;
try {
  console.log(`pipeline bench: ${RUNS} runs each, medians (this machine: ${(await import('node:os')).cpus().length} cores)`);
  for (const [label, bytes, dims] of [
    ['16 KiB frames', 16 * 1024, [128, 128]],
    ['2 MiB frames', 2 * 1024 * 1024, [1024, 2048]],
  ] as const) {
    const count = Math.max(1, Math.round((MIB * 1024 * 1024) / bytes));
    const file = join(dir, `frames-${bytes}.sls`);
    const pixels = new Uint8Array(bytes).map((_, i) => i & 0xff);
    await frameFile(file, count, () => pixels, [...dims]);
    const size = statSync(file).size;
    const empty = join(dir, 'empty.sls');
    await frameFile(empty, 0, () => pixels, [...dims]);
    const ours: number[] = [];
    const base: number[] = [];
    const bare: number[] = [];
    const start: number[] = [];
    const bareStart: number[] = [];
    const pipeline = (f: string): string => `${S} cat "${f}" | ${S} filter | ${S} filter | ${S} filter > /dev/null`;
    for (let r = 0; r < RUNS; r++) {
      // Interleaved, so that a noisy moment hits both.
      base.push(await timed(`cat "${file}" | cat | cat | cat > /dev/null`));
      bare.push(await timed(`${N} "${file}" | ${N} | ${N} | ${N} > /dev/null`));
      ours.push(await timed(pipeline(file)));
      start.push(await timed(pipeline(empty)));
      bareStart.push(await timed(`${N} "${empty}" | ${N} | ${N} | ${N} > /dev/null`));
    }
    const mbs = (s: number): string => `${((size / s) * 1e-6).toFixed(0)} MB/s`;
    const tOurs = median(ours);
    const tBase = median(base);
    const tStart = median(start);
    const tBare = median(bare);
    const tBareStart = median(bareStart);
    const pct = (t: number): string => `${((tBase / t) * 100).toFixed(0)}%`;
    console.log(
      `(a) ${label}, ${count} frames, ${(size / 1048576).toFixed(0)} MiB: sluice 3-stage ${mbs(tOurs)} (${tOurs.toFixed(2)} s, ` +
        `of which ${tStart.toFixed(2)} s start-up; ${mbs(tOurs - tStart)} streaming), cat 3 pipes ${mbs(tBase)} (${tBase.toFixed(2)} s), ` +
        `bare Node.js 3 pipes ${mbs(tBare)} (${tBare.toFixed(2)} s, of which ${tBareStart.toFixed(2)} s start-up); ` +
        `of cat: sluice ${pct(tOurs)} (streaming ${pct(tOurs - tStart)}), bare Node.js ${pct(tBare)} (streaming ${pct(tBare - tBareStart)})`,
    );
  }

  // N and 2N frames: the difference between the two gives the stage's steady rate, without what
  // every run pays once (five processes starting, a processor loading, the JIT warming up).
  const small = new Uint16Array(64 * 64).map((_, i) => i);
  const times: Record<string, { one: number; two: number }> = {};
  for (const frames of [CPU_FRAMES, 2 * CPU_FRAMES]) {
    const cpuFile = join(dir, `cpu-${frames}.sls`);
    await frameFile(cpuFile, frames, () => small, [64, 64]);
    const one: number[] = [];
    const two: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      one.push(await timed(`${S} cat "${cpuFile}" | ${S} process -q -pf "${CPU_STAGE}" > /dev/null`));
      const part = (p: string): string => `<(${S} partition ${p} "${cpuFile}" | ${S} process -q -pf "${CPU_STAGE}")`;
      two.push(await timed(`${S} merge --sort uniqueId ${part('1/2')} ${part('2/2')} > /dev/null`));
    }
    times[frames] = { one: median(one), two: median(two) };
    const t = times[frames];
    console.log(
      `(b) CPU-bound stage, ${frames} frames: one pipeline ${t.one.toFixed(2)} s, 2 partitions in parallel merged ` +
        `${t.two.toFixed(2)} s: ${(t.one / t.two).toFixed(2)}x`,
    );
  }
  const n = times[CPU_FRAMES] as { one: number; two: number };
  const n2 = times[2 * CPU_FRAMES] as { one: number; two: number };
  const rate = (t: number): string => `${(CPU_FRAMES / t).toFixed(0)} frames/s`;
  console.log(
    `(b) steady rate (the ${CPU_FRAMES} frames more): one pipeline ${rate(n2.one - n.one)}, 2 partitions ${rate(n2.two - n.two)}: ` +
      `${((n2.one - n.one) / (n2.two - n.two)).toFixed(2)}x`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
