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
  return uid.length <= 4 ? '****' : `${'*'.repeat(Math.max(0, uid.length - 4))}${uid.slice(-4)}`;
}
