// A CPU-bound processor for bench/pipeline.ts: a few ms of arithmetic per frame (a stand-in
// for image analysis), publishing the frame's id and a checksum.
import { t } from 'sluice';

const resultT = t.struct([
  ['uniqueId', t.int],
  ['checksum', t.double],
]);

export default class CpuStage {
  getOutputType() {
    return resultT;
  }

  start(ctx) {
    this.ctx = ctx;
  }

  process(frame) {
    const px = frame.value?.value ?? [];
    let acc = 0;
    for (let round = 0; round < 200; round++) for (let i = 0; i < px.length; i++) acc += Math.sqrt(px[i] + round);
    this.ctx.publish({ uniqueId: frame.uniqueId, checksum: acc });
  }
}
