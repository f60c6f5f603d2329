// The money checks of the bus-faults scenario, once every vend has settled: the machines' own
// counters against the ledger (no vend captured without the machine having executed its credit,
// none executed without a capture), every vend ended as exactly one capture or one refund, the
// accounts' money adds up, and the ledger file is whole.
import Database from 'better-sqlite3';
import type { SimRoom } from '../../simulator/index.js';
import type { Ledger } from '../../storage/index.js';
import { BUS_MACHINES, CARD_COUNT, SEED_CENTS } from './lib-bus-room.js';

/** Per machine: LW-485 cycles started (a credit executed), RIO-8 pulses counted. */
export function machineCounters(room: SimRoom): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, m] of Object.entries(BUS_MACHINES)) {
    if (m.channel === undefined) out.set(id, room.control.lw485(m.unit).cycleCounter);
    else out.set(id, room.control.rio8(m.unit).channels[m.channel]?.pulseCounter ?? 0);
  }
  return out;
}

export interface MoneyFigures {
  captured: number;
  refunded: number;
  unfinished: number;
  refundReasons: Record<string, number>;
}

export function checkMoney(room: SimRoom, dbPath: string, base: Map<string, number>, violations: string[]): MoneyFigures {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const ic = db.pragma('integrity_check', { simple: true });
    if (ic !== 'ok') violations.push(`integrity_check: ${String(ic)}`);
    const open = db.prepare(`SELECT vend_id AS id, machine_id AS m, state FROM vends WHERE state IN ('held', 'credit_sent')`).all() as { id: string; m: string; state: string }[];
    for (const v of open) violations.push(`vend ${v.id} on ${v.m} still ${v.state} after the bus was whole again (a failed credit not refunded)`);
    const finishes = db
      .prepare(`SELECT v.vend_id AS id, v.state AS state, (SELECT COUNT(*) FROM audit a WHERE a.vend_id = v.vend_id AND a.kind IN ('capture', 'refund')) AS n FROM vends v`)
      .all() as { id: string; state: string; n: number }[];
    for (const f of finishes) {
      const want = f.state === 'captured' || f.state === 'refunded' ? 1 : 0;
      if (f.n !== want) violations.push(`vend ${f.id} (${f.state}) has ${f.n} capture/refund records`);
    }
    const captured = (machineId: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM vends WHERE machine_id = ? AND state = 'captured'`).get(machineId) as { n: number }).n;
    const c = room.control;
    for (const [id, m] of Object.entries(BUS_MACHINES)) {
      const cap = captured(id);
      if (m.channel === undefined) {
        const s = c.lw485(m.unit);
        const credits = s.cycleCounter - (base.get(id) ?? 0) + (s.stateName === 'CREDITED' ? 1 : 0);
        if (credits !== cap) violations.push(`${id}: the machine executed ${credits} credits, the ledger captured ${cap}`);
      } else {
        const ch = c.rio8(m.unit).channels[m.channel];
        const pulses = (((ch?.pulseCounter ?? 0) - (base.get(id) ?? 0)) & 0xffff) + (ch?.pulsesPending ?? 0);
        const coins = cap * (m.coinsPerProgram ?? 0);
        if (pulses !== coins) violations.push(`${id}: the module counted ${pulses} pulses, the ledger captured ${coins} coins`);
      }
    }
    const sums = db.prepare(`SELECT state, COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS cents FROM vends GROUP BY state`).all() as { state: string; n: number; cents: number }[];
    const get = (s: string): { n: number; cents: number } => sums.find((x) => x.state === s) ?? { n: 0, cents: 0 };
    const reasons: Record<string, number> = {};
    for (const r of db.prepare(`SELECT COALESCE(finish_reason, '?') AS r, COUNT(*) AS n FROM vends WHERE state = 'refunded' GROUP BY finish_reason`).all() as { r: string; n: number }[]) reasons[r.r] = r.n;
    return { captured: get('captured').n, refunded: get('refunded').n, unfinished: get('held').n + get('credit_sent').n, refundReasons: reasons };
  } finally {
    db.close();
  }
}

/** The accounts hold what was topped up minus what was captured: every refund gave the money back. */
export function checkBalances(ledger: Ledger, dbPath: string, violations: string[]): void {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  let capturedCents = 0;
  try {
    capturedCents = (db.prepare(`SELECT COALESCE(SUM(amount_cents), 0) AS c FROM vends WHERE state = 'captured' AND method = 'card'`).get() as { c: number }).c;
  } finally {
    db.close();
  }
  let held = 0;
  for (let i = 0; i < CARD_COUNT; i++) held += ledger.balance(`acct-${i}`)?.balanceCents ?? 0;
  const want = CARD_COUNT * SEED_CENTS - capturedCents;
  if (held !== want) violations.push(`accounts hold ${held} ¢; top-ups minus captured vends is ${want} ¢ (${held - want} ¢ off)`);
  const audit = ledger.verifyAudit();
  if (!audit.ok) violations.push(`audit chain: ${JSON.stringify(audit)}`);
  for (const p of ledger.selfCheck().problems) violations.push(`ledger self-check: ${p}`);
}
