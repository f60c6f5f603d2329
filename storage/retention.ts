// Retention: removes history the cloud already holds, so years of vends fit on an SD card.
// Only what is settled goes: finished vends older than the cut-off whose every record the cloud
// acknowledged, whose balance entries its snapshot covers (so no derived balance changes) and
// whose QR token id has expired; top-up entries a snapshot includes (by account version) whose
// record the cloud acknowledged: a re-delivery of one is refused by version from then on, so
// only the top-ups no snapshot holds yet keep their id spent by an entry; then the acknowledged
// prefix of the audit trail, verified from then on from an anchor (the last removed record's seq
// and hash), and the acknowledged prefix of the money chain likewise. One transaction: a crash
// prunes all or nothing.
import { z } from 'zod';
import { auditHead } from './audit.js';
import { META, getMetaInt, inTx, setMeta, type LedgerContext } from './context.js';
import { appendMoneyLink } from './money-chain.js';
import { pruneMoneyChain } from './money-prune.js';

export interface PruneResult {
  vends: number;
  entries: number;
  auditRecords: number;
  anchorSeq: number;
}

function firstSeqOr(ctx: LedgerContext, sql: string, fallback: number, ...params: unknown[]): number {
  const row = ctx.db.prepare(sql).get(...params) as { seq: number | null };
  return row.seq === null ? fallback : row.seq - 1;
}

export function pruneHistory(ctx: LedgerContext, opts: { beforeMs: number }): PruneResult {
  const beforeMs = z.number().int().parse(opts.beforeMs);
  return inTx(ctx.db, () => {
    const acked = getMetaInt(ctx.db, META.outboxAckedSeq);
    setMeta(ctx.db, META.pruning, '1');
    const ids = (
      ctx.db
        .prepare(
          `SELECT v.vend_id AS id FROM vends v LEFT JOIN accounts a ON a.account_id = v.account_id
            WHERE v.state IN ('captured', 'refunded') AND v.finished_ms < ? AND v.last_outbox_seq <= ?
              AND (NOT EXISTS (SELECT 1 FROM entries e WHERE e.vend_id = v.vend_id) OR v.last_outbox_seq <= a.covered_seq)
              AND NOT EXISTS (SELECT 1 FROM used_tokens t WHERE t.vend_id = v.vend_id)`,
        )
        .all(beforeMs, acked) as Array<{ id: string }>
    ).map((r) => r.id);
    let entries = 0;
    // Same rule as accountUsage (usage.ts): captured, with an account, not cut short by a fault.
    const tally = ctx.db.prepare(
      `INSERT INTO account_usage_pruned (account_id, machine_kind, vends)
       SELECT v.account_id, COALESCE(v.machine_kind, ''), 1 FROM vends v
        WHERE v.vend_id = ? AND v.state = 'captured' AND v.account_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM vend_adjustments a WHERE a.vend_id = v.vend_id)
       ON CONFLICT (account_id, machine_kind) DO UPDATE SET vends = vends + excluded.vends`,
    );
    const delEntries = ctx.db.prepare('DELETE FROM entries WHERE vend_id = ? RETURNING entry_id');
    const delVend = ctx.db.prepare('DELETE FROM vends WHERE vend_id = ?');
    const removedEntries: number[] = [];
    for (const id of ids) {
      tally.run(id);
      for (const r of delEntries.raw().all(id) as Array<[number]>) removedEntries.push(r[0]);
      delVend.run(id);
    }
    // Inside the snapshot, so they count for nothing (accounts.ts balance); retention's age rule too.
    const topUps = ctx.db
      .prepare(
        `DELETE FROM entries WHERE kind = 'topup' AND account_version IS NOT NULL AND outbox_seq <= ? AND created_ms < ?
            AND account_version <= (SELECT a.version FROM accounts a WHERE a.account_id = entries.account_id) RETURNING entry_id`,
      )
      .raw()
      .all(acked, beforeMs) as Array<[number]>;
    for (const r of topUps) removedEntries.push(r[0]);
    entries = removedEntries.length;
    // The money chain says these rows left lawfully (money-verify.ts takes them out of what it expects).
    if (removedEntries.length > 0 || ids.length > 0) {
      appendMoneyLink(ctx, { ...(ids.length > 0 ? { dv: ids } : {}), ...(removedEntries.length > 0 ? { de: removedEntries } : {}) }, getMetaInt(ctx.db, META.outboxLastSeq) + 1);
    }

    // The longest prefix of the trail that is acknowledged, older than the cut-off and about
    // no vend still kept (so every kept vend keeps all its audit records).
    const head = auditHead(ctx).seq;
    const anchorBefore = getMetaInt(ctx.db, META.auditAnchorSeq);
    const k = Math.min(
      head,
      firstSeqOr(ctx, 'SELECT MIN(seq) AS seq FROM audit WHERE outbox_seq IS NULL OR outbox_seq > ?', head, acked),
      firstSeqOr(ctx, 'SELECT MIN(seq) AS seq FROM audit WHERE wall_ms >= ?', head, beforeMs),
      firstSeqOr(ctx, 'SELECT MIN(a.seq) AS seq FROM audit a JOIN vends v ON v.vend_id = a.vend_id', head),
    );
    let auditRecords = 0;
    if (k > anchorBefore) {
      const row = ctx.db.prepare('SELECT hash FROM audit WHERE seq = ?').get(k) as { hash: string } | undefined;
      if (!row) throw new Error(`ledger: audit record ${k} missing, cannot anchor there`);
      setMeta(ctx.db, META.auditAnchorSeq, String(k));
      setMeta(ctx.db, META.auditAnchorHash, row.hash);
      auditRecords = ctx.db.prepare('DELETE FROM audit WHERE seq <= ?').run(k).changes;
    }
    // The money chain's acknowledged prefix too, its kept rows carried forward (money-prune.ts).
    const moneyLinks = pruneMoneyChain(ctx, acked, beforeMs);
    if (moneyLinks > 0) ctx.logger.info({ moneyLinks }, 'money chain prefix pruned');
    ctx.db.prepare('DELETE FROM meta WHERE key = ?').run(META.pruning);
    const result = { vends: ids.length, entries, auditRecords, anchorSeq: Math.max(k, anchorBefore) };
    if (ids.length > 0 || auditRecords > 0) ctx.logger.info(result, 'ledger history pruned');
    return result;
  });
}
