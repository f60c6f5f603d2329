// Type E: 125 kHz EM4100 reader (RDM6300 style). A frame is STX, 10 hex characters of data
// (version byte + 4 ID bytes), 2 hex characters of checksum (XOR of the 5 data bytes), ETX; no
// CR or LF. There is no delimiter to split on, so this framer is a small state machine that
// resynchronises on STX: anything outside STX..ETX is stray, a new STX inside a frame means the
// previous one was cut, and a frame that grows past the cap is dropped without buffering more.
import type { NoiseReason } from './noise.js';

export const EM4100_STX = 0x02;
export const EM4100_ETX = 0x03;
/** Longest frame, STX and ETX included, before it is dropped as oversize. */
export const EM4100_MAX_FRAME_BYTES = 64;
/** Characters between STX and ETX in a valid frame: 10 data + 2 checksum. */
export const EM4100_BODY_CHARS = 12;

export type Em4100NoiseReason = Extract<NoiseReason, 'bad-char' | 'bad-length' | 'bad-checksum' | 'cut-frame' | 'stray-bytes' | 'oversize'>;

export type Em4100BodyResult = { ok: true; uid: string } | { ok: false; reason: Extract<Em4100NoiseReason, 'bad-char' | 'bad-length' | 'bad-checksum'> };

export type Em4100Event =
  | { kind: 'frame'; uid: string }
  /** `bytes` is how many bytes were thrown away with this piece of noise. */
  | { kind: 'noise'; reason: Em4100NoiseReason; bytes: number };

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  // The datasheet says "ASCII hex" without a case; RDM6300 clones differ, so lowercase is read too.
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
}

/** Validates the 12 characters between STX and ETX; the uid is the 10 data characters, uppercase. */
export function parseEm4100Body(body: Uint8Array): Em4100BodyResult {
  if (body.length !== EM4100_BODY_CHARS) {
    for (const b of body) if (hexValue(b) < 0) return { ok: false, reason: 'bad-char' };
    return { ok: false, reason: 'bad-length' };
  }
  const bytes: number[] = [];
  for (let i = 0; i < EM4100_BODY_CHARS; i += 2) {
    const hi = hexValue(body[i] ?? -1);
    const lo = hexValue(body[i + 1] ?? -1);
    if (hi < 0 || lo < 0) return { ok: false, reason: 'bad-char' };
    bytes.push(hi * 16 + lo);
  }
  let xor = 0;
  for (let i = 0; i < 5; i++) xor ^= bytes[i] ?? 0;
  if (xor !== bytes[5]) return { ok: false, reason: 'bad-checksum' };
  return { ok: true, uid: String.fromCharCode(...body.subarray(0, 10)).toUpperCase() };
}

/** The two checksum characters for a 10-hex-character uid. */
export function em4100Checksum(uid: string): string {
  if (!/^[0-9A-Fa-f]{10}$/.test(uid)) throw new RangeError('an EM4100 uid is 10 hex characters');
  let xor = 0;
  for (let i = 0; i < 10; i += 2) xor ^= Number.parseInt(uid.slice(i, i + 2), 16);
  return xor.toString(16).toUpperCase().padStart(2, '0');
}

/** The bytes a type E reader sends for one sighting of `uid` (for the emulator and tests). */
export function encodeEm4100Frame(uid: string): Uint8Array {
  const body = `${uid.toUpperCase()}${em4100Checksum(uid)}`;
  return Uint8Array.from([EM4100_STX, ...new TextEncoder().encode(body), EM4100_ETX]);
}

type State = 'idle' | 'frame' | 'discard';

export class Em4100Framer {
  private state: State = 'idle';
  // Fixed-size: the cap bounds memory whatever the line carries.
  private readonly body = new Uint8Array(EM4100_MAX_FRAME_BYTES - 2);
  private bodyLen = 0;
  private stray = 0;

  /** Feeds bytes as they arrive; returns what they completed, in order. Never throws. */
  push(chunk: Uint8Array): Em4100Event[] {
    const out: Em4100Event[] = [];
    for (const b of chunk) {
      if (b === EM4100_STX) {
        this.flushStray(out);
        if (this.state === 'frame') out.push({ kind: 'noise', reason: 'cut-frame', bytes: this.bodyLen + 1 });
        this.state = 'frame';
        this.bodyLen = 0;
        continue;
      }
      switch (this.state) {
        case 'idle':
          this.stray++;
          break;
        case 'discard':
          // The rest of an oversized frame was already reported; its ETX ends it.
          if (b === EM4100_ETX) this.state = 'idle';
          break;
        case 'frame':
          if (b === EM4100_ETX) {
            const r = parseEm4100Body(this.body.subarray(0, this.bodyLen));
            out.push(r.ok ? { kind: 'frame', uid: r.uid } : { kind: 'noise', reason: r.reason, bytes: this.bodyLen + 2 });
            this.state = 'idle';
            this.bodyLen = 0;
          } else if (this.bodyLen >= this.body.length) {
            out.push({ kind: 'noise', reason: 'oversize', bytes: this.bodyLen + 2 });
            this.state = 'discard';
            this.bodyLen = 0;
          } else {
            this.body[this.bodyLen++] = b;
          }
          break;
      }
    }
    this.flushStray(out);
    return out;
  }

  /** Forgets any partial frame, e.g. when the port is reopened. */
  reset(): void {
    this.state = 'idle';
    this.bodyLen = 0;
    this.stray = 0;
  }

  /** Bytes currently held for an unfinished frame. */
  get bufferedBytes(): number {
    return this.bodyLen;
  }

  private flushStray(out: Em4100Event[]): void {
    if (this.stray > 0) out.push({ kind: 'noise', reason: 'stray-bytes', bytes: this.stray });
    this.stray = 0;
  }
}
