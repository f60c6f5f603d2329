// `audit verify` for money: replays the money chain (money-chain.ts) into the rows it says the
// ledger holds, and names every row of entries, vends, vend_adjustments and accounts that
// disagrees (edited, deleted, inserted) and every balance that comes out different. Then it proves
// that the chains still contain the heads the cloud acknowledged (and any heads the operator gives
// from the cloud's side): a history rewritten below them is found even when every hash was
// recomputed. Reads only; one read transaction, so a writer beside it cannot tear the picture.
import { auditAnchor, verifyAudit, type AuditHead } from './audit.js';
import { META, getMeta, getMetaInt } from './context.js';
import type { Db } from './db.js';
import {
  ADJUSTMENT_BINDING_SQL,
  VEND_BINDING_SQL,
  adjustmentKey,
  moneyAnchor,
  moneyGenesis,
  moneyLinkHash,
  type AccountBinding,
  type AdjustmentBinding,
  type EntryBinding,
  type LinkDetail,
  type MoneyLinkRow,
  type VendBinding,
} from './money-chain.js';

export interface VerifyHeads {
  /** Audit head the cloud holds (from its records or acks), to prove the trail still contains. */
  audit?: AuditHead;
  /** Money chain head the cloud holds. */
  money?: AuditHead;
}

export interface AnchorCheck {
  chain: 'audit' | 'money';
  /** acknowledged: stored from the cloud's ack; given: passed to verify (--audit-head, --money-head). */
  source: 'acknowledged' | 'given';
  seq: number;
  result: 'contained' | 'not_contained' | 'beyond_head' | 'pruned';
}

export interface MoneySummary {
  links: number;
  head: AuditHead;
  entries: number;
  vends: number;
  accounts: number;
}

export type LedgerVerdict =
  | { ok: true; count: number; head: AuditHead; anchorSeq: number; money: MoneySummary; anchors: AnchorCheck[] }
  | { ok: false; atSeq: number; problem: string; problems: string[] };

const MAX_PROBLEMS = 50;

/** A row as the chain binds it, and the link that bound it last. */
export type Fixed<T> = { row: T; link: number };

export interface Expected {
  entries: Map<number, Fixed<EntryBinding>>;
  vends: Map<string, Fixed<VendBinding>>;
  adjustments: Map<string, Fixed<AdjustmentBinding>>;
  accounts: Map<string, Fixed<AccountBinding>>;
}

const ENTRY_COLS = ['entry_id', 'account_id', 'kind', 'amount_cents', 'points', 'vend_id', 'cloud_id', 'account_version', 'outbox_seq'] as const;
const VEND_COLS = ['vend_id', 'funding', 'account_id', 'amount_cents', 'state', 'captured_cents', 'refunded_cents'] as const;
const ADJ_COLS = ['vend_id', 'refund_key', 'amount_cents', 'points'] as const;
const ACCOUNT_COLS = ['account_id', 'version', 'balance_cents', 'points', 'covered_seq'] as const;

