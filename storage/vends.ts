// The durable steps of a vend: hold -> credit sent -> captured | refunded. Each step is one
// transaction with its audit record and outbox record; the hold is committed before any byte
// goes to a machine. A finished vend never changes again (also enforced by a trigger).
import { z } from 'zod';
import { maskUid } from './deps.js';
import { accountIdSchema, addEntry, balance, ensureAccount } from './accounts.js';
import { cardUidSchema } from './cards.js';
import { inTx, type LedgerContext } from './context.js';
import { commandRecordSchema, recordCommand } from './commands.js';
import { recordFact } from './outbox.js';
import { writeSettingAlong, type SettingWrite } from './settings.js';
import { spendSunCounter, sunCounterSchema } from './secure-cards.js';
import { claimToken, tokenIdSchema } from './tokens.js';
import { timeOrderedUuid } from './vend-id.js';

export const vendMethodSchema = z.enum(['card', 'qr', 'remote', 'service']);
export type VendMethod = z.infer<typeof vendMethodSchema>;
export const fundingSchema = z.enum(['account', 'token', 'none']);
export type Funding = z.infer<typeof fundingSchema>;
export type VendState = 'held' | 'credit_sent' | 'captured' | 'refunded';

const machineIdSchema = z.string().min(1).max(64);
export const machineKindSchema = z.enum(['washer', 'dryer']);
const detailSchema = z.record(z.string(), z.unknown());

export const holdSchema = z
  .object({
    method: vendMethodSchema,
    /** account: a hold entry on the account's balance; token: paid online (QR); none: free/service. */
    funding: fundingSchema,
    machineId: machineIdSchema,
    program: z.number().int().nonnegative().optional(),
    /** What the machine is: a captured washer vend counts as a wash in accountUsage. */
    machineKind: machineKindSchema.optional(),
    amountCents: z.number().int().nonnegative(),
    accountId: accountIdSchema.optional(),
    cardUid: cardUidSchema.optional(),
    /** The lowest the derived balance may go after this hold (the risk rules' floor). */
    floorCents: z.number().int().default(0),
    /** Paid with the account's points instead of its balance: held from the points (amountCents 0). */
    points: z.number().int().positive().optional(),
    tokenId: tokenIdSchema.optional(),
    /** Token exp, seconds since the epoch: the used id is kept until then plus the skew. */
    tokenExpiresAt: z.number().int().optional(),
    tokenAmountCents: z.number().int().nonnegative().optional(),
    /** A secure card's SUN counter (needs cardUid): spent in this transaction, or the hold is declined `replayed`. */
    sunCounter: sunCounterSchema.optional(),
    ruleSetVersion: z.union([z.string().min(1).max(64), z.number().int()]).transform(String),
    ruleId: z.string().min(1).max(64),
    detail: detailSchema.optional(),
  })
  .superRefine((h, issue) => {
    if (h.funding === 'account' && h.accountId === undefined) issue.addIssue({ code: 'custom', message: 'account funding needs accountId' });
    if (h.funding === 'token' && h.tokenId === undefined) issue.addIssue({ code: 'custom', message: 'token funding needs tokenId' });
    if (h.method === 'qr' && h.tokenId === undefined) issue.addIssue({ code: 'custom', message: 'a qr vend needs tokenId' });
    if (h.tokenId !== undefined && h.tokenExpiresAt === undefined) issue.addIssue({ code: 'custom', message: 'tokenId needs tokenExpiresAt' });
    if (h.points !== undefined && (h.funding !== 'account' || h.amountCents !== 0)) issue.addIssue({ code: 'custom', message: 'a points vend is account-funded and holds no cents' });
    if (h.sunCounter !== undefined && h.cardUid === undefined) issue.addIssue({ code: 'custom', message: 'sunCounter needs cardUid' });
  });
export type HoldInput = z.input<typeof holdSchema>;

export type HoldResult =
  | { ok: true; vendId: string; auditSeq: number; balanceCents: number | null }
  | { ok: false; outcome: 'replayed' | 'insufficient_funds'; auditSeq: number; balanceCents: number | null };

