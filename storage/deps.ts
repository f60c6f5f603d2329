// What storage needs from outside, declared here so that storage/ imports nothing from gateway/:
// the gateway's clock and pino logger fit these by shape.
export type { Logger } from 'pino';

export interface Clock {
  /** Wall-clock milliseconds since the epoch, as the system believes. */
  now(): number;
  /** Monotonic milliseconds, for timeouts and intervals. */
  monotonic(): number;
}

/**
 * A card UID as the ledger stores it next to the vend and the audit row, and as logs and the
 * status page show it: only the last 4 characters.
 */
export function maskUid(uid: string): string {
  // At most the last 4 characters, and never more than 30 % of the UID: a 7-byte UID (14 hex
  // digits) shows 4, a 4-byte one (8 digits) shows 2, not half of the number.
  if (uid.length <= 4) return '****';
  const shown = Math.min(4, Math.floor(uid.length * 0.3));
  return `${'*'.repeat(uid.length - shown)}${uid.slice(uid.length - shown)}`;
}
