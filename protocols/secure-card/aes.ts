// The three AES-128 operations an NTAG 424 DNA SUN message needs, on node:crypto: one-block
// ECB encryption, CBC decryption with a zero IV, and AES-CMAC (NIST SP 800-38B, RFC 4493).
// CMAC is its subkey derivation plus a CBC-MAC: about twenty lines here, which we prefer to a
// dependency on the money path (the npm CMAC packages are small, old and unmaintained; these
// lines are checked against RFC 4493's vectors in the tests). Pure computation, no I/O.
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const AES_BLOCK = 16;
const ZERO_IV = Buffer.alloc(AES_BLOCK);
/** The constant of the doubling in GF(2^128) for a 128-bit block (SP 800-38B, R_128). */
const RB = 0x87;

function checkKey(key: Uint8Array): void {
  if (key.length !== AES_BLOCK) throw new RangeError('an AES-128 key is 16 bytes');
}

/** AES-128 of one 16-byte block (ECB, no padding). */
export function aesEncryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  checkKey(key);
  if (block.length !== AES_BLOCK) throw new RangeError('one AES block is 16 bytes');
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** AES-128-CBC decryption with a zero IV and no padding; the input is whole blocks. */
export function aesCbcDecryptZeroIv(key: Uint8Array, data: Uint8Array): Buffer {
  checkKey(key);
  if (data.length === 0 || data.length % AES_BLOCK !== 0) throw new RangeError('CBC input is whole 16-byte blocks');
  const d = createDecipheriv('aes-128-cbc', key, ZERO_IV);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(data), d.final()]);
}

/** AES-128-CBC encryption with a zero IV and no padding (the card side, for tests and the simulator). */
export function aesCbcEncryptZeroIv(key: Uint8Array, data: Uint8Array): Buffer {
  checkKey(key);
  if (data.length === 0 || data.length % AES_BLOCK !== 0) throw new RangeError('CBC input is whole 16-byte blocks');
  const c = createCipheriv('aes-128-cbc', key, ZERO_IV);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Doubling in GF(2^128): shift left one bit, xor Rb into the last byte if a bit fell out. */
function double(block: Buffer): Buffer {
  const out = Buffer.alloc(AES_BLOCK);
  let carry = 0;
  for (let i = AES_BLOCK - 1; i >= 0; i--) {
    const b = block[i] ?? 0;
    out[i] = ((b << 1) | carry) & 0xff;
    carry = b >> 7;
  }
  if (carry) out[AES_BLOCK - 1] = (out[AES_BLOCK - 1] ?? 0) ^ RB;
  return out;
}

/** AES-CMAC of `message` under `key`: the full 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Buffer {
  checkKey(key);
  const l = aesEncryptBlock(key, ZERO_IV);
  const k1 = double(l);
  const k2 = double(k1);
  const blocks = Math.max(1, Math.ceil(message.length / AES_BLOCK));
  const complete = message.length > 0 && message.length % AES_BLOCK === 0;
  // The last block, padded with 10* when short, xored with K1 (complete) or K2 (padded).
  const last = Buffer.alloc(AES_BLOCK);
  const tail = message.subarray((blocks - 1) * AES_BLOCK);
  last.set(tail);
  if (!complete) last[tail.length] = 0x80;
  const sub = complete ? k1 : k2;
  for (let i = 0; i < AES_BLOCK; i++) last[i] = (last[i] ?? 0) ^ (sub[i] ?? 0);
  // CBC-MAC over the whole blocks then the last one: the tag is the last ciphertext block.
  const c = createCipheriv('aes-128-cbc', key, ZERO_IV);
  c.setAutoPadding(false);
  const head = message.subarray(0, (blocks - 1) * AES_BLOCK);
  const out = Buffer.concat([c.update(head), c.update(last), c.final()]);
  return out.subarray(out.length - AES_BLOCK);
}
