// A node with one output: white noise, an analogsignal of float32 frames [-1, nChannels] at
// `sampleRate`, sent `chunkSize` frames at a time from a timer (the seed's "random noise
// generator" example). Run it to see it feed a PrintInput node in this process:
//
//   node dist/examples/streams/noise-generator-node.js [chunks=5]
import { pathToFileURL } from 'node:url';
import { Node } from 'sluice';
import { PrintInput } from './printer-node.js';

export class NoiseGenerator extends Node {
  static override outputSpecs = { out: { streamtype: 'analogsignal' as const, dtype: 'float32' as const } };
  nChannels = 2;
  sampleRate = 1000;
  chunkSize = 100;
  #timer: NodeJS.Timeout | null = null;

  protected _configure(options: Record<string, unknown>): void {
    const {
      nChannels = 2,
      sampleRate = 1000,
      chunkSize = 100,
    } = options as { nChannels?: number; sampleRate?: number; chunkSize?: number };
    if (!Number.isSafeInteger(nChannels) || nChannels < 1) throw new RangeError(`NoiseGenerator: nChannels must be >= 1, not ${nChannels}`);
    if (!(sampleRate > 0)) throw new RangeError(`NoiseGenerator: sampleRate must be > 0, not ${sampleRate}`);
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`NoiseGenerator: chunkSize must be >= 1, not ${chunkSize}`);
    Object.assign(this, { nChannels, sampleRate, chunkSize });
  }

  // The output's shape and rate follow the configuration; the caller adds protocol, transfer mode...
  protected override outputDefaults(): Record<string, unknown> {
    return { shape: [-1, this.nChannels], sampleRate: this.sampleRate };
  }

  protected override _start(): void {
    const out = this.output;
    const period = (1000 * this.chunkSize) / this.sampleRate;
    this.#timer = setInterval(() => {
      const data = new Float32Array(this.chunkSize * this.nChannels);
      for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
      out.send(data); // drop-oldest readers lose chunks; a lossless one that lags only delays its own
    }, period);
  }

  protected override _stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const chunks = Number(process.argv[2] ?? 5);
  const noise = new NoiseGenerator();
  await noise.configure({ nChannels: 4, sampleRate: 10_000, chunkSize: 500 });
  await noise.configureOutput('out', { protocol: 'inproc' });
  await noise.initialize();
  const printer = new PrintInput();
  await printer.configure();
  await printer.connectInput('in', noise.output);
  await printer.initialize();
  await printer.start();
  await noise.start();
  await printer.printed(chunks);
  await noise.stop();
  await printer.stop();
  await noise.close();
  await printer.close();
}
