// Input 2: what a QR scanner hands the vend engine, through the real TokenVerifier (keys parsed
// from a qrTokens block, the clock floor's time, a used-id lookup). Every verdict is a pass or one
// of the spec's reason codes with a detail. A pass is allowed only for content the issuer signed:
// the (protected header, payload, signature) of a token we minted. Freshly signed tokens with
// random claims get exactly the verdict an independent model of the spec's checks gives.
import type { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { silentLogger } from '../../gateway/core/log.js';
import { TokenVerifier } from '../../gateway/tokens/token-verifier.js';
import { BASE45_ALPHABET, base45Decode, base45Encode } from '../../protocols/qr-token/base45.js';
import { decodeCbor, encodeCbor, type CborValue } from '../../protocols/qr-token/cbor.js';
import { parseClaims, type TokenClaims } from '../../protocols/qr-token/claims.js';
import { ed25519PrivateKey, kidOf, parseSign1, toHex } from '../../protocols/qr-token/cose.js';
import { keyPairFromSeed, mintToken, signPayload, type Ed25519KeyPair } from '../../protocols/qr-token/mint.js';
import { REJECT_REASONS, TOKEN_PREFIX, type VerifyResult } from '../../protocols/qr-token/verify.js';
import { Tally, must, runProperties, type FuzzEnv, type FuzzProperty, type InputReport } from './fuzz-common.js';

const NOW = 1_800_000_000;
const SKEW = 300;
const ROOM = 'room-1';
const REASONS = new Set<string>(REJECT_REASONS);

const seedOf = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const trusted = keyPairFromSeed(seedOf(11));
const other = keyPairFromSeed(seedOf(12));
const retired = keyPairFromSeed(seedOf(13));
const future = keyPairFromSeed(seedOf(14));
// Imported once: importing a key costs about as much as signing with it.
const SIGNING = new Map<Ed25519KeyPair, KeyObject>([trusted, other, retired, future].map((k) => [k, ed25519PrivateKey(k.privateKey)]));
const signingKey = (k: Ed25519KeyPair): KeyObject => SIGNING.get(k) ?? ed25519PrivateKey(k.privateKey);
const b64 = (k: Ed25519KeyPair): string => Buffer.from(k.publicKey).toString('base64url');
/** Issuers each key is trusted for. */
const ISSUERS = new Map<Ed25519KeyPair, readonly string[]>([
  [trusted, ['laundry-cloud', 'partner-app']],
  [other, []],
  [retired, ['laundry-cloud']],
  [future, ['laundry-cloud']],
]);
const QR_TOKENS_BLOCK = {
  skewSec: SKEW,
  keys: [
    { publicKey: b64(trusted), issuer: 'laundry-cloud' },
    { publicKey: b64(trusted), issuer: 'partner-app', kid: trusted.kid.toUpperCase() },
    { publicKey: b64(retired), issuer: 'laundry-cloud', notAfter: NOW - 1 },
    { publicKey: b64(future), issuer: 'laundry-cloud', notBefore: new Date((NOW + 3600) * 1000).toISOString() },
  ],
};

interface Scan {
  machineId?: string;
  priceCents?: number;
}

type Expected = { ok: false; reason: string } | { ok: true; machineId: string | undefined; program: number | undefined; chargeCents: number; amountCents: number };

/** The spec's checks, in its order, written from the spec and not from verify.ts. */
function model(c: TokenClaims, signer: Ed25519KeyPair, scan: Scan, used: boolean): Expected {
  if (signer === other) return { ok: false, reason: 'unknown_key' };
  if (signer === retired || signer === future) return { ok: false, reason: 'unknown_key' };
  if (c.aud !== ROOM) return { ok: false, reason: 'wrong_room' };
  if (!(ISSUERS.get(signer) ?? []).includes(c.iss)) return { ok: false, reason: 'unknown_key' };
  if (c.iat > NOW + SKEW) return { ok: false, reason: 'not_yet_valid' };
  if (NOW >= c.exp) return { ok: false, reason: 'expired' };
  if (used) return { ok: false, reason: 'replayed' };
  if (c.m !== undefined && scan.machineId !== undefined && c.m !== scan.machineId) return { ok: false, reason: 'wrong_machine' };
  if (scan.priceCents !== undefined && scan.priceCents > c.amt) return { ok: false, reason: 'over_amount' };
  return { ok: true, machineId: c.m ?? scan.machineId, program: c.p, chargeCents: scan.priceCents ?? c.amt, amountCents: c.amt };
}

// ---- generators -------------------------------------------------------------------------------

const claimsArb: fc.Arbitrary<TokenClaims> = fc
  .record(
    {
      iss: fc.constantFrom('laundry-cloud', 'laundry-cloud', 'partner-app', 'evil'),
      aud: fc.constantFrom(ROOM, ROOM, ROOM, 'room-2'),
      iat: fc.oneof(fc.integer({ min: NOW - 2000, max: NOW + SKEW + 5 }), fc.integer({ min: NOW - 10, max: NOW + 1000 })),
      life: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 10 })),
      cti: fc.uint8Array({ minLength: 8, maxLength: 16 }),
      amt: fc.oneof(fc.nat(2000), fc.constant(0), fc.nat(Number.MAX_SAFE_INTEGER)),
      m: fc.constantFrom('W1', 'W2'),
      p: fc.nat(20),
      acct: fc.string({ minLength: 1, maxLength: 20 }),
    },
    { requiredKeys: ['iss', 'aud', 'iat', 'life', 'cti', 'amt'] },
  )
  .map(({ life, ...c }) => ({ ...c, exp: c.iat + life }));