export const declineSchema = z.object({
  method: vendMethodSchema,
  reason: z.string().min(1).max(64),
  machineId: machineIdSchema.optional(),
  program: z.number().int().nonnegative().optional(),
  amountCents: z.number().int().nonnegative().optional(),
  accountId: accountIdSchema.optional(),
  cardUid: cardUidSchema.optional(),
  tokenId: tokenIdSchema.optional(),
  /** A verified SUN tap declined for another reason: its counter is spent with the decline, if above. */
  sunCounter: sunCounterSchema.optional(),
  detail: detailSchema.optional(),
}).refine((d) => d.sunCounter === undefined || d.cardUid !== undefined, { message: 'sunCounter needs cardUid' });
export type DeclineInput = z.input<typeof declineSchema>;

export const captureSchema = z.object({
  /** What the vend finally costs; at most the held amount. Default: the held amount. */
  amountCents: z.number().int().nonnegative().optional(),
  points: z.number().int().optional(),
  detail: detailSchema.optional(),
  /** The machine command this vend is (an app's add-time): its audit record, written in this transaction. */
  command: commandRecordSchema.optional(),
});
export type CaptureInput = z.input<typeof captureSchema>;

export const refundSchema = z.object({
  reason: z.string().min(1).max(64),
  /** Partial refund of the held amount; default: all of it. */
  amountCents: z.number().int().nonnegative().optional(),
  detail: detailSchema.optional(),
  /** The machine command this vend is (an app's add-time): its audit record, written in this transaction. */
  command: commandRecordSchema.optional(),
});
export type RefundInput = z.input<typeof refundSchema>;

export type StepResult =
  | { ok: true; auditSeq: number; /** capture only: whether the setting asked to go along was stored with it. */ alsoStored?: boolean }
  | { ok: false; reason: 'not_found' | 'already_sent' | 'not_sent' | 'already_finished' | 'over_hold' };

export interface VendRecord {
  vendId: string;
  createdMs: number;
  bootId: string;
  method: VendMethod;
  funding: Funding;
  machineId: string;
  program: number | null;
  accountId: string | null;
  cardMask: string | null;
  amountCents: number;
  tokenId: string | null;
  tokenAmountCents: number | null;
  ruleSetVersion: string;
  ruleId: string;
  state: VendState;
  creditEvidence: unknown;
  creditSentMs: number | null;
  finishedMs: number | null;
  capturedCents: number | null;
  refundedCents: number | null;
  finishReason: string | null;
  /** Washer or dryer as held; null for an add-time purchase (minutes, not a cycle) and for vends before migration 5. */
  machineKind: 'washer' | 'dryer' | null;
}

const VEND_COLUMNS = `vend_id AS vendId, created_ms AS createdMs, boot_id AS bootId, method, funding, machine_id AS machineId,
  program, account_id AS accountId, card_mask AS cardMask, amount_cents AS amountCents, token_id AS tokenId,
  token_amount_cents AS tokenAmountCents, rule_set_version AS ruleSetVersion, rule_id AS ruleId, state,
  credit_evidence AS creditEvidence, credit_sent_ms AS creditSentMs, finished_ms AS finishedMs,
  captured_cents AS capturedCents, refunded_cents AS refundedCents, finish_reason AS finishReason, machine_kind AS machineKind`;

function toVend(row: VendRecord): VendRecord {
  const ev = row.creditEvidence;
  return { ...row, creditEvidence: typeof ev === 'string' ? (JSON.parse(ev) as unknown) : null };
}

export function getVend(ctx: LedgerContext, vendId: string): VendRecord | undefined {
  const row = ctx.db.prepare(`SELECT ${VEND_COLUMNS} FROM vends WHERE vend_id = ?`).get(vendId) as VendRecord | undefined;
  return row ? toVend(row) : undefined;
}

function declineInTx(ctx: LedgerContext, d: z.output<typeof declineSchema>): number {
  const cardMask = d.cardUid === undefined ? null : maskUid(d.cardUid);
  // The message is used up by its decline too, so it cannot be tried again; a replay spends nothing.
  const spent = d.sunCounter !== undefined && d.cardUid !== undefined ? spendSunCounter(ctx, d.cardUid, d.sunCounter) : null;
  const sun = d.sunCounter === undefined ? {} : { sunCounter: d.sunCounter, sunCounterSpent: spent };
  const fact = recordFact(ctx, {
    type: 'decline',
    money: false,
    audit: {
      kind: 'decline', result: 'declined', reason: d.reason, method: d.method, amountCents: d.amountCents, accountId: d.accountId,
      cardMask, machineId: d.machineId, program: d.program,
      detail: d.tokenId === undefined && d.sunCounter === undefined ? d.detail : { ...d.detail, ...(d.tokenId === undefined ? {} : { tokenId: d.tokenId }), ...sun },
    },
    payload: {
      reason: d.reason, method: d.method, machineId: d.machineId ?? null, program: d.program ?? null, amountCents: d.amountCents ?? null,
      accountId: d.accountId ?? null, cardMask, tokenId: d.tokenId ?? null, ...sun,
    },
  });
  return fact.audit.seq;
}

