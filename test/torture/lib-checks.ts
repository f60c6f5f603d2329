// The checks of the crash and power-cut scenarios, on a read-only connection to the ledger file
// (and the consumer's file at the end), never through the gateway's own code paths:
//   - after each kill: PRAGMA integrity_check of the file as the kill left it;
//   - after each restart settled: the ledger's self-check (gap-free outbox, each vend's entries
//     and audit records match its state exactly once), the audit chain (verified incrementally,
//     whole every `fullEvery` checks and at the end), no vend left unfinished, and the machines'
//     own counts against the captures: none credited twice, none credited for free;
//   - at the end: every outbox record delivered to the consumer exactly once and in seq order,
//     with the same content (audit hash) as the ledger's; every top-up applied exactly once;
//     balances = top-ups − captured + refunds.
import Database from 'better-sqlite3';
import { auditHash, genesisHash, verifyAudit, type AuditRow } from '../../storage/audit.js';
import { verifyLedger } from '../../storage/money-verify.js';
import { selfCheck } from '../../storage/check.js';

/** The machines' own word: LW-485 credits executed, coins that reached each coin machine. */
export interface MachineCounts {
  /** Per LW-485 machine: cycles started (lifetime counter) and whether a credit waits for Start. */
  lw: Map<string, { cycles: number; credited: boolean }>;
  /** Per coin machine: coins delivered (lifetime, as the scenario counts them). */
  coins: Map<string, number>;
}


export class LedgerChecker {
  private verified: { seq: number; hash: string };
  private checks = 0;
  base: MachineCounts | null = null;
  /** Coins the machines received beyond the captured vends at the last check ('cut-trains'). */
  coinsUnaccounted = 0;

  constructor(
    private readonly dbPath: string,
    private readonly gatewayId: string,
    private readonly coinsPerProgram: ReadonlyMap<string, number>,
    private readonly fullEvery = 50,
    /**
     * 'exact': each coin machine received exactly the coins of its captured vends. 'cut-trains':
     * a power cut restarts the RIO-8, which loses the pulse counter a train is settled by and
     * the rest of a train under way, so the coins of a commanded vend it refunded may or may
     * not have reached the machine: captured coins ≤ received ≤ captured + those.
     */
    private readonly coinRule: 'exact' | 'cut-trains' = 'exact',
  ) {
    this.verified = { seq: 0, hash: genesisHash(gatewayId) };
  }

  private open(): Database.Database {
    return new Database(this.dbPath, { readonly: true, fileMustExist: true });
  }

  /** The file as a kill left it. */
  afterKill(label: string, v: string[]): void {
    const db = this.open();
    try {
      const ic = db.pragma('integrity_check', { simple: true });
      if (ic !== 'ok') v.push(`${label}: integrity_check ${String(ic)}`);
    } finally {
      db.close();
    }
  }

