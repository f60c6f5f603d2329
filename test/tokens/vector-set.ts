// Builds the fixed test vectors (test/tokens/vectors.json, docs/qr-token-vectors.md) from fixed
// keys, claims and times. Ed25519 signatures are deterministic, so the strings are exact and a
// change to the minter that changes a byte shows up as a failing vectors test.
import { decodeCbor, encodeCbor, type CborValue } from '../../protocols/qr-token/cbor.js';
import { encodeClaims, type TokenClaims } from '../../protocols/qr-token/claims.js';
import { kidOf, toHex } from '../../protocols/qr-token/cose.js';
import { base45Decode, base45Encode } from '../../protocols/qr-token/base45.js';
import { keyPairFromSeed, mintToken, signPayload, type Ed25519KeyPair } from '../../protocols/qr-token/mint.js';
import { TOKEN_PREFIX, type TrustedKey, type VerifyContext } from '../../protocols/qr-token/verify.js';

// RFC 8032 section 7.1, TEST 1 and TEST 2: public, well-known seeds. Never use them for real.
export const SEED_1 = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
export const SEED_2 = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';

export interface VectorKey {
  seed: string;
  publicKey: string;
  publicKeyBase64url: string;
  kid: string;
}

export interface VectorContext {
  roomId: string;
  nowSec: number;
  skewSec: number;
  machineId?: string;
  priceCents?: number;
  /** Names of keys in `keys`, each trusted for `issuer`. */
  trustedKeys: { key: string; issuer: string }[];
  usedTokenIds: string[];
}

export type VectorExpect =
  | { ok: true; machineId?: string; program?: number; amountCents: number; chargeCents: number; overpaidCents: number; tokenId: string; expiresAt: number }
  | { ok: false; reason: string };

export interface Vector {
  name: string;
  description: string;
  token: string;
  /** The COSE_Sign1 bytes in hex, to diff against another minter. */
  coseHex?: string;
  context: VectorContext;
  expect: VectorExpect;
}

export interface VectorFile {
  description: string;
  keys: Record<string, VectorKey>;
  vectors: Vector[];
}

export const NOW = 1767225600; // 2026-01-01T00:00:00Z
const ROOM = 'room-042';
const ISS = 'laundry-cloud';

function vkey(seedHex: string): { pair: Ed25519KeyPair; info: VectorKey } {
  const pair = keyPairFromSeed(new Uint8Array(Buffer.from(seedHex, 'hex')));
  return { pair, info: { seed: seedHex, publicKey: toHex(pair.publicKey), publicKeyBase64url: Buffer.from(pair.publicKey).toString('base64url'), kid: pair.kid } };
}

function cti(n: number): Uint8Array {
  return new Uint8Array(Buffer.from(`c0ffee00${n.toString(16).padStart(8, '0')}`, 'hex'));
}

