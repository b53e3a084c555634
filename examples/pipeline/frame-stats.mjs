// A small analysis stage for the pipeline examples: for each frame (NTNDArray), its id, the mean
// and the largest pixel value. Run by `sluice process -pf frame-stats.mjs`.
import { t } from 'sluice';

const statsT = t.struct([
  ['uniqueId', t.int],
  ['mean', t.double],
  ['max', t.double],
]);

export default class FrameStats {
  getOutputType() {
    return statsT;
  }

  start(ctx) {
    this.ctx = ctx;
  }

  process(frame) {
    const px = frame.value?.value ?? [];
    let sum = 0;
    let max = -Infinity;
    for (let i = 0; i < px.length; i++) {
      const v = Number(px[i]);
      sum += v;
      if (v > max) max = v;
    }
    this.ctx.publish({ uniqueId: frame.uniqueId, mean: px.length ? sum / px.length : 0, max: px.length ? max : 0 });
  }
}
