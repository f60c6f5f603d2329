// What an account has used, for pricing: washes this month (included washes), vends ever (every
// Nth free) and when its membership began (tenure). Counted from the vends themselves, so a
// refund un-counts a vend without any counter to keep in step.
import { z } from 'zod';
import type { LedgerContext } from './context.js';

export interface AccountUsage {
  /** Captured washer vends created at or after monthStartMs. */
  washesThisMonth: number;
  /** Captured vends of every kind, ever; those retention pruned are kept as a tally (migration 6). */
  lifetimeVends: number;
  /** The same by machine kind; vends from before migration 5 have no kind and are in neither. */
  lifetimeByKind: { washer: number; dryer: number };
  /** From the cloud's snapshot; null when it never said. */
  memberSinceMs: number | null;
}

const USAGE_SQL = `SELECT COUNT(*) AS lifetimeVends,
        COALESCE(SUM(v.machine_kind = 'washer'), 0) AS washer,
        COALESCE(SUM(v.machine_kind = 'dryer'), 0) AS dryer,
        COALESCE(SUM(v.machine_kind = 'washer' AND v.created_ms >= ?), 0) AS washesThisMonth
   FROM vends v
  WHERE v.account_id = ? AND v.state = 'captured'
    AND NOT EXISTS (SELECT 1 FROM vend_adjustments a WHERE a.vend_id = v.vend_id)`;

const optsSchema = z.object({ monthStartMs: z.number().int() });

/**
 * A vend counts when it is captured and carries this account id (card vends, and QR vends whose
 * token named the account). Refunded vends do not count, nor captured ones a machine fault cut
 * short (refundCaptured gave money back): the customer did not get the wash they paid for.
 * The month is by the vend's created_ms (when it was bought), against the caller's local month;
 * only vends still in the file count there, so pruning inside the month (retentionDays under
 * about 32) would lower it.
 */
export function accountUsage(ctx: LedgerContext, accountId: string, opts: { monthStartMs: number }): AccountUsage {
  const { monthStartMs } = optsSchema.parse(opts);
  // Served by vends_account_usage (migration 5): only this account's captured rows are read.
  const row = ctx.db.prepare(USAGE_SQL).get(monthStartMs, accountId) as { lifetimeVends: number; washer: number; dryer: number; washesThisMonth: number };
  const pruned = ctx.db
    .prepare(`SELECT machine_kind AS kind, vends FROM account_usage_pruned WHERE account_id = ?`)
    .all(accountId) as Array<{ kind: string; vends: number }>;
  const prunedOf = (kind: string): number => pruned.find((p) => p.kind === kind)?.vends ?? 0;
  const acct = ctx.db.prepare('SELECT member_since_ms AS m FROM accounts WHERE account_id = ?').get(accountId) as { m: number | null } | undefined;
  return {
    washesThisMonth: row.washesThisMonth,
    lifetimeVends: row.lifetimeVends + pruned.reduce((n, p) => n + p.vends, 0),
    lifetimeByKind: { washer: row.washer + prunedOf('washer'), dryer: row.dryer + prunedOf('dryer') },
    memberSinceMs: acct?.m ?? null,
  };
}

/** The plan SQLite picks for accountUsage, for a test that it stays on the index. */
export function accountUsagePlan(ctx: LedgerContext): string[] {
  const rows = ctx.db.prepare(`EXPLAIN QUERY PLAN ${USAGE_SQL}`).all(0, 'x') as Array<{ detail: string }>;
  return rows.map((r) => r.detail);
}
