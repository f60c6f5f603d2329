// The three AES-128 operations an NTAG 424 DNA SUN message needs, on node:crypto: one-block
// ECB encryption, CBC decryption with a zero IV, and AES-CMAC (NIST SP 800-38B, RFC 4493).
// CMAC is its subkey derivation plus a CBC-MAC: about twenty lines here, which we prefer to a
// dependency on the money path (the npm CMAC packages are small, old and unmaintained; these
// lines are checked against RFC 4493's vectors in the tests). Pure computation, no I/O.
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';

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

/**
 * One AES-128 key in ECB mode, kept open: each block is one `update` on the same OpenSSL context.
 * Making a context costs far more than using it, and a SUN check needs about ten blocks.
 */
export class AesEcb {
  private readonly key: Buffer;
  // Each direction is made on first use: a CMAC key never decrypts, a meta key never encrypts.
  private enc: Cipher | null = null;
  private dec: Decipher | null = null;

  constructor(key: Uint8Array) {
    checkKey(key);
    this.key = Buffer.from(key);
  }

  encryptBlock(block: Uint8Array): Buffer {
    if (block.length !== AES_BLOCK) throw new RangeError('one AES block is 16 bytes');
    if (this.enc === null) {
      this.enc = createCipheriv('aes-128-ecb', this.key, null);
      this.enc.setAutoPadding(false);
    }
    return this.enc.update(block);
  }

  decryptBlock(block: Uint8Array): Buffer {
    if (block.length !== AES_BLOCK) throw new RangeError('one AES block is 16 bytes');
    if (this.dec === null) {
      this.dec = createDecipheriv('aes-128-ecb', this.key, null);
      this.dec.setAutoPadding(false);
    }
    return this.dec.update(block);
  }
}

/** AES-CMAC under one key, its subkeys computed once. */
export class AesCmac {
  private readonly ecb: AesEcb;
  private readonly k1: Buffer;
  private readonly k2: Buffer;

  constructor(key: Uint8Array) {
    this.ecb = new AesEcb(key);
    this.k1 = double(this.ecb.encryptBlock(ZERO_IV));
    this.k2 = double(this.k1);
  }

  /** The full 16-byte tag of `message`. */
  mac(message: Uint8Array): Buffer {
    const blocks = Math.max(1, Math.ceil(message.length / AES_BLOCK));
    const complete = message.length > 0 && message.length % AES_BLOCK === 0;
    // CBC-MAC over the whole blocks, then the last one, padded with 10* when short and xored
    // with K1 (complete) or K2 (padded): the tag is the last ciphertext block.
    let x: Buffer = Buffer.alloc(AES_BLOCK);
    const block = Buffer.alloc(AES_BLOCK);
    for (let b = 0; b < blocks - 1; b++) {
      for (let i = 0; i < AES_BLOCK; i++) block[i] = (x[i] ?? 0) ^ (message[b * AES_BLOCK + i] ?? 0);
      x = this.ecb.encryptBlock(block);
    }
    const tail = message.subarray((blocks - 1) * AES_BLOCK);
    const last = Buffer.alloc(AES_BLOCK);
    last.set(tail);
    if (!complete) last[tail.length] = 0x80;
    const sub = complete ? this.k1 : this.k2;
    for (let i = 0; i < AES_BLOCK; i++) block[i] = (x[i] ?? 0) ^ (last[i] ?? 0) ^ (sub[i] ?? 0);
    return this.ecb.encryptBlock(block);
  }
}

/** AES-CMAC of `message` under `key`: the full 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Buffer {
  return new AesCmac(key).mac(message);
}