const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.maxSafeInteger(),
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 20 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.array(fc.tuple(fc.oneof(fc.integer({ min: -10, max: 10 }), fc.constantFrom('amt', 'm', 'p', 'acct', 'x')), tie('v')), { maxLength: 4 }).map((e) => new Map<CborValue, CborValue>(e)),
  ),
})).v;

const scanArb: fc.Arbitrary<Scan> = fc.record({ machineId: fc.constantFrom('W1', 'W2'), priceCents: fc.oneof(fc.nat(2000), fc.constant(0)) }, { requiredKeys: [] });

/** Valid tokens for the base context (scanner W1, no price, not used): what the mutations start from. */
interface Minted {
  text: string;
  bytes: Uint8Array;
  parts: { protectedBytes: Uint8Array; payload: Uint8Array; signature: Uint8Array };
}

function minted(text: string): Minted {
  const bytes = base45Decode(text.slice(TOKEN_PREFIX.length));
  const s = parseSign1(bytes);
  if (!s.ok) throw new Error(`fuzz set-up: minted token does not parse: ${s.detail}`);
  return { text, bytes, parts: { protectedBytes: s.sign1.protectedBytes, payload: s.sign1.payload, signature: s.sign1.signature } };
}

const POOL: Minted[] = Array.from({ length: 16 }, (_, i) =>
  minted(
    mintToken(
      { iss: i % 3 === 0 ? 'partner-app' : 'laundry-cloud', aud: ROOM, iat: NOW - 10 * i, exp: NOW + 60 + i, cti: new Uint8Array(8 + (i % 9)).fill(i + 1), amt: 100 * i, ...(i % 2 === 0 ? { m: 'W1' } : {}), ...(i % 4 === 1 ? { p: i } : {}) },
      trusted.privateKey,
      { tagged: i % 5 !== 0 },
    ),
  ),
);
const pooled = fc.nat(POOL.length - 1).map((i) => POOL[i] ?? POOL[0]) as fc.Arbitrary<Minted>;

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** True when `text` carries exactly the signed content of a pooled token (so passing it is right). */
function carriesPooledContent(text: string): boolean {
  let bytes: Uint8Array;
  try {
    bytes = base45Decode(text.slice(TOKEN_PREFIX.length));
  } catch {
    return false;
  }
  const s = parseSign1(bytes);
  if (!s.ok) return false;
  return POOL.some((m) => sameBytes(m.parts.protectedBytes, s.sign1.protectedBytes) && sameBytes(m.parts.payload, s.sign1.payload) && sameBytes(m.parts.signature, s.sign1.signature));
}

