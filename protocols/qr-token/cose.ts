// COSE_Sign1 (RFC 9052) as the token uses it: [protected bstr, unprotected {}, payload bstr,
// signature bstr(64)], optionally under tag 18, with EdDSA/Ed25519 keys given as raw 32 bytes.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { decodeCbor, encodeCbor, isBytes, isCborMap, type CborValue } from './cbor.js';

export const COSE_ALG_EDDSA = -8;
export const COSE_HEADER_ALG = 1;
export const COSE_HEADER_CRIT = 2;
export const COSE_HEADER_KID = 4;
export const COSE_SIGN1_TAG = 18;
export const KID_LENGTH = 8;
export const ED25519_SIGNATURE_LENGTH = 64;

// DER prefixes of an Ed25519 SubjectPublicKeyInfo and a PKCS#8 private key (RFC 8410): the raw
// key follows each directly, so Node can import raw keys without a JWK detour.
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

export interface Sign1 {
  tagged: boolean;
  protectedBytes: Uint8Array;
  /** alg as found; checked against EdDSA by the verifier, before any signature work. */
  alg: number | string;
  kid: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

export type Sign1Result = { ok: true; sign1: Sign1 } | { ok: false; detail: string };

/** Parses the envelope and its protected header. Says nothing about the signature or the claims. */
export function parseSign1(bytes: Uint8Array): Sign1Result {
  // Tag 18 in its only minimal form (0xd2); any other tag, or a tag anywhere else, cborg refuses.
  const tagged = bytes[0] === 0xd2;
  const decoded = decodeCbor(tagged ? bytes.subarray(1) : bytes);
  if (!decoded.ok) return { ok: false, detail: `COSE_Sign1: ${decoded.detail}` };
  const v = decoded.value;
  if (!Array.isArray(v) || v.length !== 4) return { ok: false, detail: 'COSE_Sign1 is not a 4-element array' };
  const [protectedBytes, unprotected, payload, signature] = v;
  if (!isBytes(protectedBytes)) return { ok: false, detail: 'protected header is not a byte string' };
  if (!isCborMap(unprotected)) return { ok: false, detail: 'unprotected header is not a map' };
  if (unprotected.size !== 0) return { ok: false, detail: 'unprotected header is not empty' };
  if (!isBytes(payload)) return { ok: false, detail: 'payload is not a byte string (detached payloads are not used)' };
  if (!isBytes(signature)) return { ok: false, detail: 'signature is not a byte string' };
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return { ok: false, detail: `signature is ${signature.length} bytes, not ${ED25519_SIGNATURE_LENGTH}` };
  if (protectedBytes.length === 0) return { ok: false, detail: 'protected header is empty' };
  const ph = decodeCbor(protectedBytes);
  if (!ph.ok) return { ok: false, detail: `protected header: ${ph.detail}` };
  if (!isCborMap(ph.value)) return { ok: false, detail: 'protected header is not a map' };
  const header = ph.value;
  // We understand no critical extension, so a token that declares one must be refused (RFC 9052 3.1).
  if (header.has(COSE_HEADER_CRIT)) return { ok: false, detail: 'protected header has crit parameters, none is supported' };
  const alg = header.get(COSE_HEADER_ALG);
  if (alg === undefined) return { ok: false, detail: 'protected header has no alg (1)' };
  if (typeof alg !== 'string' && !(typeof alg === 'number' && Number.isSafeInteger(alg))) return { ok: false, detail: 'alg (1) is neither an integer nor a text string' };
  const kid = header.get(COSE_HEADER_KID);
  if (kid === undefined) return { ok: false, detail: 'protected header has no kid (4)' };
  if (!isBytes(kid)) return { ok: false, detail: 'kid (4) is not a byte string' };
  if (kid.length !== KID_LENGTH) return { ok: false, detail: `kid is ${kid.length} bytes, not ${KID_LENGTH}` };
  return { ok: true, sign1: { tagged, protectedBytes, alg, kid, payload, signature } };
}

/** The bytes Ed25519 signs: Sig_structure = ["Signature1", protected, h'' (external_aad), payload]. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

/** kid = the first 8 bytes of SHA-256 over the raw 32-byte Ed25519 public key. */
export function kidOf(publicKeyRaw: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(publicKeyRaw).digest().subarray(0, KID_LENGTH));
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The private key is its 32-byte seed (RFC 8032), as `token keygen` prints it. */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError(`an Ed25519 private key (seed) is 32 bytes, got ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function rawPublicKeyOf(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

export function rawSeedOf(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.length - 32));
}

export function encodeProtectedHeader(kid: Uint8Array): Uint8Array {
  return encodeCbor(new Map<CborValue, CborValue>([[COSE_HEADER_ALG, COSE_ALG_EDDSA], [COSE_HEADER_KID, kid]]));
}

export function encodeSign1(protectedBytes: Uint8Array, payload: Uint8Array, signature: Uint8Array, tagged: boolean): Uint8Array {
  const body = encodeCbor([protectedBytes, new Map<CborValue, CborValue>(), payload, signature]);
  if (!tagged) return body;
  const out = new Uint8Array(body.length + 1);
  out[0] = 0xd2;
  out.set(body, 1);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