/** A declined attempt: audit and outbox, no money. */
export function recordDecline(ctx: LedgerContext, input: DeclineInput): { auditSeq: number } {
  const d = declineSchema.parse(input);
  return inTx(ctx.db, () => ({ auditSeq: declineInTx(ctx, d) }));
}

export function hold(ctx: LedgerContext, input: HoldInput): HoldResult {
  const h = holdSchema.parse(input);
  const cardMask = h.cardUid === undefined ? null : maskUid(h.cardUid);
  return inTx(ctx.db, (): HoldResult => {
    const decline = (outcome: 'replayed' | 'insufficient_funds', balanceCents: number | null): HoldResult => ({
      ok: false,
      outcome,
      balanceCents,
      auditSeq: declineInTx(ctx, {
        method: h.method, reason: outcome, machineId: h.machineId, program: h.program, amountCents: h.amountCents,
        accountId: h.accountId, cardUid: h.cardUid, tokenId: h.tokenId,
        // The counter was spent above (or was a replay): named in the record, not spent again.
        detail: h.sunCounter === undefined ? h.detail : { ...h.detail, sunCounter: h.sunCounter },
      }),
    });
    // First, so that a decline for funds below still uses the message up, in this transaction.
    if (h.sunCounter !== undefined && h.cardUid !== undefined && !spendSunCounter(ctx, h.cardUid, h.sunCounter)) {
      return decline('replayed', null);
    }
    let balanceAfter: number | null = null;
    if (h.funding === 'account' && h.accountId !== undefined) {
      ensureAccount(ctx, h.accountId);
      const b = balance(ctx, h.accountId);
      const before = b?.balanceCents ?? 0;
      if (h.points !== undefined) {
        if ((b?.points ?? 0) < h.points) return decline('insufficient_funds', before);
      } else if (before - h.amountCents < h.floorCents) return decline('insufficient_funds', before);
      balanceAfter = before - h.amountCents;
    }
    const vendId = timeOrderedUuid(ctx.clock.now());
    if (h.tokenId !== undefined && !claimToken(ctx, { tokenId: h.tokenId, expSec: h.tokenExpiresAt ?? 0, vendId })) {
      return decline('replayed', null);
    }
    if (h.accountId !== undefined) ensureAccount(ctx, h.accountId);
    const fact = recordFact(ctx, {
      type: 'vend.hold',
      money: true,
      audit: {
        kind: 'hold', result: 'accepted', method: h.method, amountCents: h.amountCents, accountId: h.accountId, cardMask,
        machineId: h.machineId, program: h.program, vendId,
        detail: { ...h.detail, funding: h.funding, ruleSetVersion: h.ruleSetVersion, ruleId: h.ruleId, tokenId: h.tokenId ?? null, ...(h.points !== undefined ? { points: h.points } : {}), ...(h.sunCounter === undefined ? {} : { sunCounter: h.sunCounter }) },
      },
      payload: {
        vendId, method: h.method, funding: h.funding, machineId: h.machineId, program: h.program ?? null, amountCents: h.amountCents,
        accountId: h.accountId ?? null, cardMask, tokenId: h.tokenId ?? null, tokenAmountCents: h.tokenAmountCents ?? null,
        ruleSetVersion: h.ruleSetVersion, ruleId: h.ruleId, points: h.points ?? 0,
        // The cloud spots one counter of one card spent in two rooms (docs/secure-cards.md).
        ...(h.sunCounter === undefined ? {} : { sunCounter: h.sunCounter }),
      },
    });
    // The fact first, so the row goes in with its last_outbox_seq: inserted at 0 and updated
    // after, it put a key at each end of vends_unsynced_cost, one more page in the WAL per hold.
    // Nothing in the fact reads the row (the money chain binds it at commit).
    ctx.db
      .prepare(
        `INSERT INTO vends (vend_id, created_ms, created_mono_ms, boot_id, method, funding, machine_id, program, account_id, card_mask,
           amount_cents, token_id, token_amount_cents, rule_set_version, rule_id, state, machine_kind, last_outbox_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', ?, ?)`,
      )
      .run(
        vendId, Math.floor(ctx.clock.now()), Math.floor(ctx.clock.monotonic()), ctx.bootId, h.method, h.funding, h.machineId,
        h.program ?? null, h.accountId ?? null, cardMask, h.amountCents, h.tokenId ?? null, h.tokenAmountCents ?? null,
        h.ruleSetVersion, h.ruleId, h.machineKind ?? null, fact.outboxSeq,
      );
    if (h.funding === 'account' && h.accountId !== undefined) {
      addEntry(ctx, { accountId: h.accountId, kind: 'hold', amountCents: -h.amountCents, points: -(h.points ?? 0), vendId, outboxSeq: fact.outboxSeq });
    }
    return { ok: true, vendId, auditSeq: fact.audit.seq, balanceCents: balanceAfter };
  });
}

