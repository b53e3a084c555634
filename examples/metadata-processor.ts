// Metadata association (PvaPy's hpcAdMetadataProcessorExample.py): each frame gets, for every
// metadata channel, the value whose time stamp matches the frame's within `timestampTolerance`
// seconds (after adding `metadataTimestampOffset`), appended to the frame as an NTNDArray
// attribute named after the channel. Older metadata values are discarded; newer ones stay queued
// for the frames to come. A frame that misses a value for some channel counts as a frame error
// (it is still published, with the values that matched).
//
//   sluice sim -cn pvapy:image --metadata-pv pva://x,pva://y -fps 100 -rt 10
//   sluice consumer -ic pvapy:image -oc consumer:*:output --metadata-channels pva://x,pva://y \
//     --processor-file examples/metadata-processor.ts --processor-args '{"timestampTolerance": 0.001}'
import { t, type ProcessorConfig, type PVStructure, type ScalarType } from 'sluice';
import { AdImageProcessor } from 'sluice';

interface Stamp {
  secondsPastEpoch: number | bigint;
  nanoseconds: number;
}

const seconds = (ts: Stamp | undefined): number => (ts ? Number(ts.secondsPastEpoch) + ts.nanoseconds / 1e9 : NaN);

export class MetadataProcessor extends AdImageProcessor {
  private timestampTolerance = 0.001;
  private metadataTimestampOffset = 0;
  private nFramesProcessed = 0;
  private nFrameErrors = 0;
  private nMetadataProcessed = 0;
  private nMetadataDiscarded = 0;
  private processingTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.configure(config);
  }

  override configure(config: Record<string, unknown>): void {
    if (typeof config['timestampTolerance'] === 'number') this.timestampTolerance = config['timestampTolerance'];
    if (typeof config['metadataTimestampOffset'] === 'number') this.metadataTimestampOffset = config['metadataTimestampOffset'];
  }

  override process(value: PVStructure): PVStructure {
    const t0 = performance.now();
    const frameTime = seconds(value['timeStamp'] as Stamp);
    const attributes = [...((value['attribute'] as PVStructure[] | undefined) ?? [])];
    let complete = true;
    for (const [channel, queue] of this.metadataQueueMap) {
      let matched: PVStructure | null = null;
      for (let m = queue.peek(); m; m = queue.peek()) {
        const diff = seconds(m['timeStamp'] as Stamp) + this.metadataTimestampOffset - frameTime;
        if (diff < -this.timestampTolerance) {
          queue.shift(); // older than this frame: no later frame can use it either
          this.nMetadataDiscarded++;
          continue;
        }
        if (diff <= this.timestampTolerance) {
          matched = queue.shift() ?? null;
          this.nMetadataProcessed++;
        }
        break; // newer than this frame: keep it for the next ones
      }
      if (!matched) {
        complete = false;
        continue;
      }
      attributes.push({
        name: channel,
        value: { type: t.double, value: Number(matched['value']) },
        descriptor: `metadata from ${channel}`,
        sourceType: 2, // EPICS PV
        source: channel,
      });
    }
    if (complete) this.nFramesProcessed++;
    else this.nFrameErrors++;
    const out = { ...value, attribute: attributes };
    this.updateOutputChannel(out);
    this.processingTime += (performance.now() - t0) / 1000;
    return out;
  }

  override resetStats(): void {
    this.nFramesProcessed = this.nFrameErrors = this.nMetadataProcessed = this.nMetadataDiscarded = 0;
    this.processingTime = 0;
  }

  override getStats(): Record<string, number> {
    const rate = (n: number): number => (this.processingTime > 0 ? n / this.processingTime : 0);
    return {
      nFramesProcessed: this.nFramesProcessed,
      nFrameErrors: this.nFrameErrors,
      nMetadataProcessed: this.nMetadataProcessed,
      nMetadataDiscarded: this.nMetadataDiscarded,
      processingTime: this.processingTime,
      processedFrameRate: rate(this.nFramesProcessed),
      frameErrorRate: rate(this.nFrameErrors),
    };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return {
      nFramesProcessed: 'uint',
      nFrameErrors: 'uint',
      nMetadataProcessed: 'uint',
      nMetadataDiscarded: 'uint',
      processingTime: 'double',
      processedFrameRate: 'double',
      frameErrorRate: 'double',
    };
  }
}