const tok = (b: Uint8Array): string => `${TOKEN_PREFIX}${base45Encode(b)}`;

type ByteEdit = { op: 'flip'; bits: [number, number][] } | { op: 'truncate'; at: number } | { op: 'append'; bytes: Uint8Array } | { op: 'insert'; at: number; byte: number } | { op: 'delete'; at: number } | { op: 'set'; at: number; byte: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.uniqueArray(fc.tuple(fc.nat(1000), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3, selector: ([i, b]) => `${i}.${b}` }).map((bits) => ({ op: 'flip' as const, bits })) },
  { weight: 1, arbitrary: fc.nat(1000).map((at) => ({ op: 'truncate' as const, at })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bytes) => ({ op: 'append' as const, bytes })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(1000), fc.nat(255)).map(([at, byte]) => ({ op: 'insert' as const, at, byte })) },
  { weight: 1, arbitrary: fc.nat(1000).map((at) => ({ op: 'delete' as const, at })) },
  { weight: 2, arbitrary: fc.tuple(fc.nat(1000), fc.nat(255)).map(([at, byte]) => ({ op: 'set' as const, at, byte })) },
);

function applyByteEdit(src: Uint8Array, e: ByteEdit): Uint8Array {
  const b = Array.from(src);
  if (b.length === 0 && e.op !== 'append' && e.op !== 'insert') return src;
  const at = (n: number): number => n % (b.length + 1);
  switch (e.op) {
    case 'flip': {
      // Distinct bit positions modulo the length may still coincide and cancel; dedupe them.
      const seen = new Set<number>();
      for (const [i, bit] of e.bits) {
        const pos = (i % b.length) * 8 + bit;
        if (seen.has(pos)) continue;
        seen.add(pos);
        b[i % b.length] = (b[i % b.length] ?? 0) ^ (1 << bit);
      }
      break;
    }
    case 'truncate':
      b.length = e.at % b.length;
      break;
    case 'append':
      b.push(...e.bytes);
      break;
    case 'insert':
      b.splice(at(e.at), 0, e.byte);
      break;
    case 'delete':
      b.splice(e.at % b.length, 1);
      break;
    case 'set':
      b[e.at % b.length] = e.byte;
      break;
  }
  return Uint8Array.from(b);
}

const textChar = fc.oneof(fc.constantFrom(...BASE45_ALPHABET), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('a', 'z', '\r', '\n', '\u0000', '=', '_'));
type TextEdit = { op: 'replace' | 'insert'; at: number; ch: string } | { op: 'delete' | 'truncate'; at: number } | { op: 'swap'; a: number; b: number } | { op: 'prefix'; p: string } | { op: 'suffix'; s: string };
const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.tuple(fc.nat(2000), textChar).map(([at, ch]) => ({ op: 'replace' as const, at, ch })),
  fc.tuple(fc.nat(2000), textChar).map(([at, ch]) => ({ op: 'insert' as const, at, ch })),
  fc.nat(2000).map((at) => ({ op: 'delete' as const, at })),
  fc.nat(2000).map((at) => ({ op: 'truncate' as const, at })),
  fc.tuple(fc.nat(2000), fc.nat(2000)).map(([a, b]) => ({ op: 'swap' as const, a, b })),
  fc.constantFrom('', 'lw1:', 'LW2:', 'LW1:LW1:', ' LW1:', 'HC1:', 'LW1').map((p) => ({ op: 'prefix' as const, p })),
  fc.constantFrom(' ', '\r', '\n', '0', '00', '000', '%', ':').map((s) => ({ op: 'suffix' as const, s })),
);

function applyTextEdit(text: string, e: TextEdit): string {
  const body = text.slice(TOKEN_PREFIX.length);
  const i = (n: number): number => TOKEN_PREFIX.length + (n % (body.length + 1));
  switch (e.op) {
    case 'replace': {
      const k = i(e.at);
      return text.slice(0, k) + e.ch + text.slice(k + 1);
    }
    case 'insert': {
      const k = i(e.at);
      return text.slice(0, k) + e.ch + text.slice(k);
    }
    case 'delete': {
      const k = i(e.at);
      return text.slice(0, k) + text.slice(k + 1);
    }
    case 'truncate':
      return text.slice(0, e.at % text.length);
    case 'swap': {
      const chars = [...text];
      const a = i(e.a) % chars.length;
      const b = i(e.b) % chars.length;
      const ca = chars[a] ?? '';
      chars[a] = chars[b] ?? '';
      chars[b] = ca;
      return chars.join('');
    }
    case 'prefix':
      return e.p + body;
    case 'suffix':
      return text + e.s;
  }
}

