import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCbor, type CborValue } from '../../protocols/qr-token/cbor.js';
import { encodeClaims, type TokenClaims } from '../../protocols/qr-token/claims.js';
import { kidOf, toHex } from '../../protocols/qr-token/cose.js';
import { base45Decode, base45Encode } from '../../protocols/qr-token/base45.js';
import { generateKeyPair, keyPairFromSeed, mintToken, signPayload } from '../../protocols/qr-token/mint.js';
import { verifyToken, type TrustedKey, type VerifyContext, type VerifyResult } from '../../protocols/qr-token/verify.js';
import { SEED_1, SEED_2 } from './vector-set.js';

const NOW = 1_800_000_000;
const k1 = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_1, 'hex')));
const k2 = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_2, 'hex')));
let ctiCounter = 0;

function claims(over: Partial<TokenClaims> = {}): TokenClaims {
  const cti = new Uint8Array(12);
  new DataView(cti.buffer).setUint32(8, ++ctiCounter);
  return { iss: 'laundry-cloud', aud: 'room-1', exp: NOW + 600, iat: NOW, cti, amt: 350, ...over };
}

function trusted(k = k1, issuer = 'laundry-cloud', over: Partial<TrustedKey> = {}): TrustedKey {
  return { kid: k.kid, publicKey: k.publicKey, issuer, ...over };
}

function ctx(over: Partial<VerifyContext> = {}): VerifyContext {
  return { roomId: 'room-1', machineId: 'W1', priceCents: 300, nowSec: NOW, trustedKeys: [trusted()], isUsed: () => false, ...over };
}

function reason(r: VerifyResult): string {
  return r.ok ? 'ok' : r.reason;
}

test('a good token: machine, program, amounts, token id', () => {
  const c = claims({ m: 'W1', p: 4, acct: 'acc-1' });
  const r = verifyToken(mintToken(c, k1.privateKey), ctx());
  assert.ok(r.ok);
  assert.equal(r.machineId, 'W1');
  assert.equal(r.program, 4);
  assert.equal(r.amountCents, 350);
  assert.equal(r.chargeCents, 300);
  assert.equal(r.overpaidCents, 50);
  assert.equal(r.tokenId, toHex(c.cti));
  assert.equal(r.expiresAt, NOW + 600);
  assert.equal(r.claims.acct, 'acc-1');
  assert.equal(r.kid, k1.kid);
});

test('kiosk: "m" picks the machine; without "m" no machine is chosen', () => {
  const kiosk = ctx({ machineId: undefined, priceCents: undefined });
  const a = verifyToken(mintToken(claims({ m: 'D3' }), k1.privateKey), kiosk);
  assert.ok(a.ok);
  assert.equal(a.machineId, 'D3');
  assert.equal(a.chargeCents, 350);
  assert.equal(a.overpaidCents, 0);
  const b = verifyToken(mintToken(claims(), k1.privateKey), kiosk);
  assert.ok(b.ok);
  assert.equal(b.machineId, undefined);
});

test('every reason code', () => {
  const cases: [string, string, VerifyContext?][] = [
    ['bad_format', 'LW1:%%%'],
    ['bad_format', `LW9:${mintToken(claims(), k1.privateKey).slice(4)}`],
    ['bad_signature', flipLastByte(mintToken(claims(), k1.privateKey))],
    ['unknown_key', mintToken(claims(), k2.privateKey)],
    ['wrong_room', mintToken(claims({ aud: 'room-2' }), k1.privateKey)],
    ['not_yet_valid', mintToken(claims({ iat: NOW + 301, exp: NOW + 900 }), k1.privateKey)],
    ['expired', mintToken(claims({ iat: NOW - 700, exp: NOW - 100 }), k1.privateKey)],
    ['wrong_machine', mintToken(claims({ m: 'W2' }), k1.privateKey)],
    ['over_amount', mintToken(claims({ amt: 299 }), k1.privateKey)],
  ];
  for (const [want, tok, c] of cases) assert.equal(reason(verifyToken(tok, c ?? ctx())), want, tok.slice(0, 40));
  const c = claims();
  const tok = mintToken(c, k1.privateKey);
  const seen: string[] = [];
  const r = verifyToken(tok, ctx({ isUsed: (id) => (seen.push(id), id === toHex(c.cti)) }));
  assert.equal(reason(r), 'replayed');
  assert.deepEqual(seen, [toHex(c.cti)]);
  assert.ok(!r.ok && r.tokenId === toHex(c.cti) && r.claims?.acct === undefined);
});