/** Points a vend paid with points holds (its hold entry took them). */
export function heldPoints(ctx: LedgerContext, vendId: string): number {
  const row = ctx.db.prepare("SELECT -SUM(points) AS p FROM entries WHERE vend_id = ? AND kind = 'hold'").get(vendId) as { p: number | null };
  return row.p ?? 0;
}

/** The state was read in this same transaction, so anything but one changed row is a bug: roll back. */
function expectOne(changes: number): void {
  if (changes !== 1) throw new Error('ledger: vend state changed under a write transaction');
}

function refuse(v: VendRecord | undefined, allowed: readonly VendState[]): StepResult | undefined {
  if (!v) return { ok: false, reason: 'not_found' };
  if (v.state === 'captured' || v.state === 'refunded') return { ok: false, reason: 'already_finished' };
  if (!allowed.includes(v.state)) return { ok: false, reason: v.state === 'held' ? 'not_sent' : 'already_sent' };
  return undefined;
}

/**
 * Written BEFORE the credit command goes out: the evidence (LW-485 seq, RIO-8 pulse counter
 * before the train) is what start-up reconciliation reads the device against after a crash.
 */
export function markCreditSent(ctx: LedgerContext, vendId: string, evidence: unknown): StepResult {
  const json = JSON.stringify(evidence);
  if (json === undefined) throw new Error('ledger: credit evidence is not JSON');
  return inTx(ctx.db, (): StepResult => {
    const v = getVend(ctx, vendId);
    const no = refuse(v, ['held']);
    if (no || !v) return no ?? { ok: false, reason: 'not_found' };
    const fact = recordFact(ctx, {
      type: 'vend.credit_sent',
      money: true,
      audit: { kind: 'credit_sent', result: 'sent', method: v.method, amountCents: v.amountCents, accountId: v.accountId, cardMask: v.cardMask, machineId: v.machineId, program: v.program, vendId, detail: JSON.parse(json) as unknown },
      payload: { vendId, evidence: JSON.parse(json) as unknown },
    });
    expectOne(
      ctx.db
        .prepare(`UPDATE vends SET state = 'credit_sent', credit_evidence = ?, credit_sent_ms = ?, last_outbox_seq = ? WHERE vend_id = ? AND state = 'held'`)
        .run(json, Math.floor(ctx.clock.now()), fact.outboxSeq, vendId).changes,
    );
    return { ok: true, auditSeq: fact.audit.seq };
  });
}

/**
 * Captures the vend. `also` (a setting the vend changed) goes into the same transaction: one
 * fsync'd commit less per vend on the SD card. It cannot undo the capture: written in a
 * savepoint, a refusal or failure of it is logged and leaves the capture to commit alone
 * (alsoStored false), unless SQLite rolled the whole transaction back, which then throws.
 */
