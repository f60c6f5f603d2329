// Cross-table consistency check, cheap enough to run at every start-up after a crash: the
// outbox seq is gap-free, every vend's entries and audit records match its state exactly once.
import { META, getMetaInt } from './context.js';
import type { Db } from './db.js';
import { unsyncedAdjustments } from './exposure.js';

export interface SelfCheckResult {
  ok: boolean;
  problems: string[];
}

const MAX_PROBLEMS = 50;

function checkOutbox(db: Db, problems: string[]): void {
  const last = getMetaInt(db, META.outboxLastSeq);
  const acked = getMetaInt(db, META.outboxAckedSeq);
  if (acked > last) problems.push(`outbox: acked seq ${acked} is past the last seq ${last}`);
  const live = db.prepare('SELECT COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi FROM outbox').get() as { n: number; lo: number | null; hi: number | null };
  if (live.n > 0 && (live.lo ?? 0) <= acked) problems.push(`outbox: seq ${live.lo ?? 0} is at or below the acked seq ${acked}`);
  if ((live.hi ?? 0) > last) problems.push(`outbox: seq ${live.hi ?? 0} is past the last seq ${last}`);
  // Every seq after the ack watermark is either still queued or kept as a dead letter.
  const pending = db
    .prepare('SELECT COUNT(*) AS n FROM (SELECT seq FROM outbox WHERE seq > ? UNION SELECT seq FROM outbox_dead WHERE seq > ?)')
    .get(acked, acked) as { n: number };
  if (pending.n !== last - acked) problems.push(`outbox: ${last - acked - pending.n} seqs between ${acked + 1} and ${last} are missing`);
}

/** The running exposure tally (migration 9) against the sum over the vends it stands for. */
function checkExposure(db: Db, problems: string[]): void {
  const acked = getMetaInt(db, META.outboxAckedSeq);
  const summed = db
    .prepare(
      `SELECT IFNULL(account_id, '') AS account, SUM(CASE state WHEN 'captured' THEN captured_cents WHEN 'refunded' THEN amount_cents - refunded_cents ELSE amount_cents END) AS cents
         FROM vends WHERE funding = 'account' AND last_outbox_seq > ? GROUP BY 1`,
    )
    .all(acked) as Array<{ account: string; cents: number }>;
  // Refunds of captured vends take their part off (migration 10).
  for (const [account, cents] of unsyncedAdjustments(db, acked)) {
    const r = summed.find((x) => x.account === account);
    if (r) r.cents -= cents;
  }
  const tally = new Map((db.prepare('SELECT account_id AS account, cents FROM unsynced_exposure').all() as Array<{ account: string; cents: number }>).map((r) => [r.account, r.cents]));
  for (const r of summed) {
    if ((tally.get(r.account) ?? 0) !== r.cents) problems.push(`exposure: account ${r.account || '(none)'} tallies ${tally.get(r.account) ?? 0} cents unsynced, its vends sum to ${r.cents}`);
    tally.delete(r.account);
  }
  for (const [account, cents] of tally) if (cents !== 0) problems.push(`exposure: account ${account || '(none)'} tallies ${cents} cents unsynced with no unsynced vend`);
}

interface VendCheckRow {
  vend_id: string;
  funding: string;
  state: string;
  amount_cents: number;
  captured_cents: number | null;
  refunded_cents: number | null;
  hold_entries: number;
  hold_sum: number | null;
  capture_entries: number;
  capture_sum: number | null;
  refund_entries: number;
  refund_sum: number | null;
  hold_audits: number;
  capture_audits: number;
  refund_audits: number;
  adj_cents: number | null;
  adj_audits: number;
  adj_count: number;
}