function same(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** "amount_cents 200000, the chain says 1750" for each column that differs. */
function differences(cols: readonly string[], got: readonly unknown[], want: readonly unknown[]): string {
  return cols
    .map((c, i) => (got[i] === want[i] ? null : `${c} ${JSON.stringify(got[i])}, the chain says ${JSON.stringify(want[i])}`))
    .filter((x): x is string => x !== null)
    .join('; ');
}

export class Problems {
  readonly list: string[] = [];
  more = 0;
  add(p: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(p);
    else this.more++;
  }
}

/** Replays the links from the anchor; a broken link stops the replay (nothing after it can be trusted). */
export function replay(db: Db, gatewayId: string, problems: Problems): { expected: Expected; links: number; head: AuditHead } {
  const expected: Expected = { entries: new Map(), vends: new Map(), adjustments: new Map(), accounts: new Map() };
  const auditFloor = auditAnchor(db, gatewayId);
  const floor = moneyAnchor(db, gatewayId);
  let prev = floor.hash;
  let seq = floor.seq;
  const rows = db
    .prepare('SELECT m.*, a.hash AS audit_now FROM money_chain m LEFT JOIN audit a ON a.seq = m.audit_seq ORDER BY m.seq')
    .iterate() as IterableIterator<MoneyLinkRow & { audit_now: string | null }>;
  for (const r of rows) {
    if (r.seq !== seq + 1) {
      problems.add(`money chain: link ${seq + 1} missing (next is ${r.seq})`);
      return { expected, links: seq - floor.seq, head: { seq, hash: prev } };
    }
    if (r.prev_hash !== prev) {
      problems.add(`money chain: link ${r.seq} does not follow link ${seq} (a link deleted, inserted or reordered)`);
      return { expected, links: seq - floor.seq, head: { seq, hash: prev } };
    }
    if (moneyLinkHash(prev, r) !== r.hash) {
      problems.add(`money chain: link ${r.seq} does not match its hash (edited)`);
      return { expected, links: seq - floor.seq, head: { seq, hash: prev } };
    }
    // The link also binds the audit trail as it stood: a trail rewritten below it shows here.
    const auditNow = r.audit_seq === auditFloor.seq ? auditFloor.hash : r.audit_now;
    if (r.audit_seq >= auditFloor.seq && auditNow !== r.audit_hash) {
      problems.add(`money chain: link ${r.seq} binds audit record ${r.audit_seq}, which the audit trail no longer holds as it was`);
    }
    apply(expected, JSON.parse(r.detail) as LinkDetail, r.seq, problems);
    prev = r.hash;
    seq = r.seq;
  }
  return { expected, links: seq - floor.seq, head: { seq, hash: prev } };
}

/** Each row is bound once as it is written; only a vend moves on (open to captured or refunded), only a snapshot's version goes up. */
function apply(x: Expected, d: LinkDetail, link: number, problems: Problems): void {
  for (const e of d.e ?? []) {
    const had = x.entries.get(e[0]);
    if (had !== undefined && !same(had.row, e)) problems.add(`money chain: link ${link} binds entries row ${e[0]} again, differently (${differences(ENTRY_COLS, e, had.row)})`);
    else x.entries.set(e[0], { row: e, link });
  }
  for (const v of d.v ?? []) {
    const had = x.vends.get(v[0]);
    if (had !== undefined && !same(had.row, v)) {
      const fixedChanged = !same(had.row.slice(0, 4), v.slice(0, 4));
      if (fixedChanged || had.row[4] !== 'open') {
        problems.add(`money chain: link ${link} rebinds vend ${v[0]} against the vend's rules (${differences(VEND_COLS, v, had.row)})`);
        continue;
      }
    }
    x.vends.set(v[0], { row: v, link });
  }
  for (const j of d.j ?? []) {
    const had = x.adjustments.get(adjustmentKey(j));
    if (had !== undefined && !same(had.row, j)) problems.add(`money chain: link ${link} binds the refund ${j[1]} of vend ${j[0]} again, differently`);
    else x.adjustments.set(adjustmentKey(j), { row: j, link });
  }
  for (const a of d.a ?? []) {
    const had = x.accounts.get(a[0]);
    if (had !== undefined && !same(had.row, a) && a[1] <= had.row[1]) problems.add(`money chain: link ${link} binds account ${a[0]} at snapshot version ${a[1]}, not above ${had.row[1]}`);
    else x.accounts.set(a[0], { row: a, link });
  }
  for (const id of d.dv ?? []) x.vends.delete(id);
  for (const id of d.de ?? []) x.entries.delete(id);
}

function compareEntries(db: Db, x: Expected, problems: Problems): number {
  let n = 0;
  const rows = db.prepare(`SELECT ${ENTRY_COLS.join(', ')} FROM entries ORDER BY entry_id`).raw().iterate() as IterableIterator<EntryBinding>;
  for (const r of rows) {
    n++;
    const what = `entries row ${r[0]} (${r[2]} of account ${r[1]}${r[5] === null ? '' : `, vend ${r[5]}`})`;
    const want = x.entries.get(r[0]);
    if (want === undefined) problems.add(`${what}: amount_cents ${r[3]} is not in the money chain (inserted)`);
    else if (!same(r, want.row)) problems.add(`${what} edited: ${differences(ENTRY_COLS, r, want.row)} (link ${want.link})`);
    x.entries.delete(r[0]);
  }
  for (const [id, want] of x.entries) problems.add(`entries row ${id} (${want.row[2]} ${want.row[3]} of account ${want.row[1]}) is missing (deleted; link ${want.link} binds it)`);
  return n;
}

function compareVends(db: Db, x: Expected, problems: Problems): number {
  let n = 0;
  const rows = db.prepare(VEND_BINDING_SQL).raw().iterate() as IterableIterator<VendBinding>;
  for (const r of rows) {
    n++;
    const want = x.vends.get(r[0]);
    if (want === undefined) problems.add(`vends row ${r[0]} (${r[1]}, amount_cents ${r[3]}) is not in the money chain (inserted)`);
    else if (!same(r, want.row)) problems.add(`vends row ${r[0]} edited: ${differences(VEND_COLS, r, want.row)} (link ${want.link})`);
    x.vends.delete(r[0]);
  }
  for (const [id, want] of x.vends) problems.add(`vends row ${id} (amount_cents ${want.row[3]}) is missing (deleted; link ${want.link} binds it)`);
  const adj = db.prepare(ADJUSTMENT_BINDING_SQL).raw().iterate() as IterableIterator<AdjustmentBinding>;
  for (const r of adj) {
    const want = x.adjustments.get(adjustmentKey(r));
    if (want === undefined) problems.add(`vend_adjustments row ${r[0]} ${r[1]} (${r[2]} cents) is not in the money chain (inserted)`);
    else if (!same(r, want.row)) problems.add(`vend_adjustments row ${r[0]} ${r[1]} edited: ${differences(ADJ_COLS, r, want.row)} (link ${want.link})`);
    x.adjustments.delete(adjustmentKey(r));
  }
  for (const want of x.adjustments.values()) problems.add(`vend_adjustments row ${want.row[0]} ${want.row[1]} (${want.row[2]} cents) is missing (deleted; link ${want.link} binds it)`);
  return n;
}

/** Accounts no snapshot reached stay at zero (ensureAccount); every other one is its last bound snapshot. */
function compareAccounts(db: Db, x: Expected, problems: Problems): number {
  let n = 0;
  const rows = db.prepare(`SELECT ${ACCOUNT_COLS.join(', ')} FROM accounts`).raw().iterate() as IterableIterator<AccountBinding>;
  for (const r of rows) {
    n++;
    const want = x.accounts.get(r[0])?.row ?? ([r[0], 0, 0, 0, 0] as AccountBinding);
    if (!same(r, want)) problems.add(`accounts row ${r[0]} edited: ${differences(ACCOUNT_COLS, r, want)}`);
    x.accounts.delete(r[0]);
  }
  for (const [id, want] of x.accounts) problems.add(`accounts row ${id} (snapshot version ${want.row[1]}) is missing (deleted; link ${want.link} binds it)`);
  return n;
}

/** The balance rule of accounts.ts, over the rows the chain says are there. */
function expectedBalances(x: Expected): Map<string, { cents: number; points: number }> {
  const out = new Map<string, { cents: number; points: number }>();
  for (const { row: a } of x.accounts.values()) out.set(a[0], { cents: a[2], points: a[3] });
  for (const { row: e } of x.entries.values()) {
    const snap = x.accounts.get(e[1])?.row;
    const version = snap?.[1] ?? 0;
    const covered = snap?.[4] ?? 0;
    if (e[7] === null ? e[8] <= covered : e[7] <= version) continue;
    const b = out.get(e[1]) ?? { cents: 0, points: 0 };
    b.cents += e[3];
    b.points += e[4];
    out.set(e[1], b);
  }
  return out;
}

function compareBalances(db: Db, want: Map<string, { cents: number; points: number }>, problems: Problems): void {
  const rows = db
    .prepare(
      `SELECT a.account_id, a.balance_cents + COALESCE(SUM(e.amount_cents), 0), a.points + COALESCE(SUM(e.points), 0)
         FROM accounts a LEFT JOIN entries e ON e.account_id = a.account_id
              AND CASE WHEN e.account_version IS NULL THEN e.outbox_seq > a.covered_seq ELSE e.account_version > a.version END
        GROUP BY a.account_id`,
    )
    .raw()
    .iterate() as IterableIterator<[string, number, number]>;
  for (const [id, cents, points] of rows) {
    const w = want.get(id) ?? { cents: 0, points: 0 };
    if (w.cents !== cents || w.points !== points) problems.add(`account ${id}: balance ${cents} cents and ${points} points from the tables, ${w.cents} cents and ${w.points} points by the money chain`);
  }
}

function checkAnchor(db: Db, gatewayId: string, chain: 'audit' | 'money', source: AnchorCheck['source'], h: AuditHead, problems: Problems): AnchorCheck {
  const check = (result: AnchorCheck['result']): AnchorCheck => ({ chain, source, seq: h.seq, result });
  const who = source === 'acknowledged' ? `the ${chain} head the cloud acknowledged` : `the given ${chain} head`;
  let found: string | undefined;
  if (chain === 'audit') {
    const headSeq = getMetaInt(db, META.auditHeadSeq);
    const floor = auditAnchor(db, gatewayId);
    if (h.seq > headSeq) return problems.add(`${who} (#${h.seq}) is beyond the trail's head #${headSeq}: records were cut off`), check('beyond_head');
    if (h.seq < floor.seq) {
      if (source === 'given') problems.add(`${who} (#${h.seq}) cannot be checked: retention removed the trail up to #${floor.seq}; give a newer head`);
      return check('pruned');
    }
    found = h.seq === floor.seq ? floor.hash : (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(h.seq) as { hash: string } | undefined)?.hash;
  } else {
    const headSeq = getMetaInt(db, META.moneyHeadSeq);
    if (h.seq > headSeq) return problems.add(`${who} (#${h.seq}) is beyond the money chain's head #${headSeq}: links were cut off`), check('beyond_head');
    const floor = moneyAnchor(db, gatewayId);
    if (h.seq < floor.seq) {
      if (source === 'given') problems.add(`${who} (#${h.seq}) cannot be checked: retention removed the money chain up to #${floor.seq}; give a newer head`);
      return check('pruned');
    }
    found = h.seq === floor.seq ? floor.hash : (db.prepare('SELECT hash FROM money_chain WHERE seq = ?').get(h.seq) as { hash: string } | undefined)?.hash;
  }
  if (found !== h.hash) {
    problems.add(`${who} (#${h.seq}) is not in the ${chain === 'audit' ? 'audit trail' : 'money chain'}: the history below it was rewritten`);
    return check('not_contained');
  }
  return check('contained');
}

function acknowledged(db: Db, seqKey: string, hashKey: string): AuditHead | null {
  const hash = getMeta(db, hashKey);
  return hash === undefined ? null : { seq: getMetaInt(db, seqKey), hash };
}

function verifyMoney(db: Db, gatewayId: string, heads: VerifyHeads, problems: Problems): { money: MoneySummary; anchors: AnchorCheck[] } {
  if (getMeta(db, META.moneyChainPending) !== undefined) problems.add('money rows are not chained yet (migration 13): start the daemon once');
  const { expected, links, head } = replay(db, gatewayId, problems);
  const storedSeq = getMetaInt(db, META.moneyHeadSeq);
  const storedHash = getMeta(db, META.moneyHeadHash) ?? moneyGenesis(gatewayId);
  if (storedSeq !== head.seq || storedHash !== head.hash) problems.add(`money chain: the stored head is link ${storedSeq} but the chain ends at ${head.seq} as it stands (links cut off, added or edited at the end)`);
  const balances = expectedBalances(expected);
  const entries = compareEntries(db, expected, problems);
  const vends = compareVends(db, expected, problems);
  const accounts = compareAccounts(db, expected, problems);
  compareBalances(db, balances, problems);
  const anchors: AnchorCheck[] = [];
  const ackedAudit = acknowledged(db, META.auditAckedSeq, META.auditAckedHash);
  const ackedMoney = acknowledged(db, META.moneyAckedSeq, META.moneyAckedHash);
  if (ackedAudit) anchors.push(checkAnchor(db, gatewayId, 'audit', 'acknowledged', ackedAudit, problems));
  if (ackedMoney) anchors.push(checkAnchor(db, gatewayId, 'money', 'acknowledged', ackedMoney, problems));
  if (heads.audit) anchors.push(checkAnchor(db, gatewayId, 'audit', 'given', heads.audit, problems));
  if (heads.money) anchors.push(checkAnchor(db, gatewayId, 'money', 'given', heads.money, problems));
  return { money: { links, head, entries, vends, accounts }, anchors };
}

/** The audit trail's hash chain, then the money rows against the money chain, then the anchors. */
export function verifyLedger(db: Db, gatewayId: string, heads: VerifyHeads = {}): LedgerVerdict {
  return db.transaction((): LedgerVerdict => {
    const chain = verifyAudit(db, gatewayId);
    const problems = new Problems();
    if (!chain.ok) problems.add(`audit trail broken at record ${chain.atSeq}: ${chain.problem}`);
    const { money, anchors } = verifyMoney(db, gatewayId, heads, problems);
    if (problems.more > 0) problems.list.push(`… and ${problems.more} more`);
    const first = problems.list[0];
    if (!chain.ok) return { ok: false, atSeq: chain.atSeq, problem: chain.problem, problems: problems.list };
    if (first !== undefined) return { ok: false, atSeq: 0, problem: first, problems: problems.list };
    return { ...chain, money, anchors };
  }).deferred();
}
