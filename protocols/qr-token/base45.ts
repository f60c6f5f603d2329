// Base45 (RFC 9285): the QR alphanumeric alphabet, so a token fills a QR code at 5.5 bits per
// character instead of 8. The decoder is strict: a lenient one would let two different strings
// stand for the same bytes, and the error says where the text went wrong.

export const BASE45_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

const DECODE_TABLE: readonly number[] = (() => {
  const t = new Array<number>(128).fill(-1);
  for (let i = 0; i < BASE45_ALPHABET.length; i++) t[BASE45_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

export class Base45Error extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'Base45Error';
  }
}

export function base45Encode(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 1 < bytes.length; i += 2) {
    const n = (bytes[i] ?? 0) * 256 + (bytes[i + 1] ?? 0);
    const c = n % 45;
    const d = Math.floor(n / 45) % 45;
    const e = Math.floor(n / 2025);
    out += charAt(c) + charAt(d) + charAt(e);
  }
  if (i < bytes.length) {
    const n = bytes[i] ?? 0;
    out += charAt(n % 45) + charAt(Math.floor(n / 45));
  }
  return out;
}

function charAt(v: number): string {
  return BASE45_ALPHABET.charAt(v);
}

function valueAt(text: string, pos: number): number {
  const code = text.charCodeAt(pos);
  const v = code < 128 ? (DECODE_TABLE[code] ?? -1) : -1;
  if (v < 0) {
    const shown = code >= 0x20 && code < 0x7f ? `'${text.charAt(pos)}'` : `U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
    throw new Base45Error(`character ${shown} at position ${pos} is not in the Base45 alphabet`, pos);
  }
  return v;
}

/** Throws Base45Error on any character outside the alphabet, a length of 1 mod 3, or a group out of range. */
export function base45Decode(text: string): Uint8Array {
  if (text.length % 3 === 1) throw new Base45Error(`length ${text.length} is 1 mod 3, which no byte string encodes to`, text.length - 1);
  const out = new Uint8Array(Math.floor(text.length / 3) * 2 + (text.length % 3 === 2 ? 1 : 0));
  let o = 0;
  let i = 0;
  for (; i + 2 < text.length; i += 3) {
    const n = valueAt(text, i) + valueAt(text, i + 1) * 45 + valueAt(text, i + 2) * 2025;
    if (n > 0xffff) throw new Base45Error(`group at position ${i} has value ${n}, above 65535`, i);
    out[o++] = n >> 8;
    out[o++] = n & 0xff;
  }
  if (i < text.length) {
    const n = valueAt(text, i) + valueAt(text, i + 1) * 45;
    if (n > 0xff) throw new Base45Error(`final pair at position ${i} has value ${n}, above 255`, i);
    out[o++] = n;
  }
  return out;
}
