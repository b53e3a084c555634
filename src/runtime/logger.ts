// The logger of a host and its processor: --log-level and --log-file, with Python logging's level
// names (PvaPy's options) and lines that name the host (`consumer-1`, `collector-2`).
import { appendFileSync } from 'node:fs';
import type { ProcessorLogger } from '../processing/user-data-processor.js';

const LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type LogLevel = (typeof LEVELS)[number];

/** A logger for processors and the framework: `--log-level` and `--log-file` (stderr by default). */
export function makeLogger(name: string, level: LogLevel | undefined, file: string | undefined): ProcessorLogger {
  const min = level ? LEVELS.indexOf(level) : LEVELS.length; // no level: silent, as PvaPy
  const emit = (lv: LogLevel, msg: string): void => {
    if (LEVELS.indexOf(lv) < min) return;
    const text = `${new Date().toISOString()} ${name} ${lv.toUpperCase()}: ${msg}\n`;
    if (file) appendFileSync(file, text);
    else process.stderr.write(text);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warning', m),
    error: (m) => emit('error', m),
    warning: (m) => emit('warning', m),
    critical: (m) => emit('critical', m),
  };
}
