// The payload of every outbox record type a gateway sends in `up/batch` (records[].payload),
// as zod schemas: the fleet ingest (cloud/) checks each record it stores against them, the tests
// hold the ledger's producers to them, and docs/schemas/record-*.json is generated from them.
// record-checks.ts has the same rules by hand, for speed; these stay the contract.
// docs/mqtt-contract.md ("Records") says how the cloud books each type.
import { z } from 'zod';
import { MAX_BALANCE_CENTS, MAX_TOP_UP_CENTS } from './payloads.js';
import { recordPayloadValid } from './record-checks.js';

const id64 = z.string().min(1).max(64);
const cents = z.number().int().min(-MAX_BALANCE_CENTS).max(MAX_BALANCE_CENTS);
const nonNegCents = z.number().int().min(0).max(MAX_BALANCE_CENTS);
const epochMs = z.number().int().nonnegative();
const machineId = id64;
const accountId = z.string().min(1).max(128);
/** A card UID as the ledger shows it: first and last characters, the rest masked. Never the full UID. */
const cardMask = z.string().max(64);
const method = z.enum(['card', 'qr', 'remote', 'service']);
const funding = z.enum(['account', 'token', 'none']);

/** The audit record a money (or decline, alert, card) record carries: the hash chain the cloud can verify. */
export const auditRecordSchema = z.strictObject({
  seq: z.number().int().positive(),
  wallMs: epochMs,
  monoMs: z.number().int(),
  bootId: z.string().min(1).max(64),
  clockTrusted: z.boolean(),
  kind: z.string().min(1).max(64),
  method: z.string().max(64).nullable(),
  amountCents: cents.nullable(),
  accountId: accountId.nullable(),
  cardMask: cardMask.nullable(),
  machineId: z.string().max(64).nullable(),
  program: z.number().int().nullable(),
  result: z.string().min(1).max(64),
  reason: z.string().max(64).nullable(),
  vendId: z.string().max(64).nullable(),
  /** JSON text of the audit detail (kept as text: the hash is over it). */
  detail: z.string().nullable(),
  prevHash: z.string().max(128),
  hash: z.string().max(128),
});

const audit = auditRecordSchema;

export const vendHoldSchema = z.strictObject({
  vendId: id64,
  method,
  funding,
  machineId,
  program: z.number().int().nonnegative().nullable(),
  amountCents: nonNegCents,
  accountId: accountId.nullable(),
  cardMask: cardMask.nullable(),
  tokenId: z.string().max(128).nullable(),
  tokenAmountCents: nonNegCents.nullable(),
  ruleSetVersion: z.string().min(1).max(64),
  ruleId: id64,
  /** Points held (a vend paid with points from the app; 0 otherwise). */
  points: z.number().int().nonnegative(),
  /** A secure card's SUN counter (docs/secure-cards.md): one counter in two rooms is a clone. */
  sunCounter: z.number().int().nonnegative().optional(),
  audit,
});

export const vendCreditSentSchema = z.strictObject({
  vendId: id64,
  /** The device profile's proof of the credit command (opaque to the cloud: kept for disputes). */
  evidence: z.unknown(),
  audit,
});

export const vendCaptureSchema = z.strictObject({
  vendId: id64,
  capturedCents: nonNegCents,
  heldCents: nonNegCents,
  points: z.number().int(),
  audit,
});

export const vendRefundSchema = z.strictObject({
  vendId: id64,
  refundedCents: nonNegCents,
  heldCents: nonNegCents,
  reason: id64,
  funding,
  audit,
});

export const vendFaultRefundSchema = z.strictObject({
  vendId: id64,
  refundedCents: nonNegCents,
  capturedCents: nonNegCents.nullable(),
  reason: id64,
  funding,
  /** Points given back, for a vend paid with points. */
  refundedPoints: z.int().positive().optional(),
  audit,
});

export const declineRecordSchema = z.strictObject({
  reason: id64,
  method,
  machineId: machineId.nullable(),
  program: z.number().int().nullable(),
  amountCents: cents.nullable(),
  accountId: accountId.nullable(),
  cardMask: cardMask.nullable(),
  tokenId: z.string().max(128).nullable(),
  audit,
});

export const accountTopUpRecordSchema = z.strictObject({
  cloudId: z.string().min(1).max(128),
  accountId,
  amountCents: z.number().int().positive().max(MAX_TOP_UP_CENTS),
  /** The cloud's account version the top-up was booked at (docs/mqtt-contract.md, Balances). */
  accountVersion: z.number().int().positive(),
  audit,
});

