// Money authorized offline that the cloud has not acknowledged yet, for the risk rules' caps
// (read on every swipe): the running tally of migration 9, the sum it replaces (for the
// self-check and tests), and what an ack takes out of the tally.
import { META, getMetaInt, type LedgerContext } from './context.js';
import type { Db } from './db.js';

const UNSYNCED_EXPOSURE_SQL = `SELECT COALESCE(SUM(CASE WHEN account_id = ? THEN cost END), 0) AS accountCents, COALESCE(SUM(cost), 0) AS roomCents
         FROM (SELECT account_id,
                 CASE state WHEN 'captured' THEN captured_cents WHEN 'refunded' THEN amount_cents - refunded_cents ELSE amount_cents END AS cost
                 FROM vends WHERE funding = 'account' AND last_outbox_seq > ?)`;

/**
 * Money authorized offline that the cloud has not acknowledged yet: account-funded vends with a
 * record past the ack watermark, at what they cost (held amount while unfinished, captured
 * amount, or held minus refunded). For the risk rules' per-account and per-room caps.
 */
export function unsyncedExposure(ctx: LedgerContext, accountId: string | null): { accountCents: number; roomCents: number } {
  // The running tally of migration 9: one row per account, so this costs the same after a week
  // offline as on an empty ledger. A vend without an account is in the room's sum only.
  const account = accountId === null ? undefined : (ctx.db.prepare('SELECT cents FROM unsynced_exposure WHERE account_id = ?').get(accountId) as { cents: number } | undefined);
  const room = ctx.db.prepare('SELECT IFNULL(SUM(cents), 0) AS cents FROM unsynced_exposure').get() as { cents: number };
  return { accountCents: account?.cents ?? 0, roomCents: room.cents };
}

/**
 * Refunds of captured vends (vend_adjustments) on unsynced account vends, per account: what they
 * take off those vends' cost (migration 10). Read from the adjustments side: faults are rare.
 */
const UNSYNCED_ADJUSTMENTS_SQL = `SELECT IFNULL(v.account_id, '') AS account, SUM(a.amount_cents) AS cents
   FROM vend_adjustments a JOIN vends v ON v.vend_id = a.vend_id
  WHERE v.funding = 'account' AND v.last_outbox_seq > ? GROUP BY 1`;

export function unsyncedAdjustments(db: Db, acked: number): Map<string, number> {
  return new Map((db.prepare(UNSYNCED_ADJUSTMENTS_SQL).all(acked) as Array<{ account: string; cents: number }>).map((r) => [r.account, r.cents]));
}

/** The same figures summed from the vends themselves: the self-check holds the tally to it. */
export function unsyncedExposureScan(ctx: LedgerContext, accountId: string | null): { accountCents: number; roomCents: number } {
  const acked = getMetaInt(ctx.db, META.outboxAckedSeq);
  const gross = ctx.db.prepare(UNSYNCED_EXPOSURE_SQL).get(accountId, acked) as { accountCents: number; roomCents: number };
  const adj = unsyncedAdjustments(ctx.db, acked);
  const all = [...adj.values()].reduce((n, c) => n + c, 0);
  return { accountCents: gross.accountCents - (accountId === null ? 0 : (adj.get(accountId) ?? 0)), roomCents: gross.roomCents - all };
}

/** Vends the ack watermark moves past (prevAcked, acked], per account: what leaves the tally. */
export function exposureLeaving(ctx: LedgerContext, prevAcked: number, acked: number): void {
  const rows = ctx.db
    .prepare(
      `SELECT IFNULL(account_id, '') AS account, SUM(CASE state WHEN 'captured' THEN captured_cents WHEN 'refunded' THEN amount_cents - refunded_cents ELSE amount_cents END) AS cents
         FROM vends WHERE funding = 'account' AND last_outbox_seq > ? AND last_outbox_seq <= ? GROUP BY 1`,
    )
    .all(prevAcked, acked) as Array<{ account: string; cents: number }>;
  // Their refunds of captured vends left the tally when they were written (migration 10).
  const adjusted = ctx.db
    .prepare(
      `SELECT IFNULL(v.account_id, '') AS account, SUM(a.amount_cents) AS cents FROM vend_adjustments a JOIN vends v ON v.vend_id = a.vend_id
        WHERE v.funding = 'account' AND v.last_outbox_seq > ? AND v.last_outbox_seq <= ? GROUP BY 1`,
    )
    .all(prevAcked, acked) as Array<{ account: string; cents: number }>;
  for (const a of adjusted) {
    const r = rows.find((x) => x.account === a.account);
    if (r) r.cents -= a.cents;
  }
  const take = ctx.db.prepare('UPDATE unsynced_exposure SET cents = cents - ? WHERE account_id = ?');
  for (const r of rows) take.run(r.cents, r.account);
  // Accounts with nothing unsynced left: keep the table as small as the accounts in play.
  ctx.db.prepare('DELETE FROM unsynced_exposure WHERE cents = 0').run();
}

/** The plan SQLite picks for unsyncedExposure (read on every swipe): a test keeps it index-only. */
export function unsyncedExposurePlan(ctx: LedgerContext): string[] {
  const rows = ctx.db.prepare(`EXPLAIN QUERY PLAN ${UNSYNCED_EXPOSURE_SQL}`).all('x', 0) as Array<{ detail: string }>;
  return rows.map((r) => r.detail);
}

