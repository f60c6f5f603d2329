// Type S: 13.56 MHz NDEF reader for NTAG 424 DNA secure cards (../shared/specs/secure-cards.md).
// At each tap it sends the card's URI record text then CR LF; a plain card (no NDEF URI) gives
// `UID:` and its UID in uppercase hex. It does not repeat while a card stays in the field. This
// layer only frames and sorts lines: a SUN line goes on as text to the verifier (which needs the
// room's keys and may decline it `bad_format`), a UID: line is checked as strictly as a type L
// line, and anything else is noise. A URI has no spaces or controls, so any byte outside
// printable ASCII (0x21..0x7E) makes the whole line noise.
import { LINE_READER_DELIMITER, parseLineReaderLine } from './line-reader.js';
import type { NoiseReason } from './noise.js';

export const SUN_READER_DELIMITER = LINE_READER_DELIMITER;
/** Longest line (without CR LF) kept, from the datasheet; anything longer is noise. */
export const SUN_READER_MAX_LINE_BYTES = 512;
export const SUN_READER_UID_PREFIX = 'UID:';

export type SunReaderNoise = Extract<NoiseReason, 'empty' | 'oversize' | 'bad-char' | 'bad-length' | 'not-sun'>;

export type SunReaderLine =
  | { ok: true; kind: 'sun'; text: string }
  | { ok: true; kind: 'uid'; uid: string }
  | { ok: false; reason: SunReaderNoise };

const PREFIX = [0x55, 0x49, 0x44, 0x3a]; // "UID:"

function startsWithUidPrefix(line: Uint8Array): boolean {
  return line.length >= PREFIX.length && PREFIX.every((b, i) => line[i] === b);
}

/** Validates one line as delivered by the delimiter parser (CR LF already removed). */
export function parseSunReaderLine(line: Uint8Array): SunReaderLine {
  if (line.length === 0) return { ok: false, reason: 'empty' };
  if (line.length > SUN_READER_MAX_LINE_BYTES) return { ok: false, reason: 'oversize' };
  for (const b of line) if (b < 0x21 || b > 0x7e) return { ok: false, reason: 'bad-char' };
  if (startsWithUidPrefix(line)) {
    const r = parseLineReaderLine(line.subarray(PREFIX.length));
    if (!r.ok) return { ok: false, reason: r.reason === 'empty' ? 'bad-length' : r.reason === 'oversize' ? 'bad-length' : r.reason };
    return { ok: true, kind: 'uid', uid: r.uid };
  }
  const text = String.fromCharCode(...line);
  // A line that names neither parameter is no SUN message at all (line junk, another device):
  // noise, not a decline with an audit row. One that names them goes to the verifier.
  if (!text.includes('picc_data=') && !text.includes('cmac=')) return { ok: false, reason: 'not-sun' };
  return { ok: true, kind: 'sun', text };
}

/** The bytes a type S reader sends for one tap of a secure card (for the emulator and tests). */
export function encodeSunReaderLine(uriText: string): Uint8Array {
  return new TextEncoder().encode(`${uriText}${SUN_READER_DELIMITER}`);
}

/** The bytes a type S reader sends for a plain card. */
export function encodeSunReaderUidLine(uid: string): Uint8Array {
  return new TextEncoder().encode(`${SUN_READER_UID_PREFIX}${uid}${SUN_READER_DELIMITER}`);
}
