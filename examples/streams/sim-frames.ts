// Detector frames into a stream: a simulated area detector (AdSimServer, what `sluice sim` runs)
// serves NTNDArray frames on a pvAccess channel; this program monitors the channel with
// PvaClient and sends each frame's pixels as one chunk of an image/video stream (shape
// [1, ny, nx]: axis 0 is time, one frame per chunk); an InputStream reads the stream and prints
// frame and data rates once a second, and a summary at the end.
//
//   npm run build && node dist/examples/streams/sim-frames.js [--frames 200] [--fps 100] \
//     [--nx 256] [--ny 256] [--datatype uint16] [--mode tcp|inproc]
import { parseArgs } from 'node:util';
import { AdSimServer, InputStream, OutputStream, PvaClient, PvaServer, ntndarray, type StreamDType } from 'sluice';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '200' },
    fps: { type: 'string', default: '100' },
    nx: { type: 'string', default: '256' },
    ny: { type: 'string', default: '256' },
    datatype: { type: 'string', default: 'uint16' },
    mode: { type: 'string', default: 'tcp' },
  },
});
const frames = Number(values.frames);
const nx = Number(values.nx);
const ny = Number(values.ny);
const CHANNEL = 'example:image';

/** pvData element type of the frames -> the stream's dtype (numpy names). */
const DTYPES: Record<string, StreamDType> = {
  byte: 'int8',
  ubyte: 'uint8',
  short: 'int16',
  ushort: 'uint16',
  int: 'int32',
  uint: 'uint32',
  float: 'float32',
  double: 'float64',
};

// The detector: our own server on a free port of the loopback interface, no UDP (the client is told where it is).
const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false, env: { EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO' } });
const port = await server.listen();
const sim = new AdSimServer({
  server,
  channelName: CHANNEL,
  frame: { nx, ny, datatype: values.datatype as 'uint16' },
  fps: Number(values.fps),
  waitClients: 1, // start publishing once our monitor is there
  startDelay: 0,
  shutdownDelay: 0,
  lossless: true,
});
const stopSim = new AbortController();
const simRun = sim.run(stopSim.signal);
console.log(`sim serving ${CHANNEL} on 127.0.0.1:${port}: ${nx}x${ny} ${values.datatype} at ${values.fps} fps`);

const client = new PvaClient({ env: { EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}`, EPICS_PVA_AUTO_ADDR_LIST: 'NO' } });
const monitor = client.monitor(CHANNEL, { queueSize: 16, pipeline: true, request: 'field(value,dimension,uniqueId,codec)' });

let out: OutputStream | null = null;
let reader: Promise<void> | null = null;
let sent = 0;
for await (const u of monitor) {
  const frame = ntndarray.read(u.value);
  if (frame.data === null || frame.dtype === null || frame.dims.length !== 2 || !ArrayBuffer.isView(frame.data)) continue;
  const [width, height] = frame.dims as [number, number];
  if (out === null) {
    // The stream's frame shape comes from the first frame: [ny, nx], C order (x varies fastest, as NTNDArray's dimension 0).
    out = new OutputStream();
    const protocol = values.mode === 'inproc' ? 'inproc' : 'tcp';
    await out.configure({ protocol, streamtype: 'image/video', dtype: DTYPES[frame.dtype], shape: [-1, height, width] });
    const inp = new InputStream();
    await inp.connect(out);
    reader = printRates(inp, frame.data.byteLength);
  }
  if (!out.send({ data: frame.data, shape: [1, height, width] })) await out.drained();
  if (++sent >= frames) break;
}
monitor.close();
stopSim.abort();
await simRun;
await out?.close(); // the reader's stream ends after the frames already sent
await reader;
client.close();
await server.close();

async function printRates(inp: InputStream, frameBytes: number): Promise<void> {
  const t0 = performance.now();
  let tick = t0;
  let n = 0;
  let nTick = 0;
  let lastIndex = 0;
  for await (const [index, chunk] of inp) {
    n++;
    nTick++;
    lastIndex = index;
    if (n === 1) console.log(`first chunk: index ${index}, shape [${chunk.shape.join(', ')}]`);
    const now = performance.now();
    if (now - tick >= 1000) {
      const s = (now - tick) / 1000;
      console.log(`${(nTick / s).toFixed(1)} frames/s, ${((nTick * frameBytes) / s / 1e6).toFixed(2)} MB/s`);
      tick = now;
      nTick = 0;
    }
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `received ${n} frames (last index ${lastIndex}) in ${s.toFixed(2)} s: ${(n / s).toFixed(1)} frames/s, ${((n * frameBytes) / s / 1e6).toFixed(2)} MB/s`,
  );
}