export function capture<T>(ctx: LedgerContext, vendId: string, input: CaptureInput = {}, also?: SettingWrite<T>): StepResult {
  const c = captureSchema.parse(input);
  return inTx(ctx.db, (): StepResult => {
    const v = getVend(ctx, vendId);
    const no = refuse(v, ['credit_sent']);
    if (no || !v) return no ?? { ok: false, reason: 'not_found' };
    const captured = c.amountCents ?? v.amountCents;
    if (captured > v.amountCents) return { ok: false, reason: 'over_hold' };
    const fact = recordFact(ctx, {
      type: 'vend.capture',
      money: true,
      audit: { kind: 'capture', result: 'captured', method: v.method, amountCents: captured, accountId: v.accountId, cardMask: v.cardMask, machineId: v.machineId, program: v.program, vendId, detail: c.detail },
      payload: { vendId, capturedCents: captured, heldCents: v.amountCents, points: c.points ?? 0 },
    });
    expectOne(
      ctx.db
        .prepare(`UPDATE vends SET state = 'captured', captured_cents = ?, finished_ms = ?, last_outbox_seq = ? WHERE vend_id = ? AND state = 'credit_sent'`)
        .run(captured, Math.floor(ctx.clock.now()), fact.outboxSeq, vendId).changes,
    );
    if (v.funding === 'account' && v.accountId !== null) {
      // The hold took the full amount; the capture gives back what was not spent.
      addEntry(ctx, { accountId: v.accountId, kind: 'capture', amountCents: v.amountCents - captured, points: c.points ?? 0, vendId, outboxSeq: fact.outboxSeq });
    } else if (c.points !== undefined && c.points !== 0 && v.accountId !== null) {
      addEntry(ctx, { accountId: v.accountId, kind: 'points', amountCents: 0, points: c.points, vendId, outboxSeq: fact.outboxSeq });
    }
    if (c.command) recordCommand(ctx, c.command);
    if (also === undefined) return { ok: true, auditSeq: fact.audit.seq };
    return { ok: true, auditSeq: fact.audit.seq, alsoStored: writeSettingAlong(ctx, also) };
  });
}

export function refund(ctx: LedgerContext, vendId: string, input: RefundInput): StepResult {
  const r = refundSchema.parse(input);
  return inTx(ctx.db, (): StepResult => {
    const v = getVend(ctx, vendId);
    const no = refuse(v, ['held', 'credit_sent']);
    if (no || !v) return no ?? { ok: false, reason: 'not_found' };
    const refunded = r.amountCents ?? v.amountCents;
    if (refunded > v.amountCents) return { ok: false, reason: 'over_hold' };
    const fact = recordFact(ctx, {
      type: 'vend.refund',
      money: true,
      audit: { kind: 'refund', result: 'refunded', reason: r.reason, method: v.method, amountCents: refunded, accountId: v.accountId, cardMask: v.cardMask, machineId: v.machineId, program: v.program, vendId, detail: r.detail },
      payload: { vendId, refundedCents: refunded, heldCents: v.amountCents, reason: r.reason, funding: v.funding },
    });
    expectOne(
      ctx.db
        .prepare(`UPDATE vends SET state = 'refunded', refunded_cents = ?, finish_reason = ?, finished_ms = ?, last_outbox_seq = ? WHERE vend_id = ? AND state IN ('held', 'credit_sent')`)
        .run(refunded, r.reason, Math.floor(ctx.clock.now()), fact.outboxSeq, vendId).changes,
    );
    if (v.funding === 'account' && v.accountId !== null) {
      // A vend paid with points gets its points back, all of them (a refund is before any cycle).
      addEntry(ctx, { accountId: v.accountId, kind: 'refund', amountCents: refunded, points: heldPoints(ctx, vendId), vendId, outboxSeq: fact.outboxSeq });
    }
    if (r.command) recordCommand(ctx, r.command);
    return { ok: true, auditSeq: fact.audit.seq };
  });
}

export const capturedRefundSchema = z.strictObject({
  reason: z.string().min(1).max(64),
  amountCents: z.number().int().nonnegative(),
  /** Points back, for a vend paid with points (never more in total than its hold took). */
  points: z.number().int().positive().optional(),
  /** Once per vend and key (an app cancel's command id); default: the reason (one fault refund, one operator refund). */
  key: z.string().min(1).max(96).optional(),
  detail: detailSchema.optional(),
}).refine((r) => r.amountCents > 0 || r.points !== undefined, { message: 'a refund gives back cents or points' });
export type CapturedRefundInput = z.input<typeof capturedRefundSchema>;
export type CapturedRefundResult =
  | { ok: true; auditSeq: number; refundedCents: number }
  | { ok: false; reason: 'not_found' | 'not_captured' | 'already_refunded' | 'over_capture' };

