// Accounts: the cloud's last snapshot plus the local append-only entries it does not yet cover.
// A balance is always derived, never stored: nothing can drift between a number and its history.
import { z } from 'zod';
import { inTx, META, getMetaInt, type LedgerContext } from './context.js';
import { bindAccount, bindEntry } from './money-chain.js';
import { recordFact } from './outbox.js';

export const accountIdSchema = z.string().min(1).max(128);

export const accountSnapshotSchema = z.object({
  accountId: accountIdSchema,
  /** The cloud's account version: strictly increasing, bumped at least by every top-up it books. */
  version: z.number().int().positive(),
  balanceCents: z.number().int(),
  points: z.number().int(),
  tier: z.string().max(64),
  /**
   * The highest outbox seq of THIS gateway whose records the balance includes (the cloud's
   * stored watermark for this gateway when it built the snapshot). Required: guessing it (the
   * acked watermark) counted a top-up applied while acks were held twice.
   */
  coveredSeq: z.number().int().nonnegative(),
  /**
   * When the membership (a tenant's lease) began, wall ms: tenure discounts count from it. A
   * snapshot is the cloud's whole view of the account, so one without it clears it (unknown).
   */
  memberSinceMs: z.number().int().nonnegative().optional(),
});
export type AccountSnapshot = z.infer<typeof accountSnapshotSchema>;

export const topUpSchema = z.object({
  cloudId: z.string().min(1).max(128),
  accountId: accountIdSchema,
  amountCents: z.number().int().positive(),
  /** The account version the cloud booked it at: a snapshot at or past it includes it. Required. */
  accountVersion: z.number().int().positive(),
});
export type TopUp = z.infer<typeof topUpSchema>;

/** Why a snapshot or a top-up was not applied; the downlink reports it on up/reject. */
export type NotApplied = { applied: false; reason: 'replayed' | 'old_version' | 'coverage_back' | 'beyond_outbox'; detail: string };
export type ApplyResult = { applied: true } | NotApplied;

export type EntryKind = 'hold' | 'capture' | 'refund' | 'topup' | 'points';

export interface AccountBalance {
  accountId: string;
  balanceCents: number;
  points: number;
  tier: string;
  snapshotVersion: number;
  /** Local entries not yet covered by the snapshot. */
  pendingEntries: number;
}

/** Accounts come into being when first referenced (card list, hold, top-up) with no snapshot. */
export function ensureAccount(ctx: LedgerContext, accountId: string): void {
  ctx.db
    .prepare(
      `INSERT INTO accounts (account_id, version, balance_cents, points, tier, covered_seq, snapshot_ms)
       VALUES (?, 0, 0, 0, '', 0, 0) ON CONFLICT(account_id) DO NOTHING`,
    )
    .run(accountId);
}

export function addEntry(
  ctx: LedgerContext,
  e: { accountId: string; kind: EntryKind; amountCents: number; points?: number; vendId?: string | null; cloudId?: string | null; accountVersion?: number | null; outboxSeq: number },
): void {
  const r = ctx.db
    .prepare(
      `INSERT INTO entries (account_id, kind, amount_cents, points, vend_id, cloud_id, account_version, outbox_seq, created_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(e.accountId, e.kind, e.amountCents, e.points ?? 0, e.vendId ?? null, e.cloudId ?? null, e.accountVersion ?? null, e.outboxSeq, Math.floor(ctx.clock.now()));
  // Bound into the money chain at the end of this transaction (money-chain.ts).
  bindEntry(ctx, Number(r.lastInsertRowid), e.outboxSeq);
}

export function balance(ctx: LedgerContext, accountId: string): AccountBalance | undefined {
  const row = ctx.db
    .prepare(
      `SELECT a.account_id AS accountId, a.tier AS tier, a.version AS snapshotVersion,
              a.balance_cents + COALESCE(SUM(e.amount_cents), 0) AS balanceCents,
              a.points + COALESCE(SUM(e.points), 0) AS points,
              COUNT(e.entry_id) AS pendingEntries
         FROM accounts a
         LEFT JOIN entries e ON e.account_id = a.account_id
              AND CASE WHEN e.account_version IS NULL THEN e.outbox_seq > a.covered_seq
                       ELSE e.account_version > a.version END
        WHERE a.account_id = ?
        GROUP BY a.account_id`,
    )
    .get(accountId) as AccountBalance | undefined;
  return row;
}

/**
 * Applies a snapshot when its version is newer and its coverage exact: coveredSeq may not go
 * below what an earlier snapshot covered (those entries would count twice) nor above the
 * outbox's last seq (records not yet written would be taken as included and dropped).
 */
export function applyAccountSnapshot(ctx: LedgerContext, input: AccountSnapshot): ApplyResult {
  const s = accountSnapshotSchema.parse(input);
  return inTx(ctx.db, (): ApplyResult => {
    ensureAccount(ctx, s.accountId);
    const cur = ctx.db.prepare('SELECT version, covered_seq AS coveredSeq FROM accounts WHERE account_id = ?').get(s.accountId) as { version: number; coveredSeq: number };
    const who = `account ${s.accountId}`;
    if (s.version === cur.version) return { applied: false, reason: 'replayed', detail: `${who}: snapshot version ${s.version} is already applied` };
    if (s.version < cur.version) return { applied: false, reason: 'old_version', detail: `${who}: snapshot version ${s.version} is older than ${cur.version}` };
    if (s.coveredSeq < cur.coveredSeq) return { applied: false, reason: 'coverage_back', detail: `${who}: coveredSeq ${s.coveredSeq} is below the ${cur.coveredSeq} of version ${cur.version}` };
    const last = getMetaInt(ctx.db, META.outboxLastSeq);
    if (s.coveredSeq > last) return { applied: false, reason: 'beyond_outbox', detail: `${who}: coveredSeq ${s.coveredSeq} is beyond this gateway's last seq ${last}` };
    ctx.db
      .prepare(
        `UPDATE accounts SET version = ?, balance_cents = ?, points = ?, tier = ?, covered_seq = ?, snapshot_ms = ?, member_since_ms = ?
          WHERE account_id = ?`,
      )
      .run(s.version, s.balanceCents, s.points, s.tier, s.coveredSeq, Math.floor(ctx.clock.now()), s.memberSinceMs ?? null, s.accountId);
    bindAccount(ctx, s.accountId);
    return { applied: true };
  });
}