/** Two shapes: an alert raised by a part of the gateway, and the ledger's own dead-letter alert. */
export const alertRecordSchema = z.union([
  z.strictObject({
    code: id64,
    message: z.string().max(500).nullable(),
    machineId: machineId.nullable(),
    vendId: z.string().max(64).nullable(),
    amountCents: cents.nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
    audit,
  }),
  z.strictObject({
    code: z.literal('outbox_dead_letter'),
    seqs: z.array(z.number().int().positive()).min(1),
    why: z.string().max(500),
    audit,
  }),
]);

export const cardStatusRecordSchema = z.strictObject({
  cardMask,
  /** HMAC of the UID with the room secret (hex): stable per card and room, not reversible. */
  uidHash: z.string().regex(/^[0-9a-f]{16,128}$/),
  status: z.enum(['active', 'lost', 'blocked']),
  audit,
});

export const machineStateRecordSchema = z.strictObject({
  machineId,
  status: z.enum(['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service', 'offline']),
  program: z.number().int().nullable(),
  remainingSec: z.number().int().nullable(),
  faultCode: z.number().int().nullable(),
  door: z.strictObject({ closed: z.boolean(), locked: z.boolean() }).nullable(),
  at: epochMs,
});

export const remoteCommandRecordSchema = z.strictObject({
  commandId: id64,
  machineId,
  kind: z.enum(['start', 'pause', 'resume', 'addTime', 'cancel']),
  outcome: z.enum(['accepted', 'rejected', 'unknown', 'unsupported', 'failed']),
  reason: z.string().max(64).nullable(),
  detail: z.string().max(500).nullable(),
  at: epochMs,
});

/** A machine command that is not a vend (the app's or an operator's), with what it did to money. */
export const commandRecordSchema = z.strictObject({
  source: z.enum(['remote', 'operator']),
  commandId: id64.nullable(),
  kind: z.string().min(1).max(32),
  machineId,
  result: z.string().min(1).max(32),
  reason: z.string().max(64).nullable(),
  money: z.string().min(1).max(200),
  vendId: z.string().max(64).nullable(),
  audit,
});

export const feedbackRecordSchema = z.strictObject({
  id: z.string().min(1).max(128),
  at: epochMs,
  machineId: machineId.nullable(),
  message: z.string().max(2000),
  contact: z.string().max(200).nullable(),
});

/** Every record type a gateway sends, by `type`. A money record is `money: true` on the wire. */
export const RECORD_SCHEMAS = {
  'vend.hold': vendHoldSchema,
  'vend.credit_sent': vendCreditSentSchema,
  'vend.capture': vendCaptureSchema,
  'vend.refund': vendRefundSchema,
  'vend.fault_refund': vendFaultRefundSchema,
  decline: declineRecordSchema,
  'account.topup': accountTopUpRecordSchema,
  alert: alertRecordSchema,
  'card.status': cardStatusRecordSchema,
  machine_state: machineStateRecordSchema,
  remote_command: remoteCommandRecordSchema,
  command: commandRecordSchema,
  feedback: feedbackRecordSchema,
} as const satisfies Record<string, z.ZodType>;

export type RecordType = keyof typeof RECORD_SCHEMAS;

/** The record types that move money (the wire's `money` flag is true for exactly these). */
export const MONEY_RECORD_TYPES: readonly RecordType[] = ['vend.hold', 'vend.credit_sent', 'vend.capture', 'vend.refund', 'vend.fault_refund', 'account.topup'];

export type RecordVerdict = { ok: true; type: RecordType } | { ok: false; reason: 'unknown_type' | 'schema' | 'money_flag'; detail: string };

/**
 * Checks one batch record's payload against its type's schema (and the money flag against the
 * type). The hand-written check (record-checks.ts, the same verdict) passes a valid payload
 * without zod; a payload it rejects goes through zod, which gives the reason.
 */
export function checkRecord(type: string, money: boolean, payload: unknown): RecordVerdict {
  if (!isRecordType(type)) return { ok: false, reason: 'unknown_type', detail: type.slice(0, 64) };
  if (recordPayloadValid(type, payload)) return moneyVerdict(type, money);
  return checkRecordWithZod(type, money, payload);
}

/** checkRecord by zod alone: the contract's own verdict (the tests compare the two). */
export function checkRecordWithZod(type: string, money: boolean, payload: unknown): RecordVerdict {
  if (!isRecordType(type)) return { ok: false, reason: 'unknown_type', detail: type.slice(0, 64) };
  const parsed = RECORD_SCHEMAS[type].safeParse(payload);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`)
      .join('; ');
    return { ok: false, reason: 'schema', detail };
  }
  return moneyVerdict(type, money);
}

function moneyVerdict(type: RecordType, money: boolean): RecordVerdict {
  if (money !== MONEY_RECORD_TYPES.includes(type)) return { ok: false, reason: 'money_flag', detail: `${type} with money=${money}` };
  return { ok: true, type };
}

function isRecordType(t: string): t is RecordType {
  return Object.hasOwn(RECORD_SCHEMAS, t);
}