test('time edges: iat at +skew and beyond, exp just passed, custom skew', () => {
  const at = (c: Partial<TokenClaims>, skewSec?: number): string => reason(verifyToken(mintToken(claims(c), k1.privateKey), ctx(skewSec === undefined ? {} : { skewSec })));
  assert.equal(at({ iat: NOW + 300, exp: NOW + 900 }), 'ok');
  assert.equal(at({ iat: NOW + 301, exp: NOW + 900 }), 'not_yet_valid');
  assert.equal(at({ iat: NOW + 10, exp: NOW + 900 }, 10), 'ok');
  assert.equal(at({ iat: NOW + 11, exp: NOW + 900 }, 10), 'not_yet_valid');
  assert.equal(at({ iat: NOW + 1, exp: NOW + 900 }, 0), 'not_yet_valid');
  assert.equal(at({ iat: NOW - 600, exp: NOW + 1 }), 'ok');
  assert.equal(at({ iat: NOW - 600, exp: NOW }), 'expired');
  assert.equal(at({ iat: NOW - 600, exp: NOW - 1 }), 'expired');
  // skew does not stretch exp
  assert.equal(at({ iat: NOW - 600, exp: NOW - 1 }, 3600), 'expired');
});

test('checks run in the spec order: the first failing check decides', () => {
  const r = (c: Partial<TokenClaims>, x: Partial<VerifyContext> = {}, k = k1): string => reason(verifyToken(mintToken(claims(c), k.privateKey), ctx(x)));
  // forged: nothing after the signature is looked at
  const forged = flipLastByte(mintToken(claims({ aud: 'room-2', exp: NOW - 10, iat: NOW - 100 }), k1.privateKey));
  let isUsedCalls = 0;
  assert.equal(reason(verifyToken(forged, ctx({ isUsed: () => (isUsedCalls++, true) }))), 'bad_signature');
  assert.equal(isUsedCalls, 0);
  assert.equal(r({ aud: 'room-2', exp: NOW - 10, iat: NOW - 100 }, {}, k2), 'unknown_key');
  assert.equal(r({ aud: 'room-2', exp: NOW - 10, iat: NOW - 100 }), 'wrong_room');
  assert.equal(r({ iss: 'x', exp: NOW - 10, iat: NOW - 100 }), 'unknown_key');
  assert.equal(r({ iat: NOW + 400, exp: NOW + 900, m: 'W9' }), 'not_yet_valid');
  assert.equal(r({ exp: NOW, iat: NOW - 100, m: 'W9' }, { isUsed: () => true }), 'expired');
  assert.equal(r({ m: 'W9', amt: 1 }, { isUsed: () => true }), 'replayed');
  assert.equal(r({ m: 'W9', amt: 1 }), 'wrong_machine');
  assert.equal(r({ amt: 1 }), 'over_amount');
});

test('alg is checked before any signature work or key lookup', () => {
  const ph = encodeCbor(new Map<CborValue, CborValue>([[1, -7], [4, kidOf(k1.publicKey)]]));
  const tok = signPayload(encodeClaims(claims()), k1.privateKey, { protectedHeader: ph });
  let touched = 0;
  const keys = new Proxy([trusted()], {
    get(t, p, rcv) {
      touched++;
      return Reflect.get(t, p, rcv);
    },
  });
  const r = verifyToken(tok, ctx({ trustedKeys: keys }));
  assert.equal(reason(r), 'bad_signature');
  assert.ok(!r.ok && /alg -7/.test(r.detail));
  assert.equal(touched, 0);
  const textAlg = signPayload(encodeClaims(claims()), k1.privateKey, { protectedHeader: encodeCbor(new Map<CborValue, CborValue>([[1, 'EdDSA'], [4, kidOf(k1.publicKey)]])) });
  assert.equal(reason(verifyToken(textAlg, ctx())), 'bad_signature');
});

test('kid only from the protected header; unprotected header must be empty', () => {
  const payload = encodeClaims(claims());
  const noKid = signPayload(payload, k1.privateKey, { protectedHeader: encodeCbor(new Map<CborValue, CborValue>([[1, -8]])) });
  assert.equal(reason(verifyToken(noKid, ctx())), 'bad_format');
  // a good token whose unprotected header gains a kid: refused as malformed
  const good = base45Decode(mintToken(claims(), k1.privateKey, { tagged: false }).slice(4));
  const tampered = new Uint8Array(good.length + 10);
  // 84 | protected bstr | a0 -> a1 04 48 <kid> | rest
  const phLen = (good[1] ?? 0) - 0x40;
  tampered.set(good.subarray(0, 2 + phLen));
  tampered.set([0xa1, 0x04, 0x48, ...kidOf(k1.publicKey)], 2 + phLen);
  tampered.set(good.subarray(3 + phLen), 2 + phLen + 11);
  assert.equal(reason(verifyToken(`LW1:${base45Encode(tampered.subarray(0, good.length + 10))}`, ctx())), 'bad_format');
  const crit = signPayload(payload, k1.privateKey, { protectedHeader: encodeCbor(new Map<CborValue, CborValue>([[1, -8], [2, [99]], [4, kidOf(k1.publicKey)]])) });
  assert.equal(reason(verifyToken(crit, ctx())), 'bad_format');
});