/**
 * Gives back part of what a captured vend cost (a fault cut the paid cycle short, the app
 * cancelled it, an operator gave money back). One transaction with its audit record
 * ('fault_refund'), outbox record and balance entry. A vend may get several (an operator's part,
 * then a cancel of the rest), once per key, never more in total than was captured. The vend
 * itself stays captured and frozen.
 */
export function refundCaptured(ctx: LedgerContext, vendId: string, input: CapturedRefundInput): CapturedRefundResult {
  const r = capturedRefundSchema.parse(input);
  const key = r.key ?? r.reason;
  return inTx(ctx.db, (): CapturedRefundResult => {
    const v = getVend(ctx, vendId);
    if (!v) return { ok: false, reason: 'not_found' };
    if (v.state !== 'captured') return { ok: false, reason: 'not_captured' };
    if (ctx.db.prepare('SELECT 1 FROM vend_adjustments WHERE vend_id = ? AND refund_key = ?').get(vendId, key) !== undefined) return { ok: false, reason: 'already_refunded' };
    if (r.amountCents + (capturedRefundOf(ctx, vendId) ?? 0) > (v.capturedCents ?? 0)) return { ok: false, reason: 'over_capture' };
    const pts = capturedPointsOf(ctx, vendId);
    if ((r.points ?? 0) + pts.refundedPoints > pts.points) return { ok: false, reason: 'over_capture' };
    const fact = recordFact(ctx, {
      type: 'vend.fault_refund',
      money: true,
      audit: { kind: 'fault_refund', result: 'refunded', reason: r.reason, method: v.method, amountCents: r.amountCents, accountId: v.accountId, cardMask: v.cardMask, machineId: v.machineId, program: v.program, vendId, detail: { ...r.detail, ...(r.points !== undefined ? { points: r.points } : {}) } },
      payload: { vendId, refundedCents: r.amountCents, capturedCents: v.capturedCents, reason: r.reason, funding: v.funding, ...(r.points !== undefined ? { refundedPoints: r.points } : {}) },
    });
    ctx.db
      .prepare('INSERT INTO vend_adjustments (vend_id, refund_key, amount_cents, points, reason, created_ms, outbox_seq) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(vendId, key, r.amountCents, r.points ?? 0, r.reason, Math.floor(ctx.clock.now()), fact.outboxSeq);
    if (v.funding === 'account' && v.accountId !== null) {
      addEntry(ctx, { accountId: v.accountId, kind: 'refund', amountCents: r.amountCents, points: r.points ?? 0, vendId, outboxSeq: fact.outboxSeq });
    }
    return { ok: true, auditSeq: fact.audit.seq, refundedCents: r.amountCents };
  });
}

/** Cents given back on a captured vend by refundCaptured, all keys together, or null when none was. */
export function capturedRefundOf(ctx: LedgerContext, vendId: string): number | null {
  const row = ctx.db.prepare('SELECT SUM(amount_cents) AS c FROM vend_adjustments WHERE vend_id = ?').get(vendId) as { c: number | null };
  return row.c;
}

/** Points a captured vend was paid with (its hold took them) and how many of them refunds gave back. */
export function capturedPointsOf(ctx: LedgerContext, vendId: string): { points: number; refundedPoints: number } {
  const row = ctx.db.prepare('SELECT IFNULL(SUM(points), 0) AS p FROM vend_adjustments WHERE vend_id = ?').get(vendId) as { p: number };
  return { points: heldPoints(ctx, vendId), refundedPoints: row.p };
}

/** Vends held or credited but not finished: start-up reconciliation reads each device for them. */
export function unfinishedVends(ctx: LedgerContext): VendRecord[] {
  const rows = ctx.db.prepare(`SELECT ${VEND_COLUMNS} FROM vends WHERE state IN ('held', 'credit_sent') ORDER BY rowid`).all() as VendRecord[];
  return rows.map(toVend);
}

export { unsyncedExposure, unsyncedExposurePlan, unsyncedExposureScan } from './exposure.js';

export function recentVends(ctx: LedgerContext, n: number): VendRecord[] {
  const limit = z.number().int().positive().max(10000).parse(n);
  const rows = ctx.db.prepare(`SELECT ${VEND_COLUMNS} FROM vends ORDER BY rowid DESC LIMIT ?`).all(limit) as VendRecord[];
  return rows.map(toVend);
}
