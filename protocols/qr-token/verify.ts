// Offline verification of a version-1 QR vend token (docs/qr-token.md, specs/qr-token.md).
// Pure: the caller passes the room, the trusted keys, the trusted time and the used-id lookup.
// Checks run in the spec's order and the first failure decides the reason code. Nothing the
// token says is believed before its signature is good: until then only the envelope and the
// protected header are read, and alg is checked before any signature work.
import { verify as edVerify, type KeyObject } from 'node:crypto';
import { Base45Error, base45Decode } from './base45.js';
import { COSE_ALG_EDDSA, ed25519PublicKey, parseSign1, sigStructure, toHex } from './cose.js';
import { decodeClaimsMap, parseClaims, type TokenClaims } from './claims.js';

export const TOKEN_PREFIX = 'LW1:';
export const MAX_TOKEN_CHARS = 1024;
export const DEFAULT_SKEW_SEC = 300;

export const REJECT_REASONS = ['bad_format', 'bad_signature', 'unknown_key', 'wrong_room', 'not_yet_valid', 'expired', 'replayed', 'wrong_machine', 'over_amount'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface TrustedKey {
  /** Lowercase hex of the first 8 bytes of SHA-256(publicKey); gateway/tokens/trusted-keys.ts computes and checks it. */
  kid: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  issuer: string;
  /** Seconds since the epoch; the key is good from notBefore (inclusive) to notAfter (exclusive). */
  notBefore?: number;
  notAfter?: number;
  /** The same key, imported once (importing costs about as much as a verification); must match publicKey. */
  keyObject?: KeyObject;
}

export interface VerifyContext {
  roomId: string;
  /** The machine the scanner belongs to; undefined at a kiosk, where "m" (or the user) picks it. */
  machineId?: string;
  /** Price of the vend in cents, when already known. */
  priceCents?: number;
  /** The gateway's trusted time in seconds: max(system clock, persisted floor). */
  nowSec: number;
  skewSec?: number;
  trustedKeys: readonly TrustedKey[];
  /** Whether this token id (lowercase hex of cti) was used in this room already. */
  isUsed: (tokenId: string) => boolean;
}

export interface VerifyOk {
  ok: true;
  claims: TokenClaims;
  /** The machine to start: "m", else the scanner's machine; undefined at a kiosk with no "m". */
  machineId?: string;
  program?: number;
  /** What the user paid ("amt"): the most the vend may cost. */
  amountCents: number;
  /** What the vend costs: priceCents, or amountCents when no price was given. chargeCents + overpaidCents === amountCents. */
  chargeCents: number;
  overpaidCents: number;
  tokenId: string;
  expiresAt: number;
  kid: string;
}

export interface VerifyFail {
  ok: false;
  reason: RejectReason;
  detail: string;
  /** The spec's check number (1..7) that failed. */
  step: number;
  /** Present only when the signature was good, for the audit trail. */
  claims?: TokenClaims;
  tokenId?: string;
}

export type VerifyResult = VerifyOk | VerifyFail;

export interface TraceEvent {
  step: number;
  check: string;
  pass: boolean;
  detail: string;
}

export type Trace = (e: TraceEvent) => void;

function fail(reason: RejectReason, step: number, detail: string, trace: Trace | undefined, check: string, claims?: TokenClaims): VerifyFail {
  trace?.({ step, check, pass: false, detail });
  const out: VerifyFail = { ok: false, reason, detail, step };
  if (claims) {
    out.claims = claims;
    out.tokenId = toHex(claims.cti);
  }
  return out;
}

function keyActive(k: TrustedKey, nowSec: number): boolean {
  return (k.notBefore === undefined || nowSec >= k.notBefore) && (k.notAfter === undefined || nowSec < k.notAfter);
}

function checkContext(ctx: VerifyContext): void {
  // A bad context is our bug, not the token's: throw rather than blame the user's token.
  if (!Number.isSafeInteger(ctx.nowSec)) throw new TypeError('verifyToken: nowSec must be an integer number of seconds');
  if (ctx.skewSec !== undefined && !(Number.isSafeInteger(ctx.skewSec) && ctx.skewSec >= 0)) throw new TypeError('verifyToken: skewSec must be a non-negative integer');
  if (ctx.priceCents !== undefined && !(Number.isSafeInteger(ctx.priceCents) && ctx.priceCents >= 0)) throw new TypeError('verifyToken: priceCents must be a non-negative integer');
}

/** Never throws for any text; throws only for an invalid ctx or when ctx.isUsed throws. */
export function verifyToken(text: string, ctx: VerifyContext, trace?: Trace): VerifyResult {
  checkContext(ctx);
  const skew = ctx.skewSec ?? DEFAULT_SKEW_SEC;

  // 1. length, prefix, Base45, CBOR, shape
  if (typeof text !== 'string') return fail('bad_format', 1, 'token is not text', trace, 'length');
  if (text.length > MAX_TOKEN_CHARS) return fail('bad_format', 1, `token is ${text.length} characters, above ${MAX_TOKEN_CHARS}`, trace, 'length');
  trace?.({ step: 1, check: 'length', pass: true, detail: `${text.length} characters` });
  if (!text.startsWith(TOKEN_PREFIX)) return fail('bad_format', 1, `does not start with ${TOKEN_PREFIX}`, trace, 'prefix');
  trace?.({ step: 1, check: 'prefix', pass: true, detail: TOKEN_PREFIX });
  let bytes: Uint8Array;
  try {
    bytes = base45Decode(text.slice(TOKEN_PREFIX.length));
  } catch (e) {
    return fail('bad_format', 1, `Base45: ${e instanceof Base45Error ? e.message : 'invalid'}`, trace, 'base45');
  }
  trace?.({ step: 1, check: 'base45', pass: true, detail: `${bytes.length} bytes of CBOR` });
  const env = parseSign1(bytes);
  if (!env.ok) return fail('bad_format', 1, env.detail, trace, 'cose_sign1');
  const s1 = env.sign1;
  const kidHex = toHex(s1.kid);
  trace?.({ step: 1, check: 'cose_sign1', pass: true, detail: `${s1.tagged ? 'tag 18, ' : 'untagged, '}alg ${String(s1.alg)}, kid ${kidHex}` });
  const claimsMap = decodeClaimsMap(s1.payload);
  if (!claimsMap.ok) return fail('bad_format', 1, claimsMap.detail, trace, 'payload');
  trace?.({ step: 1, check: 'payload', pass: true, detail: `claims map with ${claimsMap.map.size} entries (not yet trusted)` });

  // 2. alg, kid, signature
  if (s1.alg !== COSE_ALG_EDDSA) return fail('bad_signature', 2, `alg ${String(s1.alg)} is not EdDSA (-8)`, trace, 'alg');
  trace?.({ step: 2, check: 'alg', pass: true, detail: 'EdDSA (-8)' });
  const withKid = ctx.trustedKeys.filter((k) => k.kid.toLowerCase() === kidHex);
  if (withKid.length === 0) return fail('unknown_key', 2, `no trusted key has kid ${kidHex}`, trace, 'kid');
  const candidates = withKid.filter((k) => keyActive(k, ctx.nowSec));
  if (candidates.length === 0) return fail('unknown_key', 2, `the key with kid ${kidHex} is outside its validity window at ${ctx.nowSec}`, trace, 'kid');
  trace?.({ step: 2, check: 'kid', pass: true, detail: `${candidates.length} trusted key(s) with kid ${kidHex}` });
  const signed = sigStructure(s1.protectedBytes, s1.payload);
  const signers: TrustedKey[] = [];
  for (const k of candidates) {
    let good = false;
    try {
      good = edVerify(null, signed, k.keyObject ?? ed25519PublicKey(k.publicKey), s1.signature);
    } catch {
      good = false; // a malformed configured key cannot vouch for anything
    }
    if (good) signers.push(k);
  }
  if (signers.length === 0) return fail('bad_signature', 2, `signature does not verify with ${candidates.length === 1 ? 'the trusted key' : `any of the ${candidates.length} trusted keys`} with kid ${kidHex}`, trace, 'signature');
  trace?.({ step: 2, check: 'signature', pass: true, detail: 'Ed25519 signature verifies' });
  const typed = parseClaims(claimsMap.map);
  if (!typed.ok) return fail('bad_format', 2, typed.detail, trace, 'claims');
  const c = typed.claims;
  trace?.({ step: 2, check: 'claims', pass: true, detail: 'all required claims present and typed' });

  // 3. room, issuer
  if (c.aud !== ctx.roomId) return fail('wrong_room', 3, `token is for room "${c.aud}", this is "${ctx.roomId}"`, trace, 'aud', c);
  trace?.({ step: 3, check: 'aud', pass: true, detail: `room ${c.aud}` });
  if (!signers.some((k) => k.issuer === c.iss)) return fail('unknown_key', 3, `issuer "${c.iss}" is not trusted for kid ${kidHex}`, trace, 'iss', c);
  trace?.({ step: 3, check: 'iss', pass: true, detail: `issuer ${c.iss}` });

  // 4. time
  if (c.iat > ctx.nowSec + skew) return fail('not_yet_valid', 4, `issued at ${c.iat}, more than ${skew} s after the gateway's time ${ctx.nowSec}`, trace, 'iat', c);
  trace?.({ step: 4, check: 'iat', pass: true, detail: `issued at ${c.iat}` });
  if (ctx.nowSec >= c.exp) return fail('expired', 4, `expired at ${c.exp}, the gateway's time is ${ctx.nowSec}`, trace, 'exp', c);
  trace?.({ step: 4, check: 'exp', pass: true, detail: `expires at ${c.exp}, in ${c.exp - ctx.nowSec} s` });

  // 5. single use
  const tokenId = toHex(c.cti);
  if (ctx.isUsed(tokenId)) return fail('replayed', 5, `token ${tokenId} was used already`, trace, 'cti', c);
  trace?.({ step: 5, check: 'cti', pass: true, detail: `token ${tokenId} not used before` });

  // 6. machine and program
  if (c.m !== undefined && ctx.machineId !== undefined && c.m !== ctx.machineId) return fail('wrong_machine', 6, `token is for machine "${c.m}", scanned at "${ctx.machineId}"`, trace, 'machine', c);
  const machineId = c.m ?? ctx.machineId;
  trace?.({ step: 6, check: 'machine', pass: true, detail: machineId === undefined ? 'no machine yet (kiosk, the user picks)' : `machine ${machineId}${c.p === undefined ? '' : `, program ${c.p}`}` });

  // 7. amount
  if (ctx.priceCents !== undefined && ctx.priceCents > c.amt) return fail('over_amount', 7, `the vend costs ${ctx.priceCents} cents, the token pays ${c.amt}`, trace, 'amount', c);
  const chargeCents = ctx.priceCents ?? c.amt;
  trace?.({ step: 7, check: 'amount', pass: true, detail: ctx.priceCents === undefined ? `pays up to ${c.amt} cents (no price given)` : `costs ${chargeCents} of ${c.amt} cents` });

  const ok: VerifyOk = { ok: true, claims: c, amountCents: c.amt, chargeCents, overpaidCents: c.amt - chargeCents, tokenId, expiresAt: c.exp, kid: kidHex };
  if (machineId !== undefined) ok.machineId = machineId;
  if (c.p !== undefined) ok.program = c.p;
  return ok;
}