type StructEdit =
  | { op: 'replace'; i: number; v: CborValue }
  | { op: 'drop'; i: number }
  | { op: 'add'; v: CborValue }
  | { op: 'unprotected'; entries: [CborValue, CborValue][] }
  | { op: 'header'; alg: CborValue | undefined; kid: CborValue | undefined; crit: boolean; extra: [CborValue, CborValue][] }
  | { op: 'payload'; v: CborValue | 'other' }
  | { op: 'signature'; kind: 'other' | 'short' | 'long' | 'zero' }
  | { op: 'tag'; prefix: number[] }
  | { op: 'wrap'; asMap: boolean };

const structEdit: fc.Arbitrary<StructEdit> = fc.oneof(
  fc.tuple(fc.nat(3), cborValue).map(([i, v]) => ({ op: 'replace' as const, i, v })),
  fc.nat(3).map((i) => ({ op: 'drop' as const, i })),
  cborValue.map((v) => ({ op: 'add' as const, v })),
  fc.array(fc.tuple(fc.oneof(fc.constantFrom<CborValue>(1, 4, 2, 'kid'), fc.integer(), fc.string({ maxLength: 4 })), cborValue), { minLength: 1, maxLength: 3 }).map((entries) => ({ op: 'unprotected' as const, entries })),
  fc
    .record({
      alg: fc.option(fc.oneof(fc.constantFrom<CborValue>(-8, -7, -35, 'EdDSA', 8), cborValue), { nil: undefined }),
      kid: fc.option(fc.oneof(fc.constantFrom<CborValue>(kidOf(trusted.publicKey), kidOf(other.publicKey), kidOf(trusted.publicKey).subarray(0, 7)), cborValue), { nil: undefined }),
      crit: fc.boolean(),
      extra: fc.array(fc.tuple(fc.integer({ min: -5, max: 40 }), cborValue), { maxLength: 2 }),
    })
    .map((h) => ({ op: 'header' as const, ...h })),
  fc.oneof(cborValue, fc.constant<'other'>('other')).map((v) => ({ op: 'payload' as const, v })),
  fc.constantFrom<'other' | 'short' | 'long' | 'zero'>('other', 'short', 'long', 'zero').map((kind) => ({ op: 'signature' as const, kind })),
  fc.constantFrom<number[]>([], [0xd2], [0xd3], [0xd8, 0x12], [0xd2, 0xd2], [0xc0], [0xd9, 0x00, 0x12]).map((prefix) => ({ op: 'tag' as const, prefix })),
  fc.boolean().map((asMap) => ({ op: 'wrap' as const, asMap })),
);

function applyStructEdit(m: Minted, e: StructEdit, donor: Minted): Uint8Array {
  const arr: CborValue[] = [m.parts.protectedBytes, new Map<CborValue, CborValue>(), m.parts.payload, m.parts.signature];
  const tagged = m.bytes[0] === 0xd2;
  let prefix: number[] = tagged ? [0xd2] : [];
  switch (e.op) {
    case 'replace':
      arr[e.i] = e.v;
      break;
    case 'drop':
      arr.splice(e.i, 1);
      break;
    case 'add':
      arr.push(e.v);
      break;
    case 'unprotected':
      arr[1] = new Map<CborValue, CborValue>(e.entries);
      break;
    case 'header': {
      const h = new Map<CborValue, CborValue>();
      if (e.alg !== undefined) h.set(1, e.alg);
      if (e.kid !== undefined) h.set(4, e.kid);
      if (e.crit) h.set(2, [1]);
      for (const [k, v] of e.extra) if (k !== 1 && k !== 4 && k !== 2) h.set(k, v);
      arr[0] = encodeCbor(h);
      break;
    }
    case 'payload':
      arr[2] = e.v === 'other' ? donor.parts.payload : encodeCbor(e.v);
      break;
    case 'signature':
      arr[3] =
        e.kind === 'other' ? donor.parts.signature : e.kind === 'short' ? m.parts.signature.subarray(0, 63) : e.kind === 'long' ? Uint8Array.from([...m.parts.signature, 0]) : new Uint8Array(64);
      break;
    case 'tag':
      prefix = e.prefix;
      break;
    case 'wrap': {
      const body = encodeCbor(e.asMap ? new Map<CborValue, CborValue>([[18, arr]]) : [arr]);
      return Uint8Array.from([...prefix, ...body]);
    }
  }
  return Uint8Array.from([...prefix, ...encodeCbor(arr)]);
}