test('kid collisions: every trusted key with that kid is tried', () => {
  const impostor: TrustedKey = { kid: k1.kid, publicKey: k2.publicKey, issuer: 'laundry-cloud' };
  const tok = mintToken(claims(), k1.privateKey);
  assert.equal(reason(verifyToken(tok, ctx({ trustedKeys: [impostor, trusted()] }))), 'ok');
  assert.equal(reason(verifyToken(tok, ctx({ trustedKeys: [trusted(), impostor] }))), 'ok');
  assert.equal(reason(verifyToken(tok, ctx({ trustedKeys: [impostor] }))), 'bad_signature');
  // the issuer must belong to the key that verified, not to its kid twin
  const otherIss: TrustedKey = { ...impostor, issuer: 'laundry-cloud' };
  assert.equal(reason(verifyToken(tok, ctx({ trustedKeys: [otherIss, trusted(k1, 'someone-else')] }))), 'unknown_key');
});

test('key validity windows against the trusted time, and a rotation overlap', () => {
  const tok1 = mintToken(claims(), k1.privateKey);
  const tok2 = mintToken(claims(), k2.privateKey);
  const old = trusted(k1, 'laundry-cloud', { notAfter: NOW + 100 });
  const neu = trusted(k2, 'laundry-cloud', { notBefore: NOW - 100 });
  assert.equal(reason(verifyToken(tok1, ctx({ trustedKeys: [old, neu] }))), 'ok');
  assert.equal(reason(verifyToken(tok2, ctx({ trustedKeys: [old, neu] }))), 'ok');
  assert.equal(reason(verifyToken(tok1, ctx({ trustedKeys: [old, neu], nowSec: NOW + 100 }))), 'unknown_key');
  assert.equal(reason(verifyToken(tok2, ctx({ trustedKeys: [old, neu], nowSec: NOW - 101 }))), 'unknown_key');
  assert.equal(reason(verifyToken(tok2, ctx({ trustedKeys: [old, neu], nowSec: NOW - 100 }))), 'ok');
  // revocation: leave it out
  assert.equal(reason(verifyToken(tok1, ctx({ trustedKeys: [neu] }))), 'unknown_key');
});

test('a freshly generated key and untagged tokens work', () => {
  const k = generateKeyPair();
  assert.equal(k.kid, toHex(kidOf(k.publicKey)));
  assert.equal(reason(verifyToken(mintToken(claims(), k.privateKey, { tagged: false }), ctx({ trustedKeys: [trusted(k)] }))), 'ok');
});

test('claims are typed only after the signature: a signed but malformed token is bad_format without claims', () => {
  const missing = signPayload(encodeCbor(new Map<CborValue, CborValue>([[1, 'laundry-cloud'], [3, 'room-1'], [4, NOW + 60], [6, NOW], [7, new Uint8Array(8)]])), k1.privateKey);
  const r = verifyToken(missing, ctx());
  assert.ok(!r.ok && r.reason === 'bad_format' && /amt/.test(r.detail) && r.claims === undefined);
  const wrongType = signPayload(encodeCbor(new Map<CborValue, CborValue>([[1, 'laundry-cloud'], [3, 'room-1'], [4, 'soon'], [6, NOW], [7, new Uint8Array(8)], ['amt', 5]])), k1.privateKey);
  const w = verifyToken(wrongType, ctx());
  assert.ok(!w.ok && w.reason === 'bad_format' && /exp/.test(w.detail));
  const neg = signPayload(encodeClaims({ ...claims(), amt: -5 }), k1.privateKey);
  assert.equal(reason(verifyToken(neg, ctx())), 'bad_format');
  const payloadNotMap = signPayload(encodeCbor([1, 2]), k1.privateKey);
  assert.equal(reason(verifyToken(payloadNotMap, ctx())), 'bad_format');
});

test('an invalid context is a programming error and throws', () => {
  const tok = mintToken(claims(), k1.privateKey);
  assert.throws(() => verifyToken(tok, ctx({ nowSec: 1.5 })), TypeError);
  assert.throws(() => verifyToken(tok, ctx({ priceCents: -1 })), TypeError);
  assert.throws(() => verifyToken(tok, ctx({ skewSec: -1 })), TypeError);
});

function flipLastByte(tok: string): string {
  const b = base45Decode(tok.slice(4));
  b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0x80;
  return `LW1:${base45Encode(b)}`;
}
