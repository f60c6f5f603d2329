// QR scanners: each decoded code is its text followed by CR, no prefix. A scanner reads whatever
// code is held in front of it, so this layer does not know what a vend token looks like: it
// passes any well-formed text and lets the token verifier reject foreign codes with its own
// reason. "Well-formed" is what no real QR text carries but line noise does: invalid UTF-8 and
// control characters.
import type { NoiseReason } from './noise.js';

export const QR_DELIMITER = '\r';
/** Longest text (without CR) kept; anything longer is dropped as oversize. */
export const QR_MAX_TEXT_BYTES = 2048;

export type QrScanResult = { ok: true; text: string } | { ok: false; reason: Extract<NoiseReason, 'empty' | 'oversize' | 'bad-encoding' | 'control-char'> };

const LF = 0x0a;

// C0 controls, DEL and C1 controls. Tab and LF are refused too: a vend token never has them, and
// a multi-line code is cut by the scanner's CR anyway.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Validates one scanned text as delivered by the delimiter parser (CR already removed). */
export function parseQrText(raw: Uint8Array): QrScanResult {
  // A scanner configured for a CR LF suffix leaves the LF at the start of the next text.
  const bytes = raw[0] === LF ? raw.subarray(1) : raw;
  if (bytes.length === 0) return { ok: false, reason: 'empty' };
  if (bytes.length > QR_MAX_TEXT_BYTES) return { ok: false, reason: 'oversize' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ok: false, reason: 'bad-encoding' };
  }
  if (CONTROL.test(text)) return { ok: false, reason: 'control-char' };
  return { ok: true, text };
}

/** The bytes a scanner sends for one decode of `text` (for the emulator and tests). */
export function encodeQrText(text: string): Uint8Array {
  return new TextEncoder().encode(`${text}${QR_DELIMITER}`);
}
