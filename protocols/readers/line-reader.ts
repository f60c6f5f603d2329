// Type L: 13.56 MHz line reader (ISO 14443A). One line = the card UID as uppercase hex, 8, 14
// or 20 characters (4-, 7- or 10-byte UID), then CR LF. The line has no checksum, so it is taken
// only when every byte is exactly what the datasheet allows: a stray byte glued to a UID could
// otherwise turn a 14-character UID into a valid-looking 20-character one.
import type { NoiseReason } from './noise.js';

export const LINE_READER_DELIMITER = '\r\n';
/** Longest line (without CR LF) kept; anything longer is dropped as oversize. */
export const LINE_READER_MAX_LINE_BYTES = 64;
export const LINE_READER_UID_LENGTHS: readonly number[] = [8, 14, 20];

export type LineReaderResult = { ok: true; uid: string } | { ok: false; reason: Extract<NoiseReason, 'empty' | 'oversize' | 'bad-char' | 'bad-length'> };

function isUpperHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46);
}

/** Validates one line as delivered by the delimiter parser (CR LF already removed). */
export function parseLineReaderLine(line: Uint8Array): LineReaderResult {
  if (line.length === 0) return { ok: false, reason: 'empty' };
  if (line.length > LINE_READER_MAX_LINE_BYTES) return { ok: false, reason: 'oversize' };
  for (const b of line) {
    if (!isUpperHex(b)) return { ok: false, reason: 'bad-char' };
  }
  if (!LINE_READER_UID_LENGTHS.includes(line.length)) return { ok: false, reason: 'bad-length' };
  return { ok: true, uid: String.fromCharCode(...line) };
}

/** The bytes a type L reader sends for one sighting of `uid` (for the emulator and tests). */
export function encodeLineReaderLine(uid: string): Uint8Array {
  return new TextEncoder().encode(`${uid}${LINE_READER_DELIMITER}`);
}
