// Health and copies: integrity check, online backup (better-sqlite3's backup API, which copies
// a consistent snapshot while the daemon keeps writing), and size figures.
import { statSync } from 'node:fs';
import type { LedgerContext } from './context.js';
import { createPrivateFile } from './db.js';

export interface IntegrityResult {
  ok: boolean;
  messages: string[];
  foreignKeyViolations: number;
}

/** quick: PRAGMA quick_check (skips index-vs-table checks), for a fast start-up on a big file. */
export function integrityCheck(ctx: LedgerContext, opts: { quick?: boolean } = {}): IntegrityResult {
  const pragma = opts.quick === true ? 'quick_check' : 'integrity_check';
  const rows = ctx.db.pragma(pragma) as Array<Record<string, string>>;
  const messages = rows.map((r) => r[pragma] ?? '');
  const fk = ctx.db.pragma('foreign_key_check') as unknown[];
  const ok = messages.length === 1 && messages[0] === 'ok' && fk.length === 0;
  return { ok, messages, foreignKeyViolations: fk.length };
}

export async function backup(ctx: LedgerContext, toPath: string): Promise<{ totalPages: number }> {
  createPrivateFile(toPath); // a copy of the ledger is as private as the ledger
  const meta = await ctx.db.backup(toPath);
  ctx.logger.info({ toPath, pages: meta.totalPages }, 'ledger backed up');
  return { totalPages: meta.totalPages };
}

export interface LedgerStats {
  fileBytes: number;
  walBytes: number;
  pageSize: number;
  pageCount: number;
  freePages: number;
  vends: number;
  unfinishedVends: number;
  auditRecords: number;
  entries: number;
  cards: number;
  usedTokens: number;
}

function count(ctx: LedgerContext, sql: string): number {
  return (ctx.db.prepare(sql).get() as { n: number }).n;
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function ledgerStats(ctx: LedgerContext): LedgerStats {
  const file = ctx.db.name;
  return {
    fileBytes: sizeOf(file),
    walBytes: sizeOf(`${file}-wal`),
    pageSize: Number(ctx.db.pragma('page_size', { simple: true })),
    pageCount: Number(ctx.db.pragma('page_count', { simple: true })),
    freePages: Number(ctx.db.pragma('freelist_count', { simple: true })),
    vends: count(ctx, 'SELECT COUNT(*) AS n FROM vends'),
    unfinishedVends: count(ctx, "SELECT COUNT(*) AS n FROM vends WHERE state IN ('held', 'credit_sent')"),
    auditRecords: count(ctx, 'SELECT COUNT(*) AS n FROM audit'),
    entries: count(ctx, 'SELECT COUNT(*) AS n FROM entries'),
    cards: count(ctx, 'SELECT COUNT(*) AS n FROM cards'),
    usedTokens: count(ctx, 'SELECT COUNT(*) AS n FROM used_tokens'),
  };
}
