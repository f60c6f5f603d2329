// What every ledger module gets passed: the one connection, the injected clock, and who we are.
import type { Clock, Logger } from './deps.js';
import type { Db } from './db.js';

export interface LedgerContext {
  db: Db;
  clock: Clock;
  logger: Logger;
  gatewayId: string;
  bootId: string;
  roomSecret: Buffer;
  clockTrusted(): boolean;
}

export function getMeta(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}

export function getMetaInt(db: Db, key: string): number {
  const v = getMeta(db, key);
  if (v === undefined) return 0;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`ledger: meta ${key} is not an integer`);
  return n;
}

export const META = {
  outboxLastSeq: 'outbox_last_seq',
  outboxAckedSeq: 'outbox_acked_seq',
  auditHeadSeq: 'audit_head_seq',
  auditHeadHash: 'audit_head_hash',
  cardListVersion: 'card_list_version',
  auditAnchorSeq: 'audit_anchor_seq',
  auditAnchorHash: 'audit_anchor_hash',
  pruning: 'pruning',
  moneyHeadSeq: 'money_head_seq',
  moneyHeadHash: 'money_head_hash',
  /** Where the money chain's replay starts once retention removed its prefix (money-prune.ts). */
  moneyAnchorSeq: 'money_anchor_seq',
  moneyAnchorHash: 'money_anchor_hash',
  /** Set by migration 13 until the money rows a ledger already held are chained (money-chain.ts). */
  moneyChainPending: 'money_chain_pending',
  /** The newest heads the cloud acknowledged (down/ack): the anchors a local rewrite cannot move. */
  auditAckedSeq: 'audit_acked_seq',
  auditAckedHash: 'audit_acked_hash',
  moneyAckedSeq: 'money_acked_seq',
  moneyAckedHash: 'money_acked_hash',
} as const;

/**
 * Runs fn in a BEGIN IMMEDIATE transaction: the write lock is taken up front, never upgraded.
 * When the outermost transaction commits after appending to the outbox, the connection's
 * commit listeners are told (the uplink sends at once instead of at its next poll).
 */
export function inTx<T>(db: Db, fn: () => T): T {
  const outer = !db.inTransaction;
  let result: T;
  try {
    result = db
      .transaction(() => {
        if (outer) txRiders.get(db)?.write();
        const r = fn();
        if (outer) runTxHook(db, 'commit');
        return r;
      })
      .immediate();
  } catch (e) {
    if (outer) runTxHook(db, 'rollback');
    if (outer) txRiders.get(db)?.rolledBack();
    const s = appended.get(db);
    if (s && !db.inTransaction) s.pending = false;
    throw e;
  }
  if (outer) txRiders.get(db)?.committed();
  if (!db.inTransaction) notifyCommitted(db);
  return result;
}

/**
 * Work a module asks for at the end of the open transaction: commit() runs inside it, after the
 * caller's writes and before COMMIT (storage/money-chain.ts binds the money rows written in it);
 * rollback() when it rolls back instead. Kept here by shape so that context.ts imports no module
 * that writes.
 */
export interface TxHook {
  commit(): void;
  rollback(): void;
}
const txHooks = new WeakMap<Db, TxHook>();

/** Sets the hook of the open transaction (one per connection: the money chain's). */
export function setTxHook(db: Db, hook: TxHook): void {
  txHooks.set(db, hook);
}

function runTxHook(db: Db, what: 'commit' | 'rollback'): void {
  const h = txHooks.get(db);
  if (h === undefined) return;
  txHooks.delete(db);
  h[what]();
}

/**
 * Writes that ride on the connection's next transaction (storage/events-along.ts): write() runs
 * first inside every outermost transaction, then committed() or rolledBack() once it is over.
 */
export interface TxRider {
  write(): void;
  committed(): void;
  rolledBack(): void;
}
const txRiders = new WeakMap<Db, TxRider>();

export function setTxRider(db: Db, rider: TxRider | undefined): void {
  if (rider === undefined) txRiders.delete(db);
  else txRiders.set(db, rider);
}

/** Per connection: whether the open transaction appended to the outbox, and who to tell at commit. */
const appended = new WeakMap<Db, { pending: boolean; listeners: Set<() => void> }>();

/** Marks the open transaction as one that appended an outbox record (outbox.enqueue). */
export function markOutboxAppended(db: Db): void {
  const s = appended.get(db);
  if (s) s.pending = true;
}

/** Calls listener after each committed transaction that appended to the outbox; returns the unsubscribe. */
export function onOutboxCommitted(db: Db, listener: () => void): () => void {
  let s = appended.get(db);
  if (s === undefined) {
    s = { pending: false, listeners: new Set() };
    appended.set(db, s);
  }
  s.listeners.add(listener);
  const set = s.listeners;
  return () => void set.delete(listener);
}

function notifyCommitted(db: Db): void {
  const s = appended.get(db);
  if (s === undefined || !s.pending) return;
  s.pending = false;
  for (const l of s.listeners) l();
}
