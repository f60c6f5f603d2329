// The CWT claims (RFC 8392) a version-1 token carries. Integer keys are the registered claims,
// text keys are ours; anything else is ignored, as the spec says.
import { z } from 'zod';
import { decodeCbor, encodeCbor, isCborMap, type CborValue } from './cbor.js';

export const CLAIM_ISS = 1;
export const CLAIM_AUD = 3;
export const CLAIM_EXP = 4;
export const CLAIM_IAT = 6;
export const CLAIM_CTI = 7;

const bytesSchema = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected a byte string' });

export const tokenClaimsSchema = z
  .object({
    iss: z.string().min(1),
    aud: z.string().min(1),
    exp: z.int(),
    iat: z.int(),
    cti: bytesSchema.refine((b) => b.length >= 8 && b.length <= 16, { message: 'cti must be 8 to 16 bytes' }),
    amt: z.int().nonnegative(),
    m: z.string().min(1).optional(),
    p: z.int().nonnegative().optional(),
    acct: z.string().min(1).optional(),
  })
  .refine((c) => c.exp > c.iat, { message: 'exp must be after iat', path: ['exp'] });

export type TokenClaims = z.output<typeof tokenClaimsSchema>;

export type ClaimsMapResult = { ok: true; map: Map<CborValue, CborValue> } | { ok: false; detail: string };
export type ClaimsResult = { ok: true; claims: TokenClaims } | { ok: false; detail: string };

/** Well-formedness only (step 1): the payload is a CBOR map. Its values mean nothing until the signature is good. */
export function decodeClaimsMap(payload: Uint8Array): ClaimsMapResult {
  const d = decodeCbor(payload);
  if (!d.ok) return { ok: false, detail: `payload: ${d.detail}` };
  if (!isCborMap(d.value)) return { ok: false, detail: 'payload is not a CBOR map' };
  return { ok: true, map: d.value };
}

function claimName(path: readonly PropertyKey[]): string {
  const key = path[0];
  const names: Record<string, string> = { iss: 'iss (1)', aud: 'aud (3)', exp: 'exp (4)', iat: 'iat (6)', cti: 'cti (7)', amt: '"amt"', m: '"m"', p: '"p"', acct: '"acct"' };
  return typeof key === 'string' ? (names[key] ?? key) : 'claims';
}

/** Types the claims a verified payload carries; reports the first claim that is missing or wrong. */
export function parseClaims(map: Map<CborValue, CborValue>): ClaimsResult {
  const raw: Record<string, CborValue | undefined> = {
    iss: map.get(CLAIM_ISS),
    aud: map.get(CLAIM_AUD),
    exp: map.get(CLAIM_EXP),
    iat: map.get(CLAIM_IAT),
    cti: map.get(CLAIM_CTI),
    amt: map.get('amt'),
  };
  // optional claims only when present, so a verified claims object has no undefined keys
  for (const k of ['m', 'p', 'acct']) if (map.has(k)) raw[k] = map.get(k);
  const parsed = tokenClaimsSchema.safeParse(raw);
  if (parsed.success) return { ok: true, claims: parsed.data };
  const issue = parsed.error.issues[0];
  if (issue === undefined) return { ok: false, detail: 'claims are invalid' };
  const name = claimName(issue.path);
  const missing = issue.code === 'invalid_type' && issue.path.length === 1 && raw[String(issue.path[0])] === undefined;
  return { ok: false, detail: missing ? `claim ${name} is missing` : `claim ${name}: ${issue.message}` };
}

/** Claims as the minter writes them; `extra` lets tests and vectors carry unknown claims. */
export function encodeClaims(claims: TokenClaims, extra?: ReadonlyMap<CborValue, CborValue>): Uint8Array {
  const m = new Map<CborValue, CborValue>([
    [CLAIM_ISS, claims.iss],
    [CLAIM_AUD, claims.aud],
    [CLAIM_EXP, claims.exp],
    [CLAIM_IAT, claims.iat],
    [CLAIM_CTI, claims.cti],
    ['amt', claims.amt],
  ]);
  if (claims.m !== undefined) m.set('m', claims.m);
  if (claims.p !== undefined) m.set('p', claims.p);
  if (claims.acct !== undefined) m.set('acct', claims.acct);
  if (extra) for (const [k, v] of extra) m.set(k, v);
  return encodeCbor(m);
}
