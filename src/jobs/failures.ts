import { FinmeshError } from '../core/errors.js';

const INFRASTRUCTURE_CODES = new Set(['UNAVAILABLE', 'TIMEOUT', 'CONFLICT', 'PERMISSION']);
const INFRASTRUCTURE_ERRNOS = new Set([
  'ENOSPC',
  'EDQUOT',
  'EFBIG',
  'EIO',
  'EMFILE',
  'ENFILE',
  'EACCES',
  'EPERM',
  'EROFS',
  'EBUSY',
  'ENOMEM',
]);
/** What engines and drivers say when the machine, not the data, is at fault. */
const INFRASTRUCTURE_TEXT =
  /\b(IO Error|Out of Memory|No space left on device|disk full|database is locked|SQLITE_BUSY|SQLITE_FULL|Interrupt(ed)? Error|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|Connection terminated|could not write|Extension Autoloading Error|Missing Extension Error|HTTP Error)\b/i;

/**
 * Whether a failure lies in the machinery (a full disk, a store that is locked or down, a network, a timeout, a
 * permission) rather than in the data being written. Such a failure heals when the machinery does: it is retried
 * however often it recurs, and never makes a batch poison — moving good data to a dead-letter area because a disk was
 * full for a minute would lose it from the pipeline for no fault of its own.
 */
export function isInfrastructureFailure(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    if (c instanceof FinmeshError && INFRASTRUCTURE_CODES.has(c.code)) return true;
    const errno = (c as { code?: unknown }).code;
    if (typeof errno === 'string' && INFRASTRUCTURE_ERRNOS.has(errno)) return true;
    const message = (c as { message?: unknown }).message;
    if (typeof message === 'string' && INFRASTRUCTURE_TEXT.test(message)) return true;
  }
  return false;
}

/** A failure's message, first line, without the staging file or folder and ids it names (they differ every attempt). */
export function failureText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return (text.split('\n')[0] ?? text)
    .replace(/(["'])\/[^"']*\1/g, '$1…$1')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '…')
    .slice(0, 2000);
}

/** What two failures of "the same way" share: their text without numbers (a line in a batch, a count, an offset). */
export function failureKind(e: unknown): string {
  return failureText(e).replace(/\d+/g, '#');
}
