// For integrators: decode a token as far as it goes and explain every check, in the verifier's
// own words (the same verifyToken, traced), plus what the token claims even when it cannot be
// verified here. What is shown before a good signature is marked unverified.
import { base45Decode } from './base45.js';
import { isBytes, isCborMap, type CborValue } from './cbor.js';
import { decodeClaimsMap, parseClaims } from './claims.js';
import { parseSign1, toHex } from './cose.js';
import { TOKEN_PREFIX, verifyToken, type TraceEvent, type TrustedKey, type VerifyResult } from './verify.js';

export interface InspectContext {
  roomId?: string;
  machineId?: string;
  priceCents?: number;
  nowSec?: number;
  skewSec?: number;
  trustedKeys?: readonly TrustedKey[];
  isUsed?: (tokenId: string) => boolean;
}

export interface InspectStep {
  step: number;
  check: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
}

export interface InspectReport {
  characters: number;
  cborBytes?: number;
  tagged?: boolean;
  header?: { alg: number | string; kid: string };
  /** Every claim, as JSON-friendly values (byte strings as hex); unverified unless signatureVerified. */
  claims?: Record<string, unknown>;
  signatureVerified: boolean;
  steps: InspectStep[];
  /** The verifier's verdict, when trusted keys were given. */
  verdict?: VerifyResult;
  summary: string;
}

const CLAIM_LABELS = new Map<CborValue, string>([
  [1, 'iss'],
  [3, 'aud'],
  [4, 'exp'],
  [6, 'iat'],
  [7, 'cti'],
]);

function display(v: CborValue): unknown {
  if (isBytes(v)) return `h'${toHex(v)}'`;
  if (Array.isArray(v)) return v.map(display);
  if (isCborMap(v)) return Object.fromEntries([...v].map(([k, x]) => [typeof k === 'string' ? k : JSON.stringify(display(k)), display(x)]));
  return v;
}

function decodeForDisplay(text: string, report: InspectReport): void {
  if (!text.startsWith(TOKEN_PREFIX)) return;
  let bytes: Uint8Array;
  try {
    bytes = base45Decode(text.slice(TOKEN_PREFIX.length));
  } catch {
    return;
  }
  report.cborBytes = bytes.length;
  const env = parseSign1(bytes);
  if (!env.ok) return;
  report.tagged = env.sign1.tagged;
  report.header = { alg: env.sign1.alg, kid: toHex(env.sign1.kid) };
  const m = decodeClaimsMap(env.sign1.payload);
  if (!m.ok) return;
  report.claims = Object.fromEntries([...m.map].map(([k, v]) => [CLAIM_LABELS.get(k) ?? (typeof k === 'string' ? k : JSON.stringify(display(k))), display(v)]));
}

/** Never throws for any text. */
export function inspectToken(text: string, ctx: InspectContext = {}): InspectReport {
  const report: InspectReport = { characters: text.length, signatureVerified: false, steps: [], summary: '' };
  decodeForDisplay(text, report);

  const events: TraceEvent[] = [];
  const keys = ctx.trustedKeys ?? [];
  // Fill what the caller left out with values that pass, and say so: the rest is still checked.
  let unverifiedAud: string | undefined;
  let unverifiedIat: number | undefined;
  const aud = report.claims?.['aud'];
  const iat = report.claims?.['iat'];
  if (typeof aud === 'string') unverifiedAud = aud;
  if (typeof iat === 'number' && Number.isSafeInteger(iat)) unverifiedIat = iat;
  const skipped = new Set<string>();
  if (ctx.roomId === undefined) skipped.add('aud');
  if (ctx.nowSec === undefined) skipped.add('iat').add('exp');
  if (ctx.isUsed === undefined) skipped.add('cti');
  if (ctx.priceCents === undefined) skipped.add('amount');

  const verdict = verifyToken(
    text,
    {
      roomId: ctx.roomId ?? unverifiedAud ?? '',
      ...(ctx.machineId === undefined ? {} : { machineId: ctx.machineId }),
      ...(ctx.priceCents === undefined ? {} : { priceCents: ctx.priceCents }),
      nowSec: ctx.nowSec ?? unverifiedIat ?? 0,
      ...(ctx.skewSec === undefined ? {} : { skewSec: ctx.skewSec }),
      trustedKeys: keys,
      isUsed: ctx.isUsed ?? (() => false),
    },
    (e) => events.push(e),
  );

  for (const e of events) {
    const status = !e.pass ? 'fail' : skipped.has(e.check) ? 'skip' : 'pass';
    const note = status === 'skip' ? ` (not checked: no ${e.check === 'aud' ? 'room' : e.check === 'cti' ? 'used-id list' : e.check === 'amount' ? 'price' : 'time'} given)` : '';
    report.steps.push({ step: e.step, check: e.check, status, detail: e.detail + note });
  }
  if (!verdict.ok && verdict.reason === 'unknown_key' && keys.length === 0) {
    const step = report.steps[report.steps.length - 1];
    if (step?.check === 'kid') {
      step.status = 'skip';
      step.detail = `no trusted key given: the signature and everything after it are not checked (kid ${report.header?.kid ?? '?'})`;
    }
  }
  report.signatureVerified = events.some((e) => e.check === 'signature' && e.pass);
  if (keys.length > 0) report.verdict = verdict;
  if (!report.signatureVerified && report.claims !== undefined) {
    const m = decodeClaimsMapFromReport(text);
    if (m !== undefined) report.steps.push({ step: 0, check: 'claims_unverified', status: 'skip', detail: m });
  }
  if (keys.length === 0) report.summary = report.claims ? 'decoded; NOT verified (no trusted key given)' : `not decodable: ${verdict.ok ? '' : verdict.detail}`;
  else report.summary = verdict.ok ? 'VALID' : `REJECTED: ${verdict.reason} (${verdict.detail})`;
  return report;
}

/** Whether the unverified claims would even type-check, to tell a minting bug from a forgery. */
function decodeClaimsMapFromReport(text: string): string | undefined {
  try {
    const env = parseSign1(base45Decode(text.slice(TOKEN_PREFIX.length)));
    if (!env.ok) return undefined;
    const m = decodeClaimsMap(env.sign1.payload);
    if (!m.ok) return undefined;
    const c = parseClaims(m.map);
    return c.ok ? 'the claims are well-typed (but unverified)' : `the claims would be refused: ${c.detail}`;
  } catch {
    return undefined;
  }
}

export function formatInspectReport(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`token: ${r.characters} characters${r.cborBytes === undefined ? '' : `, ${r.cborBytes} bytes of CBOR`}${r.tagged === undefined ? '' : r.tagged ? ', COSE_Sign1 with tag 18' : ', COSE_Sign1 untagged'}`);
  if (r.header) lines.push(`protected header: alg ${String(r.header.alg)}, kid ${r.header.kid}`);
  if (r.claims) {
    lines.push(`claims${r.signatureVerified ? '' : ' (UNVERIFIED)'}:`);
    for (const [k, v] of Object.entries(r.claims)) {
      const when = (k === 'exp' || k === 'iat') && typeof v === 'number' && Number.isSafeInteger(v) && Math.abs(v) < 8.64e12 ? `  (${new Date(v * 1000).toISOString()})` : '';
      lines.push(`  ${k.padEnd(5)} ${JSON.stringify(v)}${when}`);
    }
  }
  lines.push('checks:');
  for (const s of r.steps) lines.push(`  ${s.step > 0 ? `${s.step}.` : '--'} ${s.status.toUpperCase().padEnd(4)} ${s.check}: ${s.detail}`);
  lines.push(`verdict: ${r.summary}`);
  return lines.join('\n');
}