export async function fuzzTokens(env: FuzzEnv): Promise<InputReport> {
  const tally = new Tally();
  const verifier = new TokenVerifier({
    roomId: ROOM,
    floor: { nowSec: () => NOW, status: () => ({ trusted: true, floorSec: NOW, systemSec: NOW, nowSec: NOW, lastPersistedSec: undefined, source: 'runtime' }) },
    config: QR_TOKENS_BLOCK,
    logger: silentLogger(),
  });
  const extra = { 'signed with random claims': 0, 'model verdicts matched': 0 };
  const t0 = performance.now();

  /** Verifies once and checks what holds for every verdict; returns it for the caller's own check. */
  const verify = (text: string, scan: Scan = { machineId: 'W1' }, used: (id: string) => boolean = () => false): VerifyResult => {
    const r = verifier.verify(text, { ...scan, isUsed: used });
    if (r.ok) {
      tally.accept();
      must(Number.isSafeInteger(r.chargeCents) && r.chargeCents >= 0 && r.chargeCents + r.overpaidCents === r.amountCents, `accepted with charge ${r.chargeCents} + overpaid ${r.overpaidCents} != amount ${r.amountCents}`);
    } else {
      must(REASONS.has(r.reason), `unknown reason ${r.reason}`);
      must(typeof r.detail === 'string' && r.detail.length > 0, `reason ${r.reason} without a detail`);
      tally.reject(r.reason);
    }
    return r;
  };
  /** A damaged token may pass only when it still carries a pooled token's exact signed content. */
  const damaged = (text: string): true => {
    const r = verify(text);
    must(!r.ok || carriesPooledContent(text), 'a damaged token was accepted');
    return true;
  };

  const props: FuzzProperty[] = [
    {
      id: 'tokens.model',
      weight: 4,
      property: () =>
        fc.property(
          claimsArb,
          fc.constantFrom(trusted, trusted, trusted, trusted, other, retired, future),
          scanArb,
          fc.boolean(),
          fc.boolean(),
          fc.option(fc.array(fc.tuple(fc.constantFrom<CborValue>('x', 99, -5, 'note', 8), cborValue), { maxLength: 2 }), { nil: undefined }),
          (c, signer, scan, used, tagged, unknown) => {
            extra['signed with random claims']++;
            const text = mintToken(c, signingKey(signer), { tagged, ...(unknown === undefined ? {} : { extraClaims: new Map(unknown) }) });
            if (text.length > 1024) return true; // a huge acct claim: the length check is another property's
            const id = toHex(c.cti);
            const r = verify(text, scan, (t) => used && t === id);
            const want = model(c, signer, scan, used);
            if (!want.ok) {
              must(!r.ok && r.reason === want.reason, () => `verdict ${r.ok ? 'ok' : r.reason}, the spec says ${want.reason}`);
            } else {
              must(r.ok, () => `refused (${r.ok ? '' : `${r.reason}: ${r.detail}`}), the spec says it passes`);
              must(r.machineId === want.machineId && r.program === want.program && r.chargeCents === want.chargeCents && r.amountCents === want.amountCents && r.tokenId === id, 'accepted with other figures than the claims give');
            }
            extra['model verdicts matched']++;
            return true;
          },
        ),
    },
    {
      id: 'tokens.byte-edits',
      weight: 3,
      property: () => fc.property(pooled, fc.array(byteEdit, { minLength: 1, maxLength: 3 }), (m, edits) => damaged(tok(edits.reduce((b, e) => applyByteEdit(b, e), m.bytes)))),
    },
    {
      id: 'tokens.text-edits',
      weight: 2,
      property: () => fc.property(pooled, fc.array(textEdit, { minLength: 1, maxLength: 3 }), (m, edits) => damaged(edits.reduce((t, e) => applyTextEdit(t, e), m.text))),
    },
    {
      id: 'tokens.cose-edits',
      weight: 3,
      property: () => fc.property(pooled, pooled, structEdit, (m, donor, e) => damaged(tok(applyStructEdit(m, e, donor)))),
    },
    {
      id: 'tokens.wrong-claim-types',
      weight: 2,
      // Well signed by a trusted key, with any value in any claim: bad_format unless the value is
      // a valid one, and then exactly the model's verdict.
      property: () =>
        fc.property(fc.constantFrom<CborValue>(1, 3, 4, 6, 7, 'amt', 'm', 'p', 'acct'), cborValue, fc.boolean(), (key, v, drop) => {
          const map = new Map<CborValue, CborValue>([[1, 'laundry-cloud'], [3, ROOM], [4, NOW + 60], [6, NOW], [7, new Uint8Array(8).fill(9)], ['amt', 5]]);
          if (drop) map.delete(key);
          else map.set(key, v);
          const text = signPayload(encodeCbor(map), signingKey(trusted));
          const r = verify(text);
          const typed = parseClaims(map);
          if (!typed.ok) must(!r.ok && r.reason === 'bad_format', () => `claims that do not type-check got ${r.ok ? 'ok' : r.reason}`);
          else {
            const want = model(typed.claims, trusted, { machineId: 'W1' }, false);
            must(r.ok === want.ok && (r.ok || want.ok || r.reason === want.reason), () => `verdict ${r.ok ? 'ok' : r.reason}, the spec says ${want.ok ? 'ok' : want.reason}`);
          }
          return true;
        }),
    },
    {
      id: 'tokens.arbitrary-text',
      weight: 3,
      property: () =>
        fc.property(
          fc.oneof(
            fc.string({ maxLength: 1100, size: 'max' }),
            fc.string({ unit: 'binary', maxLength: 300, size: 'max' }).map((s) => `${TOKEN_PREFIX}${s}`),
            fc.string({ unit: fc.constantFrom(...BASE45_ALPHABET), maxLength: 1100, size: 'max' }).map((s) => `${TOKEN_PREFIX}${s}`),
            fc.uint8Array({ maxLength: 700, size: 'max' }).map(tok),
            cborValue.map((v) => tok(encodeCbor(v))),
            cborValue.map((v) => tok(Uint8Array.from([0xd2, ...encodeCbor(v)]))),
            fc.tuple(fc.integer({ min: 1, max: 700 }), fc.constantFrom(0x81, 0xa1, 0x9f, 0xbf, 0xd2, 0xc1, 0x5f, 0x7f, 0x84), fc.uint8Array({ maxLength: 8 })).map(([depth, opener, tail]) => tok(Uint8Array.from([...new Array<number>(depth).fill(opener), ...tail]))),
          ),
          (text) => {
            const r = verify(text);
            must(!r.ok || carriesPooledContent(text), 'an arbitrary text was accepted');
            return true;
          },
        ),
    },
  ];

  // Sanity: every pooled token passes as minted, so the mutations start from valid tokens.
  for (const m of POOL) must(verify(m.text).ok, 'fuzz set-up: a pooled token does not verify');
  // Decoding the pool's own bytes must round-trip, or the structure edits test nothing.
  for (const m of POOL) must(decodeCbor(m.bytes[0] === 0xd2 ? m.bytes.subarray(1) : m.bytes).ok, 'fuzz set-up: pooled token is not strict CBOR');

  const { runs, violations } = await runProperties(env, props);
  return { input: 'tokens', title: 'QR scanner text and vend tokens through TokenVerifier', runs, seconds: (performance.now() - t0) / 1000, tally, extra, violations };
}
