// Strict CBOR (RFC 8949) for token bytes, on top of cborg: a strict, small, dependency-free
// decoder (see docs/qr-token.md for why not cbor-x or our own). cborg decodes recursively and
// has no depth or item limit, so a structural pre-scan here walks the item heads iteratively
// first and rejects what cborg would choke on or what a token never contains: too many bytes,
// too deep, too many items, indefinite lengths, reserved heads, undefined and other simple
// values, invalid UTF-8, trailing bytes. Only input that passes goes to cborg, which then adds
// minimal-encoding (strict) and duplicate-key checks, and keeps integer map keys (useMaps).
import { decode, encode } from 'cborg';

export type CborValue = number | string | boolean | null | Uint8Array | CborValue[] | Map<CborValue, CborValue>;

export interface CborLimits {
  maxBytes: number;
  maxDepth: number;
  maxItems: number;
}

/** A token is at most 1024 characters, so never more than 680 bytes of CBOR; nesting in a real token is 2. */
export const TOKEN_CBOR_LIMITS: Readonly<CborLimits> = { maxBytes: 1024, maxDepth: 16, maxItems: 512 };

export type CborResult = { ok: true; value: CborValue } | { ok: false; detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readArg(bytes: Uint8Array, pos: number, ai: number): { arg: number; next: number } | string {
  if (ai < 24) return { arg: ai, next: pos };
  const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
  if (size === 0) return ai === 31 ? `indefinite length at byte ${pos - 1} is not allowed` : `reserved additional information ${ai} at byte ${pos - 1}`;
  if (pos + size > bytes.length) return `truncated head at byte ${pos - 1}`;
  let arg = 0;
  for (let i = 0; i < size; i++) arg = arg * 256 + (bytes[pos + i] ?? 0);
  // A value above 2^53 loses precision here; it is only ever compared against small limits.
  return { arg, next: pos + size };
}

/** Structural check without building values; returns why the input is refused, or undefined. */
export function scanCbor(bytes: Uint8Array, limits: Readonly<CborLimits> = TOKEN_CBOR_LIMITS): string | undefined {
  if (bytes.length === 0) return 'empty input';
  if (bytes.length > limits.maxBytes) return `input is ${bytes.length} bytes, above the limit of ${limits.maxBytes}`;
  const open: number[] = []; // items still expected in each open container
  let pos = 0;
  let items = 0;
  for (;;) {
    if (pos >= bytes.length) return `truncated: input ends inside an item at byte ${pos}`;
    const start = pos;
    const ib = bytes[pos++] ?? 0;
    const major = ib >> 5;
    const ai = ib & 31;
    if (++items > limits.maxItems) return `more than ${limits.maxItems} items`;
    let children = 0;
    if (major === 7) {
      if (ai === 31) return `unexpected break at byte ${start}`;
      if (ai === 25 || ai === 26 || ai === 27) {
        const size = ai === 25 ? 2 : ai === 26 ? 4 : 8;
        if (pos + size > bytes.length) return `truncated float at byte ${start}`;
        pos += size;
      } else if (ai < 20 || ai > 22) {
        return `simple value ${ai === 24 ? `(1-byte) ${bytes[pos] ?? '?'}` : ai} at byte ${start} is not allowed`;
      }
    } else {
      const head = readArg(bytes, pos, ai);
      if (typeof head === 'string') return head;
      pos = head.next;
      const arg = head.arg;
      if (major === 2 || major === 3) {
        if (arg > bytes.length - pos) return `string at byte ${start} claims ${arg} bytes, only ${bytes.length - pos} left`;
        if (major === 3) {
          try {
            utf8.decode(bytes.subarray(pos, pos + arg));
          } catch {
            return `text string at byte ${start} is not valid UTF-8`;
          }
        }
        pos += arg;
      } else if (major === 4 || major === 5) {
        children = major === 4 ? arg : arg * 2;
        // every item takes at least one byte: a count above what is left is a lie, refuse it before allocating
        if (children > bytes.length - pos) return `${major === 4 ? 'array' : 'map'} at byte ${start} claims ${arg} entries, only ${bytes.length - pos} bytes left`;
      } else if (major === 6) {
        children = 1;
      }
    }
    if (children > 0) {
      if (open.length + 1 > limits.maxDepth) return `nesting deeper than ${limits.maxDepth} at byte ${start}`;
      open.push(children);
      continue;
    }
    // the item is complete: close every container it completes
    for (;;) {
      const last = open.length - 1;
      if (last < 0) {
        return pos === bytes.length ? undefined : `${bytes.length - pos} trailing bytes after the item`;
      }
      const left = (open[last] ?? 1) - 1;
      if (left > 0) {
        open[last] = left;
        break;
      }
      open.pop();
    }
  }
}

/** Decodes one CBOR item strictly; never throws. Tags are refused: the caller strips the ones it knows. */
export function decodeCbor(bytes: Uint8Array, limits: Readonly<CborLimits> = TOKEN_CBOR_LIMITS): CborResult {
  const problem = scanCbor(bytes, limits);
  if (problem !== undefined) return { ok: false, detail: problem };
  try {
    const value: unknown = decode(bytes, {
      strict: true,
      useMaps: true,
      rejectDuplicateMapKeys: true,
      allowIndefinite: false,
      allowUndefined: false,
      allowBigInt: false,
      allowNaN: false,
      allowInfinity: false,
    });
    return { ok: true, value: value as CborValue };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, detail: msg.replace(/^CBOR decode error: /, '') };
  }
}

/** Deterministic-enough encoding for the minter: cborg sorts map keys (RFC 8949 length-first). */
export function encodeCbor(value: CborValue): Uint8Array {
  return encode(value);
}

export function isCborMap(v: CborValue | undefined): v is Map<CborValue, CborValue> {
  return v instanceof Map;
}

export function isBytes(v: CborValue | undefined): v is Uint8Array {
  return v instanceof Uint8Array;
}