  /** Unfinished vends right now (the parent waits for the periodic reconcile with this). */
  unfinished(): number {
    const db = this.open();
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM vends WHERE state IN ('held', 'credit_sent')`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  /** Ids of the unfinished vends right now: what a kill left, to hold the restart to (seams). */
  unfinishedIds(): Set<string> {
    const db = this.open();
    try {
      return new Set((db.prepare(`SELECT vend_id AS id FROM vends WHERE state IN ('held', 'credit_sent')`).all() as { id: string }[]).map((r) => r.id));
    } finally {
      db.close();
    }
  }

  /**
   * After a restart has settled what the kill left. `counts` null: the machines could not be read.
   * `leftByKill`: only these vends must be settled (the restarted gateway may already be running
   * new vends, e.g. for app commands the broker kept for it); absent: every unfinished vend.
   */
  afterStart(label: string, v: string[], counts: MachineCounts | null, leftByKill?: ReadonlySet<string>): void {
    const db = this.open();
    // One snapshot: the gateway keeps writing (downlinks, batches) while the checks read.
    db.exec('BEGIN');
    try {
      for (const p of selfCheck(db).problems) v.push(`${label}: self-check: ${p}`);
      this.checkAudit(db, label, v, ++this.checks % this.fullEvery === 0);
      const open = (db.prepare(`SELECT vend_id AS id, machine_id AS m, state, credit_evidence AS ev FROM vends WHERE state IN ('held', 'credit_sent')`).all() as { id: string; m: string; state: string; ev: string | null }[])
        .filter((o) => leftByKill === undefined || leftByKill.has(o.id));
      for (const o of open) v.push(`${label}: vend ${o.id} on ${o.m} still ${o.state} after the restart settled (evidence ${o.ev ?? 'none'})`);
      if (counts !== null) this.checkMachines(db, label, v, counts);
    } finally {
      db.exec('COMMIT');
      db.close();
    }
  }

  /** Whole chain from the anchor, and the stored head; then the money rows against the money chain (audit verify's check). */
  fullAudit(label: string, v: string[]): void {
    const db = this.open();
    db.exec('BEGIN');
    try {
      this.checkAudit(db, label, v, true);
      const m = verifyLedger(db, this.gatewayId);
      if (!m.ok) for (const p of m.problems.slice(0, 10)) v.push(`${label}: audit verify: ${p}`);
    } finally {
      db.exec('COMMIT');
      db.close();
    }
  }

  private checkAudit(db: Database.Database, label: string, v: string[], full: boolean): void {
    if (full) {
      const r = verifyAudit(db, this.gatewayId);
      if (!r.ok) v.push(`${label}: audit chain broken at ${r.atSeq}: ${r.problem}`);
      else this.verified = r.head;
      return;
    }
    // Only the records added since the last check: the chain links them to the verified head.
    let { seq, hash } = this.verified;
    const rows = db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq').iterate(seq) as IterableIterator<AuditRow>;
    for (const r of rows) {
      if (r.seq !== seq + 1) return void v.push(`${label}: audit record ${seq + 1} missing (next is ${r.seq})`);
      if (r.prev_hash !== hash) return void v.push(`${label}: audit link broken at ${r.seq}`);
      const content = {
        seq: r.seq, wallMs: r.wall_ms, monoMs: r.mono_ms, bootId: r.boot_id, clockTrusted: r.clock_trusted === 1, kind: r.kind, method: r.method,
        amountCents: r.amount_cents, accountId: r.account_id, cardMask: r.card_mask, machineId: r.machine_id, program: r.program, result: r.result,
        reason: r.reason, vendId: r.vend_id, detail: r.detail,
      };
      if (auditHash(hash, content) !== r.hash) return void v.push(`${label}: audit record ${r.seq} does not match its hash`);
      seq = r.seq;
      hash = r.hash;
    }
    const head = db.prepare(`SELECT (SELECT value FROM meta WHERE key = 'audit_head_seq') AS seq, (SELECT value FROM meta WHERE key = 'audit_head_hash') AS hash`).get() as { seq: string | null; hash: string | null };
    if (Number(head.seq ?? 0) !== seq || (seq > 0 && head.hash !== hash)) v.push(`${label}: stored audit head ${head.seq ?? 0} does not match the trail's end ${seq}`);
    this.verified = { seq, hash };
  }

  private checkMachines(db: Database.Database, label: string, v: string[], counts: MachineCounts): void {
    const base = this.base;
    if (base === null) return;
    const captured = db.prepare(`SELECT machine_id AS m, COUNT(*) AS n FROM vends WHERE state = 'captured' GROUP BY machine_id`).all() as { m: string; n: number }[];
    const cap = new Map(captured.map((c) => [c.m, c.n]));
    for (const [id, now] of counts.lw) {
      const credits = now.cycles - (base.lw.get(id)?.cycles ?? 0) + (now.credited ? 1 : 0) - (base.lw.get(id)?.credited ? 1 : 0);
      if (credits !== (cap.get(id) ?? 0)) v.push(`${label}: ${id} executed ${credits} credits, the ledger captured ${cap.get(id) ?? 0}`);
    }
    const commandedRefunds = db.prepare(`SELECT machine_id AS m, COUNT(*) AS n FROM vends WHERE state = 'refunded' AND credit_evidence IS NOT NULL GROUP BY machine_id`).all() as { m: string; n: number }[];
    const unsure = new Map(commandedRefunds.map((c) => [c.m, c.n]));
    this.coinsUnaccounted = 0;
    for (const [id, now] of counts.coins) {
      const coins = now - (base.coins.get(id) ?? 0);
      const per = this.coinsPerProgram.get(id) ?? 0;
      const want = (cap.get(id) ?? 0) * per;
      if (this.coinRule === 'exact' && coins !== want) v.push(`${label}: ${id} received ${coins} coins, the ledger captured ${want}`);
      if (this.coinRule === 'cut-trains') {
        const most = want + (unsure.get(id) ?? 0) * per;
        if (coins < want || coins > most) v.push(`${label}: ${id} received ${coins} coins; the ledger captured ${want} and refunded commanded vends worth ${most - want}`);
        this.coinsUnaccounted += Math.max(0, coins - want);
      }
    }
  }
}