/**
 * Idempotent by cloudId: a re-delivered top-up credits once. Its id is spent by its entry; once
 * a snapshot includes it (accountVersion at or below the snapshot's version) a delivery is
 * refused by version, so retention may drop the entry and the spent ids stay bounded.
 */
export function applyTopUp(ctx: LedgerContext, input: TopUp): ApplyResult {
  const t = topUpSchema.parse(input);
  return inTx(ctx.db, (): ApplyResult => {
    const seen = ctx.db.prepare('SELECT account_id FROM entries WHERE cloud_id = ?').get(t.cloudId) as { account_id: string } | undefined;
    if (seen) {
      if (seen.account_id !== t.accountId) ctx.logger.warn({ cloudId: t.cloudId }, 'top-up re-delivered for a different account; ignored');
      return { applied: false, reason: 'replayed', detail: `top-up ${t.cloudId} is already applied` };
    }
    ensureAccount(ctx, t.accountId);
    const version = (ctx.db.prepare('SELECT version FROM accounts WHERE account_id = ?').get(t.accountId) as { version: number }).version;
    if (t.accountVersion <= version) return { applied: false, reason: 'old_version', detail: `top-up ${t.cloudId}: account version ${t.accountVersion} is included in snapshot version ${version}` };
    const fact = recordFact(ctx, {
      type: 'account.topup',
      money: true,
      audit: { kind: 'topup', result: 'applied', amountCents: t.amountCents, accountId: t.accountId, detail: { cloudId: t.cloudId, accountVersion: t.accountVersion } },
      payload: { cloudId: t.cloudId, accountId: t.accountId, amountCents: t.amountCents, accountVersion: t.accountVersion },
    });
    addEntry(ctx, {
      accountId: t.accountId,
      kind: 'topup',
      amountCents: t.amountCents,
      cloudId: t.cloudId,
      accountVersion: t.accountVersion,
      outboxSeq: fact.outboxSeq,
    });
    return { applied: true };
  });
}

/** What a whole downlink message did: applied whole, or the first item that stopped it (and nothing applied). */
export type MessageResult = { applied: true; count: number } | (NotApplied & { ref: string });

class NotAppliedError extends Error {
  constructor(readonly result: NotApplied & { ref: string }) {
    super(result.detail);
  }
}

/** All or nothing, in one transaction: a message that is refused changes nothing. */
function applyAll<T>(ctx: LedgerContext, items: readonly T[], one: (t: T) => ApplyResult, ref: (t: T) => string): MessageResult {
  try {
    return inTx(ctx.db, (): MessageResult => {
      for (const t of items) {
        const r = one(t);
        if (!r.applied) throw new NotAppliedError({ ...r, ref: ref(t) });
      }
      return { applied: true, count: items.length };
    });
  } catch (e) {
    if (e instanceof NotAppliedError) return e.result;
    throw e;
  }
}

export function applyAccountSnapshots(ctx: LedgerContext, list: readonly AccountSnapshot[]): MessageResult {
  return applyAll(ctx, list, (s) => applyAccountSnapshot(ctx, s), (s) => s.accountId);
}

export function applyTopUps(ctx: LedgerContext, list: readonly TopUp[]): MessageResult {
  return applyAll(ctx, list, (t) => applyTopUp(ctx, t), (t) => t.cloudId);
}
