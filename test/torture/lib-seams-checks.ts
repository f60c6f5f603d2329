// The seams torture's own checks, beside the crash torture's (lib-checks.ts), on read-only
// connections to the ledger file and the simulated machines' own tallies:
//   - per LW-485 machine: the CREDITs it accepted = credit vends captured, its ADD_TIMEs
//     accepted = add-time vends captured, and every CANCEL it accepted was refunded to the payer
//     once (at the end exactly; along the way never more refunds than cancels);
//   - per coin machine: the coins it received = its captured vends' coins;
//   - all refunds of a captured vend together at most what was captured;
//   - what a gateway reported done before it was killed is in the file as reported.
import Database from 'better-sqlite3';
import { Lw485Command, type SimRoom } from '../../simulator/index.js';

export interface SeamsMachines {
  lw: ReadonlyArray<readonly [string, { unit: number }]>;
  coins: ReadonlyArray<readonly [string, { unit: number; channel?: number; coinsPerProgram?: number }]>;
}

/** Coins per coin machine since the base, wrap-aware, the train under way included. */
export function coinCounts(room: SimRoom, m: SeamsMachines, base: Map<string, number> | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, c] of m.coins) {
    const ch = room.control.rio8(c.unit).channels[c.channel ?? -1];
    const counter = ch?.pulseCounter ?? 0;
    const b = base?.get(id) ?? counter;
    out.set(id, b + ((counter - b) & 0xffff) + (ch?.pulsesPending ?? 0));
  }
  return out;
}

export function checkMachineMoney(o: { dbPath: string; room: SimRoom; machines: SeamsMachines; coinBase: Map<string, number>; label: string; final: boolean }, v: string[]): void {
  const db = new Database(o.dbPath, { readonly: true, fileMustExist: true });
  db.exec('BEGIN');
  try {
    const n = (sql: string, ...args: unknown[]): number => (db.prepare(sql).get(...args) as { n: number }).n;
    for (const [id, m] of o.machines.lw) {
      const acc = o.room.control.lw485(m.unit).accepted;
      const credits = acc[Lw485Command.Credit] ?? 0;
      const addTimes = acc[Lw485Command.AddTime] ?? 0;
      const cancels = acc[Lw485Command.Cancel] ?? 0;
      const capturedCredits = n(`SELECT COUNT(*) AS n FROM vends WHERE machine_id = ? AND state = 'captured' AND machine_kind IS NOT NULL`, id);
      // A credit vend still open (credit sent, not settled) may or may not have run: the
      // checker reports the open vend itself; here it only widens what the machine may show.
      const openCredits = n(`SELECT COUNT(*) AS n FROM vends WHERE machine_id = ? AND state = 'credit_sent' AND machine_kind IS NOT NULL`, id);
      const capturedAddTimes = n(`SELECT COUNT(*) AS n FROM vends WHERE machine_id = ? AND state = 'captured' AND machine_kind IS NULL`, id);
      // Likewise an add-time vend still open (its machine unreadable at a restart).
      const openAddTimes = n(`SELECT COUNT(*) AS n FROM vends WHERE machine_id = ? AND state = 'credit_sent' AND machine_kind IS NULL`, id);
      const cancelRefunds = n(`SELECT COUNT(*) AS n FROM vend_adjustments j JOIN vends x ON x.vend_id = j.vend_id WHERE x.machine_id = ? AND j.reason = 'remote_cancel'`, id);
      if (credits < capturedCredits || credits > capturedCredits + openCredits) v.push(`${o.label}: ${id} accepted ${credits} CREDITs, the ledger captured ${capturedCredits} credit vends (${openCredits} open)`);
      if (addTimes < capturedAddTimes || addTimes > capturedAddTimes + openAddTimes) v.push(`${o.label}: ${id} accepted ${addTimes} ADD_TIMEs, the ledger captured ${capturedAddTimes} add-time vends (${openAddTimes} open)`);
      if (cancelRefunds > cancels || (o.final && cancelRefunds !== cancels)) v.push(`${o.label}: ${id} accepted ${cancels} CANCELs of paid credits, the ledger refunded ${cancelRefunds} for a cancel`);
    }
    const coins = coinCounts(o.room, o.machines, o.coinBase);
    for (const [id, m] of o.machines.coins) {
      const got = (coins.get(id) ?? 0) - (o.coinBase.get(id) ?? 0);
      const per = m.coinsPerProgram ?? 0;
      const want = n(`SELECT COUNT(*) AS n FROM vends WHERE machine_id = ? AND state = 'captured'`, id) * per;
      const open = n(`SELECT COUNT(*) AS n FROM vends WHERE machine_id = ? AND state = 'credit_sent'`, id) * per;
      if (got < want || got > want + open) v.push(`${o.label}: ${id} received ${got} coins, the ledger captured vends worth ${want} (open vends worth ${open})`);
    }
    const over = db
      .prepare(`SELECT j.vend_id AS id, SUM(j.amount_cents) AS a, x.captured_cents AS c, x.state AS s FROM vend_adjustments j JOIN vends x ON x.vend_id = j.vend_id GROUP BY j.vend_id HAVING s != 'captured' OR SUM(j.amount_cents) > c LIMIT 5`)
      .all() as { id: string; a: number; c: number | null }[];
    for (const r of over) v.push(`${o.label}: vend ${r.id} refunded ${r.a} ¢ after capture of ${String(r.c)} ¢`);
  } finally {
    db.exec('COMMIT');
    db.close();
  }
}

/** What a child printed as done must be in the file it was killed over. */
export function checkReported(dbPath: string, lines: readonly string[], label: string, v: string[]): { captured: string[] } {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const captured: string[] = [];
  try {
    const state = db.prepare('SELECT state FROM vends WHERE vend_id = ?');
    const adj = db.prepare(`SELECT amount_cents AS a FROM vend_adjustments WHERE vend_id = ? AND reason = 'operator_refund'`);
    for (const line of lines) {
      const [tag, result, id = '', cents = ''] = line.split(' ');
      if (tag === 'vend' && (result === 'captured' || result === 'refunded')) {
        const row = state.get(id) as { state: string } | undefined;
        if (row?.state !== result) v.push(`${label}: vend ${id} was reported ${result}, the file says ${row?.state ?? 'no such vend'}`);
        if (result === 'captured') captured.push(id);
      } else if (tag === 'oref' && result === 'ok') {
        const row = adj.get(id) as { a: number } | undefined;
        if (row?.a !== Number(cents)) v.push(`${label}: operator refund of ${cents} ¢ on ${id} was reported done, the file holds ${row ? `${row.a} ¢` : 'none'}`);
      }
    }
  } finally {
    db.close();
  }
  return { captured };
}
