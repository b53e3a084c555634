// A complete StreamSpec for transfer-mode tests (the stream layer fills defaults itself).
import type { StreamSpec } from '../../src/streams/transfer.js';

export function testSpec(overrides: Partial<StreamSpec> & Record<string, unknown> = {}): StreamSpec {
  return {
    protocol: 'inproc',
    interface: '127.0.0.1',
    port: 0,
    transfermode: 'sharedmem',
    streamtype: 'analogsignal',
    dtype: 'float64',
    shape: [-1, 4],
    axisorder: null,
    bufferSize: 1000,
    double: true,
    fill: null,
    sampleRate: 1000,
    units: '',
    chunkSize: 0,
    compression: '',
    ...overrides,
  };
}

/** n samples ending at `end` whose frames start with their absolute index (frame of `width`). */
export function indexedChunk(end: number, n: number, width = 4): { data: Float64Array; shape: number[] } {
  const data = new Float64Array(n * width);
  for (let k = 0; k < n; k++) data.fill(end - n + k, k * width, (k + 1) * width);
  return { data, shape: [n, width] };
}
