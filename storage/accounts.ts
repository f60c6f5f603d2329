// Accounts: the cloud's last snapshot plus the local append-only entries it does not yet cover.
// A balance is always derived, never stored: nothing can drift between a number and its history.
import { z } from 'zod';
import { inTx, META, getMetaInt, type LedgerContext } from './context.js';
import { recordFact } from './outbox.js';

export const accountIdSchema = z.string().min(1).max(128);

export const accountSnapshotSchema = z.object({
  accountId: accountIdSchema,
  version: z.number().int().positive(),
  balanceCents: z.number().int(),
  points: z.number().int(),
  tier: z.string().max(64),
  /**
   * The highest outbox seq of THIS gateway whose effects the snapshot already includes.
   * Omitted: the acked watermark at the time of applying (the cloud has stored those records).
   */
  coveredSeq: z.number().int().nonnegative().optional(),
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
  /** The account version at which the cloud booked it: a snapshot at or past it includes it. */
  accountVersion: z.number().int().positive().optional(),
});
export type TopUp = z.infer<typeof topUpSchema>;

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
  ctx.db
    .prepare(
      `INSERT INTO entries (account_id, kind, amount_cents, points, vend_id, cloud_id, account_version, outbox_seq, created_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(e.accountId, e.kind, e.amountCents, e.points ?? 0, e.vendId ?? null, e.cloudId ?? null, e.accountVersion ?? null, e.outboxSeq, Math.floor(ctx.clock.now()));
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
              AND e.outbox_seq > a.covered_seq
              AND (e.account_version IS NULL OR e.account_version > a.version)
        WHERE a.account_id = ?
        GROUP BY a.account_id`,
    )
    .get(accountId) as AccountBalance | undefined;
  return row;
}

export function applyAccountSnapshot(ctx: LedgerContext, input: AccountSnapshot): { applied: boolean } {
  const s = accountSnapshotSchema.parse(input);
  return inTx(ctx.db, () => {
    ensureAccount(ctx, s.accountId);
    // Coverage never goes back: the cloud cannot un-process a record (and retention relies on it).
    const covered = s.coveredSeq ?? getMetaInt(ctx.db, META.outboxAckedSeq);
    const changes = ctx.db
      .prepare(
        `UPDATE accounts SET version = ?, balance_cents = ?, points = ?, tier = ?, covered_seq = MAX(covered_seq, ?), snapshot_ms = ?, member_since_ms = ?
          WHERE account_id = ? AND version < ?`,
      )
      .run(s.version, s.balanceCents, s.points, s.tier, covered, Math.floor(ctx.clock.now()), s.memberSinceMs ?? null, s.accountId, s.version).changes;
    return { applied: changes === 1 };
  });
}

/** Idempotent by cloudId: a re-delivered top-up credits once. */
export function applyTopUp(ctx: LedgerContext, input: TopUp): { applied: boolean } {
  const t = topUpSchema.parse(input);
  return inTx(ctx.db, () => {
    const seen = ctx.db.prepare('SELECT account_id FROM entries WHERE cloud_id = ?').get(t.cloudId) as { account_id: string } | undefined;
    if (seen) {
      if (seen.account_id !== t.accountId) ctx.logger.warn({ cloudId: t.cloudId }, 'top-up re-delivered for a different account; ignored');
      return { applied: false };
    }
    ensureAccount(ctx, t.accountId);
    const fact = recordFact(ctx, {
      type: 'account.topup',
      money: true,
      audit: { kind: 'topup', result: 'applied', amountCents: t.amountCents, accountId: t.accountId, detail: { cloudId: t.cloudId } },
      payload: { cloudId: t.cloudId, accountId: t.accountId, amountCents: t.amountCents },
    });
    addEntry(ctx, {
      accountId: t.accountId,
      kind: 'topup',
      amountCents: t.amountCents,
      cloudId: t.cloudId,
      accountVersion: t.accountVersion ?? null,
      outboxSeq: fact.outboxSeq,
    });
    return { applied: true };
  });
}
