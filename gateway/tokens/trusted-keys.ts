// The public keys that may sign QR vend tokens for this room, from the signed room
// configuration. Rotation: the cloud lists the old and the new key with overlapping validity
// windows; revocation: it leaves a key out. The gateway never holds a private key.
import { z } from 'zod';
import { ed25519PublicKey, kidOf, toHex } from '../../protocols/qr-token/cose.js';
import type { TrustedKey } from '../../protocols/qr-token/verify.js';

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

/** Seconds since the epoch, or an ISO 8601 date-time with an offset. */
const instantSchema = z.union([
  z.int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((s) => Math.floor(Date.parse(s) / 1000)),
]);

export const trustedKeyConfigSchema = z
  .object({
    /** Optional: when given it must match the key, which catches a key pasted into the wrong entry. */
    kid: z
      .string()
      .regex(/^[0-9a-fA-F]{16}$/, 'kid is 16 hex digits')
      .transform((s) => s.toLowerCase())
      .optional(),
    publicKey: z.string().regex(B64URL_32, 'publicKey is a raw 32-byte Ed25519 key in base64url (43 characters)'),
    issuer: z.string().min(1),
    notBefore: instantSchema.optional(),
    notAfter: instantSchema.optional(),
    label: z.string().optional(),
  })
  .strict()
  .superRefine((k, ctx) => {
    const raw = new Uint8Array(Buffer.from(k.publicKey, 'base64url'));
    if (raw.length !== 32) {
      ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'publicKey does not decode to 32 bytes' });
      return;
    }
    try {
      ed25519PublicKey(raw);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'publicKey is not a valid Ed25519 key' });
    }
    const kid = toHex(kidOf(raw));
    if (k.kid !== undefined && k.kid !== kid) ctx.addIssue({ code: 'custom', path: ['kid'], message: `kid ${k.kid} does not match publicKey (its kid is ${kid})` });
    if (k.notBefore !== undefined && k.notAfter !== undefined && k.notAfter <= k.notBefore) ctx.addIssue({ code: 'custom', path: ['notAfter'], message: 'notAfter must be after notBefore' });
  });

/** The `qrTokens` block of the room configuration. */
export const qrTokenConfigSchema = z
  .object({
    keys: z.array(trustedKeyConfigSchema).max(32),
    /** Allowed clock skew for iat, seconds (the spec's 5 minutes). */
    skewSec: z.int().min(0).max(3600).default(300),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.keys.forEach((k, i) => {
      const id = `${k.publicKey}|${k.issuer}`;
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['keys', i], message: 'the same key and issuer are listed twice' });
      seen.add(id);
    });
  });

export type QrTokenConfig = z.output<typeof qrTokenConfigSchema>;
export type QrTokenConfigInput = z.input<typeof qrTokenConfigSchema>;

export type TrustedKeysResult = { ok: true; keys: TrustedKey[]; skewSec: number } | { ok: false; errors: string[] };

function issuePath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** Parses the config block into verifier keys (kid computed, key imported once). Never throws. */
export function parseTrustedKeys(input: unknown): TrustedKeysResult {
  const parsed = qrTokenConfigSchema.safeParse(input);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.map((i) => `qrTokens.${issuePath(i.path)}: ${i.message}`) };
  const keys = parsed.data.keys.map((k): TrustedKey => {
    const publicKey = new Uint8Array(Buffer.from(k.publicKey, 'base64url'));
    const key: TrustedKey = { kid: toHex(kidOf(publicKey)), publicKey, issuer: k.issuer, keyObject: ed25519PublicKey(publicKey) };
    if (k.notBefore !== undefined) key.notBefore = k.notBefore;
    if (k.notAfter !== undefined) key.notAfter = k.notAfter;
    return key;
  });
  return { ok: true, keys, skewSec: parsed.data.skewSec };
}

/** Same window rule as the verifier: notBefore inclusive, notAfter exclusive, against the trusted time. */
export function isKeyActive(key: TrustedKey, nowSec: number): boolean {
  return (key.notBefore === undefined || nowSec >= key.notBefore) && (key.notAfter === undefined || nowSec < key.notAfter);
}

export function activeKeys(keys: readonly TrustedKey[], nowSec: number): TrustedKey[] {
  return keys.filter((k) => isKeyActive(k, nowSec));
}

export interface KeyStatus {
  kid: string;
  issuer: string;
  state: 'active' | 'not_yet_valid' | 'expired';
  notBefore?: number;
  notAfter?: number;
}

export interface KeySetStatus {
  keys: KeyStatus[];
  /** Human-readable problems for the status page, e.g. no active key, or the last one ends soon. */
  warnings: string[];
}

/** For the status page: each key's state now, and whether QR vends are about to stop working. */
export function keySetStatus(keys: readonly TrustedKey[], nowSec: number, warnAheadSec = 7 * 86400): KeySetStatus {
  const out: KeyStatus[] = keys.map((k) => {
    const state = isKeyActive(k, nowSec) ? 'active' : k.notBefore !== undefined && nowSec < k.notBefore ? 'not_yet_valid' : 'expired';
    const s: KeyStatus = { kid: k.kid, issuer: k.issuer, state };
    if (k.notBefore !== undefined) s.notBefore = k.notBefore;
    if (k.notAfter !== undefined) s.notAfter = k.notAfter;
    return s;
  });
  const warnings: string[] = [];
  const active = keys.filter((k) => isKeyActive(k, nowSec));
  if (active.length === 0) warnings.push('no trusted QR token key is valid now: every QR vend will be refused (unknown_key)');
  else {
    const lastEnd = Math.max(...active.map((k) => k.notAfter ?? Number.POSITIVE_INFINITY));
    const successor = keys.some((k) => k.notBefore !== undefined && k.notBefore > nowSec && (k.notAfter ?? Number.POSITIVE_INFINITY) > lastEnd);
    if (lastEnd - nowSec < warnAheadSec && !successor) warnings.push(`the last valid QR token key ends at ${new Date(lastEnd * 1000).toISOString()} and no successor is configured`);
  }
  return { keys: out, warnings };
}
