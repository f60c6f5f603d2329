// Ed25519 over the exact UTF-8 bytes of a JSON text carried in a string field: the gateway
// verifies, the cloud (and the reference consumer) signs. Pure computation, no key storage.
import { sign, verify, type KeyObject } from 'node:crypto';
import { ed25519PublicKey } from '../qr-token/cose.js';

export function signText(privateKey: KeyObject, text: string): string {
  return sign(null, Buffer.from(text, 'utf8'), privateKey).toString('base64url');
}

/** False for any failure (bad key bytes, bad signature encoding, wrong signature): never throws. */
export function verifyText(publicKey: KeyObject, text: string, sigB64url: string): boolean {
  const sig = Buffer.from(sigB64url, 'base64url');
  if (sig.length !== 64) return false;
  try {
    return verify(null, Buffer.from(text, 'utf8'), publicKey, sig);
  } catch {
    return false;
  }
}

/** The config key is given as base64url of the raw 32-byte public key. */
export function publicKeyFromBase64url(b64: string): KeyObject {
  return ed25519PublicKey(new Uint8Array(Buffer.from(b64, 'base64url')));
}
