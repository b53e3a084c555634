// Asking a Source whether an operation may start (Source.authorize), the same way for every
// server: a refusal becomes an error whose message the client is sent.
import { SluiceError } from '../errors.js';
import type { AccessRequest, Source } from './source.js';

/**
 * null when `source` allows `request` (or has no authorize()); else the refusal: the thrown
 * SluiceError itself, any other throw as ERR_ACCESS_DENIED with its message.
 */
export function authorizeRefusal(source: Source, request: AccessRequest): SluiceError | null {
  if (!source.authorize) return null;
  try {
    source.authorize(request);
    return null;
  } catch (err) {
    if (err instanceof SluiceError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new SluiceError('ERR_ACCESS_DENIED', message || `${request.operation} refused`, { cause: err });
  }
}
