// The RecordIds test processor (test/fixtures/consumer/record-ids.ts) that e2e tests give their
// consumers and collectors: it appends every id it processes to a file, which the test reads back.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The fixture as written: the CLI loads it through its TypeScript hooks. */
export const RECORD_IDS = fileURLToPath(new URL('../../../test/fixtures/consumer/record-ids.ts', import.meta.url));
/** The fixture as compiled by tsc, beside this helper in dist. */
export const RECORD_IDS_JS = fileURLToPath(new URL('../fixtures/consumer/record-ids.js', import.meta.url));

/**
 * The processor options of RecordIds writing to `file` ({id} becomes the consumer id), with
 * `extra` config (busyMs, failIds); `processorFile` picks the .ts fixture or the compiled one.
 */
export function recordArgs(file: string, extra: Record<string, unknown> = {}, processorFile = RECORD_IDS): string[] {
  return ['--processor-file', processorFile, '--processor-class', 'RecordIds', '--processor-args', JSON.stringify({ file, ...extra })];
}

/** The ids recorded in `file` so far (none before the file exists). */
export function recordedIds(file: string): number[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
}