function checkVends(db: Db, problems: string[]): void {
  const rows = db
    .prepare(
      `WITH e AS (
         SELECT vend_id,
           SUM(kind = 'hold') AS hold_entries, SUM(CASE WHEN kind = 'hold' THEN amount_cents END) AS hold_sum,
           SUM(kind = 'capture') AS capture_entries, SUM(CASE WHEN kind = 'capture' THEN amount_cents END) AS capture_sum,
           SUM(kind = 'refund') AS refund_entries, SUM(CASE WHEN kind = 'refund' THEN amount_cents END) AS refund_sum
         FROM entries WHERE vend_id IS NOT NULL GROUP BY vend_id),
       a AS (
         SELECT vend_id, SUM(kind = 'hold') AS hold_audits, SUM(kind = 'capture') AS capture_audits, SUM(kind = 'refund') AS refund_audits, SUM(kind = 'fault_refund') AS adj_audits
         FROM audit WHERE vend_id IS NOT NULL GROUP BY vend_id)
       SELECT v.vend_id, v.funding, v.state, v.amount_cents, v.captured_cents, v.refunded_cents,
         COALESCE(e.hold_entries, 0) AS hold_entries, e.hold_sum,
         COALESCE(e.capture_entries, 0) AS capture_entries, e.capture_sum,
         COALESCE(e.refund_entries, 0) AS refund_entries, e.refund_sum,
         COALESCE(a.hold_audits, 0) AS hold_audits, COALESCE(a.capture_audits, 0) AS capture_audits,
         COALESCE(a.refund_audits, 0) AS refund_audits, j.amount_cents AS adj_cents, COALESCE(a.adj_audits, 0) AS adj_audits, COALESCE(j.n, 0) AS adj_count
       FROM vends v LEFT JOIN e ON e.vend_id = v.vend_id LEFT JOIN a ON a.vend_id = v.vend_id
         LEFT JOIN (SELECT vend_id, SUM(amount_cents) AS amount_cents, COUNT(*) AS n FROM vend_adjustments GROUP BY vend_id) j ON j.vend_id = v.vend_id`,
    )
    .iterate() as IterableIterator<VendCheckRow>;
  for (const v of rows) {
    if (problems.length >= MAX_PROBLEMS) return;
    const id = v.vend_id;
    const captured = v.state === 'captured' ? 1 : 0;
    const refunded = v.state === 'refunded' ? 1 : 0;
    if (v.hold_audits !== 1) problems.push(`vend ${id}: ${v.hold_audits} hold audit records`);
    if (v.capture_audits !== captured) problems.push(`vend ${id}: ${v.capture_audits} capture audit records in state ${v.state}`);
    if (v.refund_audits !== refunded) problems.push(`vend ${id}: ${v.refund_audits} refund audit records in state ${v.state}`);
    if (captured && v.captured_cents === null) problems.push(`vend ${id}: captured without an amount`);
    if (refunded && v.refunded_cents === null) problems.push(`vend ${id}: refunded without an amount`);
    // Refunds of a captured vend (refundCaptured: fault, cancel, operator), once per key, never above the capture in total.
    const adjusted = v.adj_count;
    if (v.adj_audits !== adjusted) problems.push(`vend ${id}: ${v.adj_audits} fault refund audit records for ${adjusted} fault refunds`);
    if (adjusted && !captured) problems.push(`vend ${id}: fault refund on a vend in state ${v.state}`);
    if (adjusted && (v.adj_cents ?? 0) > (v.captured_cents ?? 0)) problems.push(`vend ${id}: fault refund above the captured amount`);
    if (v.funding !== 'account') {
      if (v.hold_entries + v.capture_entries + v.refund_entries !== 0) problems.push(`vend ${id}: ${v.funding}-funded vend has balance entries`);
      continue;
    }
    if (v.hold_entries !== 1 || v.hold_sum !== -v.amount_cents) problems.push(`vend ${id}: hold entries ${v.hold_entries} summing ${v.hold_sum ?? 0}, expected one of ${-v.amount_cents}`);
    if (v.capture_entries !== captured) problems.push(`vend ${id}: ${v.capture_entries} capture entries in state ${v.state}`);
    if (v.refund_entries !== refunded + adjusted) problems.push(`vend ${id}: ${v.refund_entries} refund entries in state ${v.state}`);
    if (captured && v.capture_sum !== v.amount_cents - (v.captured_cents ?? 0)) problems.push(`vend ${id}: capture entry does not give back the unspent hold`);
    if (refunded && v.refund_sum !== v.refunded_cents) problems.push(`vend ${id}: refund entry does not match the refunded amount`);
    if (adjusted && v.refund_sum !== v.adj_cents) problems.push(`vend ${id}: refund entry does not match the fault refund`);
  }
}

export function selfCheck(db: Db): SelfCheckResult {
  const problems: string[] = [];
  checkOutbox(db, problems);
  checkExposure(db, problems);
  checkVends(db, problems);
  const stray = db
    .prepare("SELECT COUNT(*) AS n FROM entries WHERE (kind = 'topup' AND cloud_id IS NULL) OR (kind != 'topup' AND vend_id IS NULL)")
    .get() as { n: number };
  if (stray.n > 0) problems.push(`${stray.n} balance entries belong to no vend and no top-up`);
  const orphanTokens = db.prepare('SELECT COUNT(*) AS n FROM used_tokens t WHERE NOT EXISTS (SELECT 1 FROM vends v WHERE v.vend_id = t.vend_id)').get() as { n: number };
  if (orphanTokens.n > 0) problems.push(`${orphanTokens.n} used token ids point at no vend`);
  return { ok: problems.length === 0, problems };
}
