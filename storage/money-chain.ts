// The money chain: every transaction that moves money appends ONE link that binds the money rows
// it wrote (balance entries, the vend's money columns, a fault refund, an account snapshot) and
// the audit head at that moment, hash-chained like the audit trail. The link is written at the
// end of the transaction that wrote the rows (context.ts setTxHook), so it costs one row and no
// fsync of its own. `audit verify` replays the chain and names every row that disagrees
// (storage/money-verify.ts). Unkeyed SHA-256 on purpose: whoever holds the SD card holds the room
// secret too, so a key would stop nobody who can write the file, and would keep the cloud from
// checking the chain; the anchor no local writer can move is the head the cloud acknowledged.
import { createHash } from 'node:crypto';
import { META, getMeta, getMetaInt, setMeta, setTxHook, type LedgerContext } from './context.js';
import type { Db } from './db.js';
import type { AuditHead } from './audit.js';
import { auditHead } from './audit.js';

/** One entries row: [entryId, accountId, kind, amountCents, points, vendId, cloudId, accountVersion, outboxSeq]. */
export type EntryBinding = [number, string, string, number, number, string | null, string | null, number | null, number];
/** The vend's money: [vendId, funding, accountId, amountCents, state, capturedCents, refundedCents]; state 'open' for held and credit_sent. */
export type VendBinding = [string, string, string | null, number, string, number | null, number | null];
/** A refund of a captured vend (vend_adjustments; a vend may have several, one per key): [vendId, refundKey, amountCents, points]. */
export type AdjustmentBinding = [string, string, number, number];

export const ADJUSTMENT_BINDING_SQL = 'SELECT vend_id, refund_key, amount_cents, points FROM vend_adjustments';

/** The key a refund row is known by in the chain: a vend's refunds are told apart by their key. */
export function adjustmentKey(j: AdjustmentBinding): string {
  return `${j[0]} ${j[1]}`;
}
/** An account's snapshot: [accountId, version, balanceCents, points, coveredSeq]. */
export type AccountBinding = [string, number, number, number, number];

/** What one link binds. Retention's link names what it removed (dv, de): those rows are gone lawfully. */
export interface LinkDetail {
  e?: EntryBinding[];
  v?: VendBinding[];
  j?: AdjustmentBinding[];
  a?: AccountBinding[];
  dv?: string[];
  de?: number[];
}

export interface MoneyLinkRow {
  seq: number;
  wall_ms: number;
  audit_seq: number;
  audit_hash: string;
  outbox_seq: number;
  detail: string;
  prev_hash: string;
  hash: string;
}

export function moneyGenesis(gatewayId: string): string {
  return createHash('sha256').update(`laundry-gateway/money/v1/${gatewayId}`).digest('hex');
}

/** Field order fixed here, as for the audit trail. */
export function moneyLinkHash(prevHash: string, l: Pick<MoneyLinkRow, 'seq' | 'wall_ms' | 'audit_seq' | 'audit_hash' | 'outbox_seq' | 'detail'>): string {
  const canonical = JSON.stringify([1, l.seq, l.wall_ms, l.audit_seq, l.audit_hash, l.outbox_seq, l.detail]);
  return createHash('sha256').update(prevHash).update('\n').update(canonical).digest('hex');
}

/** Where the replay starts: the genesis, or the last link retention removed. */
export function moneyAnchor(db: Db, gatewayId: string): AuditHead {
  return { seq: getMetaInt(db, META.moneyAnchorSeq), hash: getMeta(db, META.moneyAnchorHash) ?? moneyGenesis(gatewayId) };
}

export function moneyHead(db: Db, gatewayId: string): AuditHead {
  return { seq: getMetaInt(db, META.moneyHeadSeq), hash: getMeta(db, META.moneyHeadHash) ?? moneyGenesis(gatewayId) };
}

// ---- reading the rows to bind ------------------------------------------------------------------

export function entryBinding(db: Db, entryId: number): EntryBinding | undefined {
  const r = db
    .prepare('SELECT entry_id, account_id, kind, amount_cents, points, vend_id, cloud_id, account_version, outbox_seq FROM entries WHERE entry_id = ?')
    .raw()
    .get(entryId) as EntryBinding | undefined;
  return r;
}

/** held and credit_sent are one money state: nothing is owed either way until the vend finishes. */
export const VEND_BINDING_SQL = `SELECT vend_id, funding, account_id, amount_cents,
  CASE WHEN state IN ('held', 'credit_sent') THEN 'open' ELSE state END, captured_cents, refunded_cents FROM vends`;

export function vendBinding(db: Db, vendId: string): VendBinding | undefined {
  return db.prepare(`${VEND_BINDING_SQL} WHERE vend_id = ?`).raw().get(vendId) as VendBinding | undefined;
}

export function adjustmentBindings(db: Db, vendId: string): AdjustmentBinding[] {
  return db.prepare(`${ADJUSTMENT_BINDING_SQL} WHERE vend_id = ? ORDER BY refund_key`).raw().all(vendId) as AdjustmentBinding[];
}

export function accountBinding(db: Db, accountId: string): AccountBinding | undefined {
  return db.prepare('SELECT account_id, version, balance_cents, points, covered_seq FROM accounts WHERE account_id = ?').raw().get(accountId) as AccountBinding | undefined;
}

// ---- appending ---------------------------------------------------------------------------------

/**
 * Appends one link (inside the caller's transaction). outboxSeq: the outbox record whose ack
 * puts this link under an acknowledged head (retention keys on it, as on the audit trail's).
 */
