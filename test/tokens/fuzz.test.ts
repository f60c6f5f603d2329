// Hostile input: whatever the text, verifyToken never throws and always names a reason.
// TOKEN_FUZZ_RUNS sets the total number of cases (default 20 000) for a longer torture run;
// TOKEN_FUZZ_SEED replays a failure (fast-check prints the seed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { base45Decode, base45Encode } from '../../protocols/qr-token/base45.js';
import { encodeCbor, type CborValue } from '../../protocols/qr-token/cbor.js';
import { inspectToken } from '../../protocols/qr-token/inspect.js';
import { keyPairFromSeed, mintToken, signPayload } from '../../protocols/qr-token/mint.js';
import { REJECT_REASONS, verifyToken, type TrustedKey, type VerifyContext } from '../../protocols/qr-token/verify.js';
import { parseTrustedKeys } from '../../gateway/tokens/trusted-keys.js';
import { SEED_1 } from './vector-set.js';

const TOTAL = Math.max(9, Number(process.env['TOKEN_FUZZ_RUNS'] ?? 20_000) || 20_000);
const PER = Math.ceil(TOTAL / 9);
const NOW = 1_800_000_000;
const k = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_1, 'hex')));
const ctx: VerifyContext = { roomId: 'room-1', machineId: 'W1', priceCents: 300, nowSec: NOW, trustedKeys: [{ kid: k.kid, publicKey: k.publicKey, issuer: 'laundry-cloud' }], isUsed: () => false };
const good = mintToken({ iss: 'laundry-cloud', aud: 'room-1', exp: NOW + 600, iat: NOW, cti: new Uint8Array(12).fill(7), amt: 350, m: 'W1', p: 2 }, k.privateKey);
const goodBytes = base45Decode(good.slice(4));
const reasons = new Set<string>(REJECT_REASONS);
let cases = 0;
const seen = new Map<string, number>();

function check(text: string, mustFail = false): void {
  cases++;
  const r = verifyToken(text, ctx);
  if (r.ok) {
    assert.ok(!mustFail, 'a damaged token was accepted');
    seen.set('ok', (seen.get('ok') ?? 0) + 1);
    return;
  }
  assert.ok(reasons.has(r.reason), `unknown reason ${r.reason}`);
  assert.equal(typeof r.detail, 'string');
  seen.set(r.reason, (seen.get(r.reason) ?? 0) + 1);
}

const tok = (b: Uint8Array): string => `LW1:${base45Encode(b)}`;

// CBOR values of any shape, to put where the token expects something else
const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 20 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.array(fc.tuple(fc.oneof(fc.integer({ min: -10, max: 10 }), fc.constantFrom('amt', 'm', 'p', 'acct')), tie('v')), { maxLength: 4 }).map((e) => new Map<CborValue, CborValue>(e)),
  ),
})).v;

test('fuzz: never throws, always a reason', (t) => {
  const seed = process.env['TOKEN_FUZZ_SEED'];
  const opts = seed === undefined ? { numRuns: PER } : { numRuns: PER, seed: Number(seed) };
  // random strings, ASCII and not (size 'max': fast-check otherwise caps them at about ten characters)
  fc.assert(fc.property(fc.string({ maxLength: 1100 , size: 'max' }), (s) => check(s)), opts);
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 , size: 'max' }), (s) => check(`LW1:${s}`)), opts);
  // Base45-alphabet strings of every length (random CBOR)
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'), maxLength: 400 , size: 'max' }), (s) => check(`LW1:${s}`)), opts);
  // truncated good tokens, text and bytes
  fc.assert(fc.property(fc.nat(good.length - 1), (n) => check(good.slice(0, n), true)), opts);
  fc.assert(fc.property(fc.nat(goodBytes.length - 1), (n) => check(tok(goodBytes.subarray(0, n)), true)), opts);
  // bit flips anywhere in the bytes (one to three distinct bits: two flips of one bit would cancel)
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(fc.nat(goodBytes.length - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3, selector: ([i, bit]) => i * 8 + bit }), (flips) => {
      const b = new Uint8Array(goodBytes);
      for (const [i, bit] of flips) b[i] = (b[i] ?? 0) ^ (1 << bit);
      check(tok(b), true);
    }),
    opts,
  );
  // random bytes, random nesting and oversized lengths
  fc.assert(fc.property(fc.uint8Array({ maxLength: 700 , size: 'max' }), (b) => check(tok(b))), opts);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 600 }), fc.constantFrom(0x81, 0xa1, 0x9f, 0xbf, 0xd2, 0xc1, 0x5f, 0x7f), fc.uint8Array({ maxLength: 8 }), (depth, opener, tail) => {
      check(tok(Uint8Array.from([...new Array<number>(depth).fill(opener), ...tail])));
    }),
    opts,
  );
  // well-signed tokens with wrong types in every claim and header slot
  fc.assert(
    fc.property(cborValue, fc.constantFrom<CborValue>(1, 3, 4, 6, 7, 'amt', 'm', 'p', 'acct'), fc.boolean(), (v, key, inHeader) => {
      if (inHeader) {
        const ph = encodeCbor(new Map<CborValue, CborValue>([[1, key === 1 ? v : -8], [4, key === 4 ? v : new Uint8Array(Buffer.from(k.kid, 'hex'))]]));
        check(signPayload(encodeCbor(new Map<CborValue, CborValue>([[1, 'laundry-cloud'], [3, 'room-1'], [4, NOW + 60], [6, NOW], [7, new Uint8Array(8)], ['amt', 5]])), k.privateKey, { protectedHeader: ph }));
      } else {
        const claims = new Map<CborValue, CborValue>([[1, 'laundry-cloud'], [3, 'room-1'], [4, NOW + 60], [6, NOW], [7, new Uint8Array(8)], ['amt', 5]]);
        claims.set(key, v);
        check(signPayload(encodeCbor(claims), k.privateKey));
      }
    }),
    opts,
  );
  // oversized
  check(`LW1:${'0'.repeat(5000)}`);
  check(`LW1:${'0'.repeat(1020)}`);
  // inspect must not throw either
  fc.assert(fc.property(fc.string({ maxLength: 300 , size: 'max' }), (s) => void inspectToken(s, { trustedKeys: ctx.trustedKeys, roomId: 'room-1', nowSec: NOW })), { numRuns: 200 });
  t.diagnostic(`token fuzz: ${cases} cases; verdicts ${JSON.stringify(Object.fromEntries(seen))}`);
  assert.ok(cases >= TOTAL * 0.95);
});

test('verify time per token (printed, not asserted)', (t) => {
  const n = 2000;
  const prepared: VerifyContext = { ...ctx, trustedKeys: parsedKeys() };
  const mean = (c: VerifyContext): number => {
    for (let i = 0; i < 100; i++) verifyToken(good, c);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) verifyToken(good, c);
    return ((performance.now() - t0) / n) * 1000;
  };
  const fast = mean(prepared);
  const slow = mean(ctx);
  t.diagnostic(`token verify: ${fast.toFixed(0)} us per token with keys from parseTrustedKeys (mean of ${n}); ${slow.toFixed(0)} us when the key is imported on each call; ${process.version} ${process.arch}`);
});

function parsedKeys(): TrustedKey[] {
  const r = parseTrustedKeys({ keys: [{ publicKey: Buffer.from(k.publicKey).toString('base64url'), issuer: 'laundry-cloud' }] });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.keys;
}
