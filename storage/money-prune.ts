// Retention for the money chain (called by retention.ts, in its transaction): the longest prefix
// of links that the cloud acknowledged (a kept acknowledged money head at or past it, their
// outbox records acked) and older than the cut-off goes, and the replay starts from an anchor
// (the last removed link's seq and hash). The rows those links were the last to bind still exist,
// so one link appended first carries them forward, as the chain says they are (not as the tables
// say: an edit made before the pruning is not laundered). A chain that does not replay cleanly is
// left whole, for `audit verify` to show.
import { META, getMetaInt, setMeta, type LedgerContext } from './context.js';
import { appendMoneyLink, moneyAnchor, type LinkDetail } from './money-chain.js';
import { Problems, replay, type Fixed } from './money-verify.js';

function lastBoundAtOrBelow<T>(m: Map<unknown, Fixed<T>>, k: number): T[] {
  const out: T[] = [];
  for (const f of m.values()) if (f.link <= k) out.push(f.row);
  return out;
}

/** Returns the number of links removed. */
export function pruneMoneyChain(ctx: LedgerContext, ackedSeq: number, beforeMs: number): number {
  const db = ctx.db;
  const anchor = moneyAnchor(db, ctx.gatewayId);
  const head = getMetaInt(db, META.moneyHeadSeq);
  const firstKept = db.prepare('SELECT MIN(seq) AS seq FROM money_chain WHERE outbox_seq > ? OR wall_ms >= ?').get(ackedSeq, beforeMs) as { seq: number | null };
  const k = Math.min(head, getMetaInt(db, META.moneyAckedSeq), firstKept.seq === null ? head : firstKept.seq - 1);
  if (k <= anchor.seq) return 0;
  const problems = new Problems();
  const { expected } = replay(db, ctx.gatewayId, problems);
  if (problems.list.length > 0 || getMetaInt(db, META.moneyChainPending) !== 0) {
    ctx.logger.error({ problems: problems.list.slice(0, 3) }, 'the money chain does not replay cleanly: kept whole for audit verify');
    return 0;
  }
  const carry: LinkDetail = {};
  const e = lastBoundAtOrBelow(expected.entries, k);
  const v = lastBoundAtOrBelow(expected.vends, k);
  const j = lastBoundAtOrBelow(expected.adjustments, k);
  const a = lastBoundAtOrBelow(expected.accounts, k);
  if (e.length > 0) carry.e = e;
  if (v.length > 0) carry.v = v;
  if (j.length > 0) carry.j = j;
  if (a.length > 0) carry.a = a;
  const kept = db.prepare('SELECT hash FROM money_chain WHERE seq = ?').get(k) as { hash: string } | undefined;
  if (kept === undefined) throw new Error(`ledger: money link ${k} missing, cannot anchor there`);
  if (Object.keys(carry).length > 0) appendMoneyLink(ctx, carry, getMetaInt(db, META.outboxLastSeq) + 1);
  setMeta(db, META.moneyAnchorSeq, String(k));
  setMeta(db, META.moneyAnchorHash, kept.hash);
  return db.prepare('DELETE FROM money_chain WHERE seq <= ?').run(k).changes;
}