export function buildVectors(): VectorFile {
  const k1 = vkey(SEED_1);
  const k2 = vkey(SEED_2);
  const base: VectorContext = { roomId: ROOM, nowSec: NOW, skewSec: 300, machineId: 'W1', priceCents: 300, trustedKeys: [{ key: 'test-key-1', issuer: ISS }], usedTokenIds: [toHex(cti(99))] };
  const claims = (n: number, over: Partial<TokenClaims> = {}): TokenClaims => ({ iss: ISS, aud: ROOM, exp: NOW + 540, iat: NOW - 60, cti: cti(n), amt: 350, ...over });
  const ok = (n: number, extra: Partial<Extract<VectorExpect, { ok: true }>> = {}): VectorExpect => ({ ok: true, machineId: 'W1', amountCents: 350, chargeCents: 300, overpaidCents: 50, tokenId: toHex(cti(n)), expiresAt: NOW + 540, ...extra });
  const no = (reason: string): VectorExpect => ({ ok: false, reason });
  const priv = k1.pair.privateKey;
  const v: Vector[] = [];
  const add = (name: string, description: string, token: string, expect: VectorExpect, ctx: Partial<VectorContext> = {}): void => {
    const vec: Vector = { name, description, token, context: { ...base, ...ctx }, expect };
    if (token.startsWith(TOKEN_PREFIX)) {
      try {
        vec.coseHex = toHex(base45Decode(token.slice(TOKEN_PREFIX.length)));
      } catch {
        // not Base45: nothing to show
      }
    }
    v.push(vec);
  };

  add('valid_tagged', 'valid, COSE_Sign1 under CBOR tag 18, scanned at W1, price 300 of 350', mintToken(claims(1), priv), ok(1));
  add('valid_untagged', 'valid, COSE_Sign1 without tag 18', mintToken(claims(2), priv, { tagged: false }), ok(2));
  add(
    'valid_machine_program',
    'valid with "m" W2, "p" 3 and "acct", scanned at a kiosk (no machine), price 400 of 400',
    mintToken(claims(3, { m: 'W2', p: 3, amt: 400, acct: 'user-17' }), priv),
    ok(3, { machineId: 'W2', program: 3, amountCents: 400, chargeCents: 400, overpaidCents: 0 }),
    { priceCents: 400, machineId: undefined },
  );
  add('valid_m_matches_scanner', 'valid with "m" W1 scanned at W1', mintToken(claims(4, { m: 'W1' }), priv), ok(4));
  add(
    'valid_unknown_claims',
    'valid; unknown claims (text key "promo", integer key 99 with an array) are ignored',
    mintToken(claims(5), priv, { extraClaims: new Map<CborValue, CborValue>([['promo', 'spring'], [99, [1, 2, 3]]]) }),
    ok(5),
  );
  add('valid_iat_at_skew', 'iat exactly now + 300 (the skew): still valid', mintToken(claims(6, { iat: NOW + 300, exp: NOW + 900 }), priv), ok(6, { expiresAt: NOW + 900 }));
  add('valid_exp_in_1s', 'exp = now + 1: valid for one more second', mintToken(claims(7, { exp: NOW + 1 }), priv), ok(7, { expiresAt: NOW + 1 }));
  add('valid_no_price', 'valid, no price known yet: charge = amt', mintToken(claims(8), priv), ok(8, { chargeCents: 350, overpaidCents: 0 }), { priceCents: undefined });

  const good = mintToken(claims(10), priv);
  add('bad_format_prefix', 'prefix LW2: instead of LW1:', `LW2:${good.slice(4)}`, no('bad_format'));
  add('bad_format_base45_char', 'lower-case letter, outside the Base45 alphabet', `${good.slice(0, 10)}a${good.slice(11)}`, no('bad_format'));
  add('bad_format_base45_length', 'Base45 length 1 mod 3', `${good}0`, no('bad_format'));
  add('bad_format_too_long', '1025 characters', `LW1:${'0'.repeat(1021)}`, no('bad_format'));
  add('bad_format_not_cose', 'Base45 of a CBOR map instead of a COSE_Sign1 array', `LW1:${b45(encodeCbor(new Map<CborValue, CborValue>([[1, 'x']])))}`, no('bad_format'));
  add('bad_format_missing_amt', 'good signature, but the claims lack "amt"', signPayload(encodeCbor(new Map<CborValue, CborValue>([[1, ISS], [3, ROOM], [4, NOW + 540], [6, NOW - 60], [7, cti(11)]])), priv), no('bad_format'));
  add('bad_format_cti_short', 'good signature, cti of 4 bytes', signPayload(encodeClaims({ ...claims(12), cti: new Uint8Array(4) }), priv), no('bad_format'));
  const flipped = base45Decode(good.slice(4));
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
  add('bad_signature', 'last signature byte flipped', `LW1:${b45(flipped)}`, no('bad_signature'));
  add('bad_signature_payload_changed', 'amt changed after signing (payload of another token, same header and signature)', swapPayload(good, mintToken(claims(10, { amt: 35000 }), priv)), no('bad_signature'));
  add(
    'bad_signature_alg',
    'alg -7 (ES256) in the protected header: refused before any signature work',
    signPayload(encodeClaims(claims(13)), priv, { protectedHeader: encodeCbor(new Map<CborValue, CborValue>([[1, -7], [4, kidOf(k1.pair.publicKey)]])) }),
    no('bad_signature'),
  );
  add('unknown_key', 'signed by test-key-2, which the room does not trust', mintToken(claims(14), k2.pair.privateKey), no('unknown_key'));
  add('unknown_key_issuer', 'signed by test-key-1 but iss "other-cloud": not trusted for that key', mintToken(claims(15, { iss: 'other-cloud' }), priv), no('unknown_key'));
  add('wrong_room', 'aud room-007', mintToken(claims(16, { aud: 'room-007' }), priv), no('wrong_room'));
  add('not_yet_valid', 'iat now + 301, one second beyond the skew', mintToken(claims(17, { iat: NOW + 301, exp: NOW + 900 }), priv), no('not_yet_valid'));
  add('expired', 'exp = now: expired', mintToken(claims(18, { exp: NOW }), priv), no('expired'));
  add('replayed', 'cti already used in this room', mintToken(claims(99), priv), no('replayed'));
  add('wrong_machine', '"m" W2 scanned at W1', mintToken(claims(19, { m: 'W2' }), priv), no('wrong_machine'));
  add('over_amount', 'amt 250, the vend costs 300', mintToken(claims(20, { amt: 250 }), priv), no('over_amount'));

  return {
    description: 'Offline QR vend token v1 test vectors. Keys are RFC 8032 test keys (public seeds): for tests only. Each vector gives the token, the context the gateway verifies it in, and the verdict. Times are seconds since the epoch.',
    keys: { 'test-key-1': k1.info, 'test-key-2': k2.info },
    vectors: v,
  };
}

function b45(bytes: Uint8Array): string {
  return base45Encode(bytes);
}

/** Puts the payload of `other` into `token`, keeping token's header and signature. */
function swapPayload(token: string, other: string): string {
  const a = base45Decode(token.slice(4));
  const b = base45Decode(other.slice(4));
  const da = decodeSign1Parts(a);
  const db = decodeSign1Parts(b);
  return `LW1:${b45(encodeCbor([da[0], new Map<CborValue, CborValue>(), db[2], da[3]]))}`;
}

function decodeSign1Parts(bytes: Uint8Array): CborValue[] {
  const d = decodeCbor(bytes[0] === 0xd2 ? bytes.subarray(1) : bytes);
  if (!d.ok || !Array.isArray(d.value)) throw new Error('not a COSE_Sign1');
  return d.value;
}

/** The verifier context a vector describes. */
export function contextOf(file: VectorFile, c: VectorContext): VerifyContext {
  const trustedKeys: TrustedKey[] = c.trustedKeys.map((t) => {
    const k = file.keys[t.key];
    if (!k) throw new Error(`vector names unknown key ${t.key}`);
    return { kid: k.kid, publicKey: new Uint8Array(Buffer.from(k.publicKey, 'hex')), issuer: t.issuer };
  });
  const used = new Set(c.usedTokenIds);
  const ctx: VerifyContext = { roomId: c.roomId, nowSec: c.nowSec, skewSec: c.skewSec, trustedKeys, isUsed: (id) => used.has(id) };
  if (c.machineId !== undefined) ctx.machineId = c.machineId;
  if (c.priceCents !== undefined) ctx.priceCents = c.priceCents;
  return ctx;
}