export function appendMoneyLink(ctx: LedgerContext, detail: LinkDetail, outboxSeq: number): MoneyLinkRow {
  const head = moneyHead(ctx.db, ctx.gatewayId);
  const audit = auditHead(ctx);
  const content = {
    seq: head.seq + 1,
    wall_ms: Math.floor(ctx.clock.now()),
    audit_seq: audit.seq,
    audit_hash: audit.hash,
    outbox_seq: outboxSeq,
    detail: JSON.stringify(detail),
  };
  const hash = moneyLinkHash(head.hash, content);
  ctx.db
    .prepare('INSERT INTO money_chain (seq, wall_ms, audit_seq, audit_hash, outbox_seq, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(content.seq, content.wall_ms, content.audit_seq, content.audit_hash, content.outbox_seq, content.detail, head.hash, hash);
  setMeta(ctx.db, META.moneyHeadSeq, String(content.seq));
  setMeta(ctx.db, META.moneyHeadHash, hash);
  return { ...content, prev_hash: head.hash, hash };
}

interface Pending {
  entries: number[];
  vends: Set<string>;
  accounts: Set<string>;
  outboxSeq: number;
}
const pending = new WeakMap<Db, Pending>();

function pendingOf(ctx: LedgerContext): Pending {
  let p = pending.get(ctx.db);
  if (p === undefined) {
    const fresh: Pending = { entries: [], vends: new Set(), accounts: new Set(), outboxSeq: 0 };
    p = fresh;
    pending.set(ctx.db, fresh);
    setTxHook(ctx.db, {
      commit: () => {
        pending.delete(ctx.db);
        flush(ctx, fresh);
      },
      rollback: () => void pending.delete(ctx.db),
    });
  }
  return p;
}

/** The rows are read back at the end of the transaction: what the link binds is what commits. */
function flush(ctx: LedgerContext, p: Pending): void {
  const detail: LinkDetail = {};
  const e = p.entries.map((id) => entryBinding(ctx.db, id)).filter((x): x is EntryBinding => x !== undefined);
  const vendIds = [...p.vends];
  const v = vendIds.map((id) => vendBinding(ctx.db, id)).filter((x): x is VendBinding => x !== undefined);
  const j = vendIds.flatMap((id) => adjustmentBindings(ctx.db, id));
  const a = [...p.accounts].map((id) => accountBinding(ctx.db, id)).filter((x): x is AccountBinding => x !== undefined);
  if (e.length > 0) detail.e = e;
  if (v.length > 0) detail.v = v;
  if (j.length > 0) detail.j = j;
  if (a.length > 0) detail.a = a;
  if (Object.keys(detail).length === 0) return;
  // A transaction without an outbox record of its own (a snapshot) is acknowledged with the next one.
  appendMoneyLink(ctx, detail, p.outboxSeq > 0 ? p.outboxSeq : getMetaInt(ctx.db, META.outboxLastSeq) + 1);
}

/** A balance entry was written in this transaction (accounts.ts addEntry). */
export function bindEntry(ctx: LedgerContext, entryId: number, outboxSeq: number): void {
  const p = pendingOf(ctx);
  p.entries.push(entryId);
  p.outboxSeq = Math.max(p.outboxSeq, outboxSeq);
}

/** A vend's money columns (or its fault refund) may have changed in this transaction (outbox.ts recordFact). */
export function bindVend(ctx: LedgerContext, vendId: string, outboxSeq: number): void {
  const p = pendingOf(ctx);
  p.vends.add(vendId);
  p.outboxSeq = Math.max(p.outboxSeq, outboxSeq);
}

/** An account's snapshot was applied in this transaction. */
export function bindAccount(ctx: LedgerContext, accountId: string): void {
  pendingOf(ctx).accounts.add(accountId);
}

// ---- chaining what a ledger held before migration 13 --------------------------------------------

const CHUNK = 2000;

function chunked<T>(rows: T[], key: keyof LinkDetail, out: LinkDetail[]): void {
  for (let i = 0; i < rows.length; i += CHUNK) out.push({ [key]: rows.slice(i, i + CHUNK) });
}

/**
 * Once, at the first open after migration 13, in one transaction: every money row the ledger
 * holds is bound as it stands (in links of up to 2 000 rows), then the pending mark goes. What
 * was edited before this runs cannot be told from what was not; from here on it can.
 */
export function chainExistingMoneyRows(ctx: LedgerContext): number {
  if (getMeta(ctx.db, META.moneyChainPending) === undefined) return 0;
  const db = ctx.db;
  const details: LinkDetail[] = [];
  chunked(db.prepare('SELECT account_id, version, balance_cents, points, covered_seq FROM accounts WHERE version > 0 ORDER BY account_id').raw().all() as AccountBinding[], 'a', details);
  chunked(db.prepare(`${VEND_BINDING_SQL} ORDER BY rowid`).raw().all() as VendBinding[], 'v', details);
  chunked(db.prepare(`${ADJUSTMENT_BINDING_SQL} ORDER BY vend_id, refund_key`).raw().all() as AdjustmentBinding[], 'j', details);
  chunked(
    db.prepare('SELECT entry_id, account_id, kind, amount_cents, points, vend_id, cloud_id, account_version, outbox_seq FROM entries ORDER BY entry_id').raw().all() as EntryBinding[],
    'e',
    details,
  );
  const last = getMetaInt(db, META.outboxLastSeq);
  for (const d of details) appendMoneyLink(ctx, d, last + 1);
  db.prepare('DELETE FROM meta WHERE key = ?').run(META.moneyChainPending);
  if (details.length > 0) ctx.logger.info({ links: details.length }, 'money rows chained (migration 13)');
  return details.length;
}
