// Vend ids (storage/vends.ts hold): UUIDs in time order, for the pages of the vend_id indexes.
import { randomBytes } from 'node:crypto';

/**
 * A vend's id: a UUID whose first 48 bits are the wall time in ms (RFC 9562 version 7), the rest
 * random. Three indexes are keyed by vend_id (the vends key, entries_vend, audit_vend): a random
 * id put each vend's keys on a random 1 KiB page of each, rewritten (and often split) for that
 * vend alone and copied again by the next checkpoint; ids in time order put them at the right
 * edge, on the pages the previous vends wrote. Unique by its 74 random bits whatever the clock
 * does (no RTC: a clock set back only puts keys mid-index again).
 */
export function timeOrderedUuid(nowMs: number): string {
  const b = randomBytes(16);
  b.writeUIntBE(Math.min(Math.max(0, Math.floor(nowMs)), 2 ** 48 - 1), 0, 6);
  b.writeUInt8((b.readUInt8(6) & 0x0f) | 0x70, 6);
  b.writeUInt8((b.readUInt8(8) & 0x3f) | 0x80, 8);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
