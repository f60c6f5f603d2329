// The outage scenario's verdict, from the two files alone once both processes have stopped: the
// gateway's ledger and the reference consumer's store. Every record the ledger ever numbered is
// at the consumer exactly once with no seq missing, the consumer's in-order watermark (what it
// acknowledged as held whole) reaches the last one, and each money record carries the very
// audit record (seq and hash) that the ledger's append-only audit table holds.
import Database from 'better-sqlite3';

export interface LedgerSide {
  lastSeq: number;
  ackedSeq: number;
  /** Records still in the outbox (not acknowledged), with their seq, type and when the ledger wrote them (its clock, ms). */
  unsent: { seq: number; type: string; createdMs: number }[];
  /** Records still in the outbox (not acknowledged). */
  pending: number;
  deadLetters: number;
  /** outbox seq → audit hash, for every audit record that went upstream. */
  auditBySeq: Map<number, { auditSeq: number; hash: string }>;
  vends: Record<string, number>;
  unfinishedVends: number;
}

export function readLedgerSide(dbPath: string): LedgerSide {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const meta = (k: string): number => Number((db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string } | undefined)?.value ?? '0');
    const auditBySeq = new Map<number, { auditSeq: number; hash: string }>();
    for (const r of db.prepare('SELECT seq, hash, outbox_seq AS o FROM audit WHERE outbox_seq IS NOT NULL').all() as { seq: number; hash: string; o: number }[]) auditBySeq.set(r.o, { auditSeq: r.seq, hash: r.hash });
    const vends: Record<string, number> = {};
    for (const r of db.prepare('SELECT state, COUNT(*) AS n FROM vends GROUP BY state').all() as { state: string; n: number }[]) vends[r.state] = r.n;
    return {
      lastSeq: meta('outbox_last_seq'),
      ackedSeq: meta('outbox_acked_seq'),
      pending: (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n,
      unsent: db.prepare('SELECT seq, type, created_ms AS createdMs FROM outbox ORDER BY seq').all() as { seq: number; type: string; createdMs: number }[],
      deadLetters: (db.prepare('SELECT COUNT(*) AS n FROM outbox_dead').get() as { n: number }).n,
      auditBySeq,
      vends,
      unfinishedVends: (vends.held ?? 0) + (vends.credit_sent ?? 0),
    };
  } finally {
    db.close();
  }
}

/**
 * The status events a clean stop wrote: a cycle's end waits in memory for a commit to ride on
 * (storage/events-along.ts) and the stop writes what still waits after the uplink is gone; they
 * go up at the next start. Only machine_state records at the tail of the outbox, contiguous
 * after the acked seq, written once the stop began (`stopBeganMs`, the same machine's clock as
 * the daemon's), may be left so: a record the uplink should have sent before the stop is a
 * violation even when it is a status event.
 */
export function writtenAtStop(ledger: LedgerSide, stopBeganMs: number): number {
  const u = ledger.unsent;
  const tail =
    u.length > 0 &&
    u.every((r, i) => r.type === 'machine_state' && r.seq === ledger.ackedSeq + 1 + i && r.createdMs >= stopBeganMs) &&
    u.at(-1)?.seq === ledger.lastSeq;
  return tail ? u.length : 0;
}

/** Appends a violation for every way the consumer's store differs from the ledger. */
export function compareStores(ledger: LedgerSide, consumerDb: string, gatewayId: string, stopBeganMs: number, violations: string[]): { stored: number; moneyRecords: number; storedAheadOfHole: number; writtenAtStop: number } {
  const db = new Database(consumerDb, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT gateway, seq, id, type, money, payload, received_ms AS at FROM records ORDER BY gateway, seq').all() as { gateway: string; seq: number; id: string; type: string; money: number; payload: string; at: number }[];
    const mine = rows.filter((x) => x.gateway === gatewayId);
    if (mine.length !== rows.length) violations.push(`consumer holds ${rows.length - mine.length} records of another gateway`);
    const atStop = writtenAtStop(ledger, stopBeganMs);
    // What the consumer must hold: every record before those the stop wrote.
    const sentSeq = ledger.lastSeq - atStop;
    if (atStop === 0 && (ledger.pending !== 0 || ledger.ackedSeq !== ledger.lastSeq)) {
      violations.push(`ledger: ${ledger.pending} records still in the outbox (acked ${ledger.ackedSeq} of ${ledger.lastSeq}: ${ledger.unsent.slice(0, 5).map((r) => `${r.seq} ${r.type} written ${r.createdMs - stopBeganMs} ms after the stop began`).join(', ')})`);
    }
    if (ledger.deadLetters !== 0) violations.push(`ledger: ${ledger.deadLetters} dead letters`);
    if (mine.length !== sentSeq) violations.push(`consumer holds ${mine.length} records, the ledger numbered ${ledger.lastSeq}${atStop > 0 ? ` (${atStop} status events written at the stop)` : ''}`);
    const ids = new Set<string>();
    let outOfOrder = 0;
    let money = 0;
    let badAudit = 0;
    let aheadOfHole = 0;
    mine.forEach((x, i) => {
      if (x.seq !== i + 1) {
        outOfOrder++;
        if (outOfOrder <= 5) violations.push(`consumer's record #${i + 1} is seq ${x.seq}: a seq is missing`);
      }
      // Stored before the record in front of it: a batch that overtook a lost one (kept, not acked).
      const prev = mine[i - 1];
      if (prev !== undefined && x.at < prev.at) aheadOfHole++;
      if (ids.has(x.id)) violations.push(`record id ${x.id} stored twice`);
      ids.add(x.id);
      const a = ledger.auditBySeq.get(x.seq);
      if (x.money === 1) money++;
      if (a !== undefined) {
        const audit = (JSON.parse(x.payload) as { audit?: { seq?: number; hash?: string } }).audit;
        if (audit?.hash !== a.hash || audit.seq !== a.auditSeq) {
          badAudit++;
          if (badAudit <= 5) violations.push(`seq ${x.seq}: consumer's audit record ${String(audit?.seq)} does not match the ledger's ${a.auditSeq}`);
        }
      }
    });
    if (outOfOrder > 5) violations.push(`… ${outOfOrder} seqs out of place in all`);
    if (badAudit > 5) violations.push(`… ${badAudit} audit mismatches in all`);
    // Every audit record the ledger sent upstream is at the consumer.
    let missingAudit = 0;
    for (const seq of ledger.auditBySeq.keys()) if (seq > mine.length) missingAudit++;
    if (missingAudit > 0) violations.push(`${missingAudit} audit records of the ledger never reached the consumer`);
    // The consumer acks a gateway's stream only up to where it holds it whole: that watermark must cover everything.
    const w = (db.prepare('SELECT stored_seq AS s FROM streams WHERE gateway = ?').get(gatewayId) as { s: number } | undefined)?.s;
    if (w !== undefined && w !== sentSeq) violations.push(`consumer's in-order watermark is ${w}, the ledger sent up to ${sentSeq}`);
    return { stored: mine.length, moneyRecords: money, storedAheadOfHole: aheadOfHole, writtenAtStop: atStop };
  } finally {
    db.close();
  }
}
