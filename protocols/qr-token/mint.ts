// Minting, for tests, demos and the CLI. The cloud mints with its own COSE library; this
// writes exactly the wire form the spec describes, so the two must agree byte for byte in shape.
import { generateKeyPairSync, sign as edSign, type KeyObject } from 'node:crypto';
import { base45Encode } from './base45.js';
import { encodeClaims, tokenClaimsSchema, type TokenClaims } from './claims.js';
import { ed25519PrivateKey, encodeProtectedHeader, encodeSign1, kidOf, rawPublicKeyOf, rawSeedOf, sigStructure, toHex } from './cose.js';
import type { CborValue } from './cbor.js';
import { TOKEN_PREFIX } from './verify.js';

export interface MintOptions {
  /** Wrap the COSE_Sign1 in CBOR tag 18 (default true, as the EU DCC does). */
  tagged?: boolean;
  /** Unknown claims to add, to prove verifiers ignore them. */
  extraClaims?: ReadonlyMap<CborValue, CborValue>;
  /** Override the kid (to build unknown-key vectors); defaults to the key's own kid. */
  kid?: Uint8Array;
}

export interface Ed25519KeyPair {
  /** 32-byte seed (RFC 8032 private key). */
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  kid: string;
}

function toPrivateKeyObject(key: Uint8Array | KeyObject): KeyObject {
  return key instanceof Uint8Array ? ed25519PrivateKey(key) : key;
}

export function keyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  const pub = rawPublicKeyOf(ed25519PrivateKey(seed));
  return { privateKey: new Uint8Array(seed), publicKey: pub, kid: toHex(kidOf(pub)) };
}

export function generateKeyPair(): Ed25519KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  return keyPairFromSeed(rawSeedOf(privateKey));
}

export interface SignPayloadOptions {
  tagged?: boolean;
  /** Override the kid (to build unknown-key vectors); defaults to the key's own kid. */
  kid?: Uint8Array;
  /** Override the whole protected header bytes (to build wrong-alg vectors). */
  protectedHeader?: Uint8Array;
}

/** Signs arbitrary payload bytes into `LW1:…`: for vectors and tests that need malformed claims. */
export function signPayload(payload: Uint8Array, privateKey: Uint8Array | KeyObject, opts: SignPayloadOptions = {}): string {
  const key = toPrivateKeyObject(privateKey);
  const protectedBytes = opts.protectedHeader ?? encodeProtectedHeader(opts.kid ?? kidOf(rawPublicKeyOf(key)));
  const signature = new Uint8Array(edSign(null, sigStructure(protectedBytes, payload), key));
  return TOKEN_PREFIX + base45Encode(encodeSign1(protectedBytes, payload, signature, opts.tagged ?? true));
}

/** Signs the claims with an Ed25519 private key (32-byte seed or KeyObject) and returns `LW1:…`. */
export function mintToken(claims: TokenClaims, privateKey: Uint8Array | KeyObject, opts: MintOptions = {}): string {
  tokenClaimsSchema.parse(claims);
  const signOpts: SignPayloadOptions = { tagged: opts.tagged ?? true };
  if (opts.kid) signOpts.kid = opts.kid;
  return signPayload(encodeClaims(claims, opts.extraClaims), privateKey, signOpts);
}
