// Errors of the access layer: a rule file that cannot be used (naming file:line), and a request
// the rules refuse (naming who asked, for what, and the group that decided).
import { SluiceError } from '../errors.js';

export class AccessConfigError extends SluiceError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super('ERR_ACCESS_CONFIG', `${file}:${line}: ${message}`);
    this.name = 'AccessConfigError';
    this.file = file;
    this.line = line;
  }
}

export class AccessDeniedError extends SluiceError {
  constructor(message: string) {
    super('ERR_ACCESS_DENIED', message);
    this.name = 'AccessDeniedError';
  }
}
