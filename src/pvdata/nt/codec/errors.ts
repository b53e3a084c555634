import { SluiceError } from '../../../errors.js';

/** A compressed payload that cannot be decoded (or a codec request that cannot be honoured). */
export function codecError(message: string): SluiceError {
  return new SluiceError('ERR_CODEC', message);
}