export interface DeliveryFigures {
  lastSeq: number;
  recordsDelivered: number;
  stillQueued: number;
  topUpsApplied: number;
  deadLetters: number;
}

interface Row {
  seq: number;
  id: string;
  type: string;
  payload: string;
}

/**
 * The end state, after a final drain: every outbox record the ledger ever made (seq 1..last) is
 * in the consumer's store exactly once, in seq order of arrival, with the ledger's content, or
 * still queued in the ledger (seq above the acked watermark); every top-up the cloud published
 * applied exactly once; each account's balance is its top-ups less what it was charged.
 */
export function checkDelivery(
  o: {
    ledgerPath: string;
    consumerPath: string;
    gatewayId: string;
    topUps: readonly { cloudId: string; accountId: string; amountCents: number; accountVersion: number }[];
    /** With account snapshots sent: each account's balance as the cloud books it, which the ledger must hold to the cent. */
    cloudBalances?: ReadonlyMap<string, number>;
  },
  v: string[],
): DeliveryFigures {
  const ledger = new Database(o.ledgerPath, { readonly: true, fileMustExist: true });
  const cloud = new Database(o.consumerPath, { readonly: true, fileMustExist: true });
  try {
    const meta = (k: string): number => Number((ledger.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string } | undefined)?.value ?? 0);
    const last = meta('outbox_last_seq');
    const acked = meta('outbox_acked_seq');
    const queued = new Map((ledger.prepare('SELECT seq, id FROM outbox ORDER BY seq').all() as { seq: number; id: string }[]).map((r) => [r.seq, r.id]));
    const dead = (ledger.prepare('SELECT COUNT(*) AS n FROM outbox_dead').get() as { n: number }).n;
    if (dead > 0) v.push(`${dead} outbox records were dead-lettered (the consumer rejects none)`);
    // Arrival order is checked as batches come in (lib-cloud.ts ArrivalOrder); the store is keyed by seq.
    const rows = cloud.prepare('SELECT seq, id, type, payload FROM records WHERE gateway = ? ORDER BY seq').all(o.gatewayId) as Row[];
    const bySeq = new Map<number, Row>();
    const ids = new Set<string>();
    for (const r of rows) {
      if (ids.has(r.id)) v.push(`consumer holds record id ${r.id} twice`);
      ids.add(r.id);
      bySeq.set(r.seq, r);
      if (r.seq > last) v.push(`consumer holds seq ${r.seq}, past the ledger's last seq ${last}`);
    }
    for (let s = 1; s <= last; s++) {
      const got = bySeq.get(s);
      const q = queued.get(s);
      if (got === undefined && q === undefined) v.push(`outbox record ${s} lost: neither delivered nor queued (acked up to ${acked})`);
      if (got !== undefined && q !== undefined && got.id !== q) v.push(`outbox record ${s}: the consumer holds id ${got.id}, the ledger queues ${q}`);
      if (q !== undefined && s <= acked) v.push(`outbox record ${s} still queued below the acked seq ${acked}`);
    }
    // Content: each money record carries its audit record; the consumer's must be the ledger's.
    const audits = ledger.prepare('SELECT seq, outbox_seq AS o, hash FROM audit WHERE outbox_seq IS NOT NULL').iterate() as IterableIterator<{ seq: number; o: number; hash: string }>;
    let mismatched = 0;
    for (const a of audits) {
      const got = bySeq.get(a.o);
      if (got === undefined) continue;
      const hash = (JSON.parse(got.payload) as { audit?: { hash?: string } }).audit?.hash;
      if (hash !== a.hash && mismatched++ < 10) v.push(`outbox record ${a.o} in the consumer carries audit hash ${String(hash)}, the ledger's audit ${a.seq} is ${a.hash}`);
    }
    // Each vend settled at most once upstream, and top-ups once each.
    const settles = new Map<string, number>();
    const topUpsSeen = new Map<string, number>();
    for (const r of rows) {
      if (r.type === 'vend.capture' || r.type === 'vend.refund') {
        const id = (JSON.parse(r.payload) as { vendId: string }).vendId;
        settles.set(id, (settles.get(id) ?? 0) + 1);
      } else if (r.type === 'account.topup') {
        const id = (JSON.parse(r.payload) as { cloudId: string }).cloudId;
        topUpsSeen.set(id, (topUpsSeen.get(id) ?? 0) + 1);
      }
    }
    for (const [id, n] of settles) if (n > 1) v.push(`vend ${id} settled ${n} times upstream`);
    const applied = new Map((ledger.prepare(`SELECT cloud_id AS c, account_id AS a, amount_cents AS n FROM entries WHERE kind = 'topup'`).all() as { c: string; a: string; n: number }[]).map((r) => [r.c, r]));
    const snapshotVersion = new Map((ledger.prepare('SELECT account_id AS a, version AS v FROM accounts').all() as { a: string; v: number }[]).map((r) => [r.a, r.v]));
    for (const t of o.topUps) {
      const e = applied.get(t.cloudId);
      // Refused old_version because an applied snapshot holds it: counted there, not missing.
      const inSnapshot = t.accountVersion <= (snapshotVersion.get(t.accountId) ?? 0);
      if (e === undefined && !inSnapshot) v.push(`top-up ${t.cloudId} (${t.amountCents} ¢ for ${t.accountId}) never applied`);
      else if (e !== undefined && (e.a !== t.accountId || e.n !== t.amountCents)) v.push(`top-up ${t.cloudId} applied as ${e.n} ¢ for ${e.a}`);
    }
    const published = new Set(o.topUps.map((t) => t.cloudId));
    for (const c of applied.keys()) if (!published.has(c)) v.push(`top-up ${c} applied but never published`);
    for (const [c, n] of topUpsSeen) if (n !== 1) v.push(`top-up ${c} reached the consumer ${n} times`);
    if (o.cloudBalances !== undefined) {
      // Snapshots were sent: the ledger's balance (storage/accounts.ts: the snapshot plus the
      // entries it does not include) must be what the cloud books from everything it holds.
      const balance = ledger.prepare(
        `SELECT a.balance_cents + COALESCE(SUM(e.amount_cents), 0) AS n FROM accounts a
           LEFT JOIN entries e ON e.account_id = a.account_id
                AND CASE WHEN e.account_version IS NULL THEN e.outbox_seq > a.covered_seq ELSE e.account_version > a.version END
          WHERE a.account_id = ? GROUP BY a.account_id`,
      );
      for (const [a, want] of o.cloudBalances) {
        const got = (balance.get(a) as { n: number } | undefined)?.n;
        if (got !== want) v.push(`account ${a}: the ledger's balance is ${String(got)} ¢, the cloud books ${want} ¢`);
      }
      return { lastSeq: last, recordsDelivered: bySeq.size, stillQueued: queued.size, topUpsApplied: applied.size, deadLetters: dead };
    }
    // Balances: no snapshot was ever sent, so a balance is the sum of its entries.
    const accounts = ledger.prepare('SELECT account_id AS a FROM accounts').all() as { a: string }[];
    for (const { a } of accounts) {
      const bal = (ledger.prepare('SELECT COALESCE(SUM(amount_cents), 0) AS n FROM entries WHERE account_id = ?').get(a) as { n: number }).n;
      const topUps = o.topUps.filter((t) => t.accountId === a).reduce((n, t) => n + t.amountCents, 0);
      const charged = (ledger.prepare(`SELECT COALESCE(SUM(captured_cents), 0) AS n FROM vends WHERE account_id = ? AND funding = 'account' AND state = 'captured'`).get(a) as { n: number }).n;
      const open = (ledger.prepare(`SELECT COALESCE(SUM(amount_cents), 0) AS n FROM vends WHERE account_id = ? AND funding = 'account' AND state IN ('held', 'credit_sent')`).get(a) as { n: number }).n;
      const back = (ledger.prepare(`SELECT COALESCE(SUM(j.amount_cents), 0) AS n FROM vend_adjustments j JOIN vends v ON v.vend_id = j.vend_id WHERE v.account_id = ? AND v.funding = 'account'`).get(a) as { n: number }).n;
      const want = topUps - charged - open + back;
      if (bal !== want) v.push(`account ${a}: balance ${bal} ¢, but top-ups ${topUps} − captured ${charged} − open holds ${open} + fault refunds ${back} = ${want} ¢`);
    }
    return { lastSeq: last, recordsDelivered: bySeq.size, stillQueued: queued.size, topUpsApplied: applied.size, deadLetters: dead };
  } finally {
    ledger.close();
    cloud.close();
  }
}
