// PvaPy's statistics of the processors that save files (hdf5 and image writers): counts, and rates
// over the time spent saving; PvaPy's dataStorageRateMBps counts megabytes of 10^6 bytes.
import type { ScalarType } from '../../pvdata/types.js';

const BYTES_IN_MEGABYTE = 1e6;

export function savingStats(files: number, bytes: number, seconds: number): Record<string, number> {
  return {
    nFilesSaved: files,
    nBytesSaved: bytes,
    fileProcessingTime: seconds,
    fileProcessingRate: seconds > 0 ? files / seconds : 0,
    dataStorageRateMBps: seconds > 0 ? bytes / seconds / BYTES_IN_MEGABYTE : 0,
  };
}

export const SAVING_STATS_TYPES: Readonly<Record<string, ScalarType>> = Object.freeze({
  nFilesSaved: 'uint',
  nBytesSaved: 'ulong',
  fileProcessingTime: 'double',
  fileProcessingRate: 'double',
  dataStorageRateMBps: 'double',
});
