// The record payload schemas of records.ts (RECORD_SCHEMAS), by hand: the same accept/reject for
// every JSON value, without zod's per-field machinery (zod on each payload was 39 % of an
// ingest worker's CPU in a burst, docs/performance.md section 9). The zod schemas stay the
// contract: checkRecord (records.ts) asks zod again for any payload these reject, so the reason
// text is zod's. test/protocols/record-checks.test.ts holds the two to the same verdict on
// generated valid, mutated and real ledger records.
//
// zod's rules followed here, as zod 4 implements them: a strict object is any non-null,
// non-array object whose every enumerable key (for…in) is declared; a declared key must be
// present (`in`) unless optional, and an optional key may hold undefined; string lengths count
// Unicode code points (a surrogate pair is one); integers are safe integers; a record is a plain
// object.
import { MAX_BALANCE_CENTS, MAX_TOP_UP_CENTS } from './payloads.js';

type Check = (v: unknown) => boolean;

/** Code points, as zod counts them: a high surrogate followed by a low one is one. */
function codePoints(s: string): number {
  let count = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

/** A string of min..max code points. Counting is needed only where units and code points can disagree. */
const str =
  (min: number, max: number): Check =>
  (v) => {
    if (typeof v !== 'string') return false;
    const units = v.length;
    if (units < min) return false;
    if (units < 2 * min && codePoints(v) < min) return false;
    return units <= max || codePoints(v) <= max;
  };

const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

const anyInt: Check = (v) => typeof v === 'number' && Number.isSafeInteger(v);
const bool: Check = (v) => typeof v === 'boolean';
const anything: Check = () => true;
const nullable =
  (c: Check): Check =>
  (v) =>
    v === null || c(v);
const oneOf = (values: readonly string[]): Check => {
  const set = new Set<unknown>(values);
  return (v) => set.has(v);
};
const regex =
  (re: RegExp): Check =>
  (v) =>
    typeof v === 'string' && re.test(v);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** zod's isPlainObject (z.record takes nothing else). */
function isPlainObject(v: unknown): boolean {
  if (!isObject(v)) return false;
  const ctor: unknown = v.constructor;
  if (typeof ctor !== 'function') return true;
  const proto: unknown = (ctor as { prototype?: unknown }).prototype;
  return isObject(proto) && Object.hasOwn(proto, 'isPrototypeOf');
}

/** A strict object: every key declared; required keys present; optional ones absent, undefined or valid. */
function strict(shape: Record<string, Check>, optional: readonly string[] = []): Check {
  const keys = new Set(Object.keys(shape));
  const fields = Object.entries(shape).map(([key, check]) => ({ key, check, optional: optional.includes(key) }));
  return (v) => {
    if (!isObject(v)) return false;
    for (const k in v) if (!keys.has(k)) return false;
    for (const f of fields) {
      if (!(f.key in v)) {
        if (f.optional) continue;
        return false;
      }
      const x = v[f.key];
      if (f.optional && x === undefined) continue;
      if (!f.check(x)) return false;
    }
    return true;
  };
}

const id64 = str(1, 64);
const cents = int(-MAX_BALANCE_CENTS, MAX_BALANCE_CENTS);
const nonNegCents = int(0, MAX_BALANCE_CENTS);
const epochMs = int(0, Number.MAX_SAFE_INTEGER);
const nonNegInt = epochMs;
const positiveInt = int(1, Number.MAX_SAFE_INTEGER);
const accountId = str(1, 128);
const cardMask = str(0, 64);
const method = oneOf(['card', 'qr', 'remote', 'service']);
const funding = oneOf(['account', 'token', 'none']);

const audit = strict({
  seq: positiveInt,
  wallMs: epochMs,
  monoMs: anyInt,
  bootId: str(1, 64),
  clockTrusted: bool,
  kind: str(1, 64),
  method: nullable(str(0, 64)),
  amountCents: nullable(cents),
  accountId: nullable(accountId),
  cardMask: nullable(cardMask),
  machineId: nullable(str(0, 64)),
  program: nullable(anyInt),
  result: str(1, 64),
  reason: nullable(str(0, 64)),
  vendId: nullable(str(0, 64)),
  detail: nullable(str(0, Infinity)),
  prevHash: str(0, 128),
  hash: str(0, 128),
});

const alertRaised = strict({
  code: id64,
  message: nullable(str(0, 500)),
  machineId: nullable(id64),
  vendId: nullable(str(0, 64)),
  amountCents: nullable(cents),
  detail: nullable(isPlainObject),
  audit,
});
const alertDeadLetter = strict({
  code: (v) => v === 'outbox_dead_letter',
  seqs: (v) => {
    if (!Array.isArray(v) || v.length < 1) return false;
    for (let i = 0; i < v.length; i++) if (!positiveInt(v[i])) return false;
    return true;
  },
  why: str(0, 500),
  audit,
});

/** Each record type's payload check, keyed as RECORD_SCHEMAS is. */
export const RECORD_CHECKS: Record<string, Check> = {
  'vend.hold': strict(
    {
      vendId: id64,
      method,
      funding,
      machineId: id64,
      program: nullable(nonNegInt),
      amountCents: nonNegCents,
      accountId: nullable(accountId),
      cardMask: nullable(cardMask),
      tokenId: nullable(str(0, 128)),
      tokenAmountCents: nullable(nonNegCents),
      ruleSetVersion: str(1, 64),
      ruleId: id64,
      points: nonNegInt,
      sunCounter: nonNegInt,
      audit,
    },
    ['sunCounter'],
  ),
  'vend.credit_sent': strict({ vendId: id64, evidence: anything, audit }),
  'vend.capture': strict({ vendId: id64, capturedCents: nonNegCents, heldCents: nonNegCents, points: anyInt, audit }),
  'vend.refund': strict({ vendId: id64, refundedCents: nonNegCents, heldCents: nonNegCents, reason: id64, funding, audit }),
  'vend.fault_refund': strict(
    { vendId: id64, refundedCents: nonNegCents, capturedCents: nullable(nonNegCents), reason: id64, funding, refundedPoints: positiveInt, audit },
    ['refundedPoints'],
  ),
  decline: strict({
    reason: id64,
    method,
    machineId: nullable(id64),
    program: nullable(anyInt),
    amountCents: nullable(cents),
    accountId: nullable(accountId),
    cardMask: nullable(cardMask),
    tokenId: nullable(str(0, 128)),
    audit,
  }),
  'account.topup': strict({ cloudId: str(1, 128), accountId, amountCents: int(1, MAX_TOP_UP_CENTS), accountVersion: positiveInt, audit }),
  alert: (v) => alertRaised(v) || alertDeadLetter(v),
  'card.status': strict({ cardMask, uidHash: regex(/^[0-9a-f]{16,128}$/), status: oneOf(['active', 'lost', 'blocked']), audit }),
  machine_state: strict({
    machineId: id64,
    status: oneOf(['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service', 'offline']),
    program: nullable(anyInt),
    remainingSec: nullable(anyInt),
    faultCode: nullable(anyInt),
    door: nullable(strict({ closed: bool, locked: bool })),
    at: epochMs,
  }),
  remote_command: strict({
    commandId: id64,
    machineId: id64,
    kind: oneOf(['start', 'pause', 'resume', 'addTime', 'cancel']),
    outcome: oneOf(['accepted', 'rejected', 'unknown', 'unsupported', 'failed']),
    reason: nullable(str(0, 64)),
    detail: nullable(str(0, 500)),
    at: epochMs,
  }),
  command: strict({
    source: oneOf(['remote', 'operator']),
    commandId: nullable(id64),
    kind: str(1, 32),
    machineId: id64,
    result: str(1, 32),
    reason: nullable(str(0, 64)),
    money: str(1, 200),
    vendId: nullable(str(0, 64)),
    audit,
  }),
  feedback: strict({ id: str(1, 128), at: epochMs, machineId: nullable(id64), message: str(0, 2000), contact: nullable(str(0, 200)) }),
};

/** True when the payload passes its type's schema; false for a failing payload or an unknown type. */
export function recordPayloadValid(type: string, payload: unknown): boolean {
  const check = Object.hasOwn(RECORD_CHECKS, type) ? RECORD_CHECKS[type] : undefined;
  return check !== undefined && check(payload);
}
