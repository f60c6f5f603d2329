// The ledger opened read-only, for CLI commands while the daemon is down (and for `db backup`).
// The ledger's own read functions run on a `readonly` connection, so nothing can be written: no
// migration, no pragma change, no second writer beside the daemon.
//
// One trap: opening a WAL database read-only creates its -wal and -shm files when they are
// missing and leaves them behind. Created by root, they would lock the service user out of its
// own ledger, so when running as root they are handed to the ledger file's owner.
import { chownSync, existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import * as accounts from './accounts.js';
import { auditHead } from './audit.js';
import { backup, integrityCheck, ledgerStats, type IntegrityResult } from './backup.js';
import { lookupCard } from './cards.js';
import type { LedgerContext } from './context.js';
import type { Clock } from './deps.js';
import type { Ledger, LedgerOutbox } from './index.js';
import { MIGRATIONS } from './migrations.js';
import { moneyHead } from './money-chain.js';
import { verifyLedger } from './money-verify.js';
import { listDeadLetters, outboxStats } from './outbox.js';
import { readRoomSecret as readSecretFile } from './room-secret.js';
import { recentVends } from './vends.js';

/** What reading needs of a ledger: met by the daemon's open Ledger and by the read-only one. */
export type LedgerReader = Pick<Ledger, 'path' | 'recentVends' | 'verifyAudit' | 'lookupCard' | 'stats' | 'auditHead' | 'moneyHead' | 'balance'> & {
  readonly outbox: Pick<LedgerOutbox, 'stats' | 'deadLetters'>;
};

export interface ReadOnlyLedger extends LedgerReader {
  readonly schemaVersion: number;
  integrityCheck(opts?: { quick?: boolean }): IntegrityResult;
  /** SQLite's online backup: a consistent copy even while the daemon writes. */
  backup(toPath: string): Promise<{ totalPages: number }>;
  close(): void;
}

export interface OpenReadOnlyOptions {
  path: string;
  gatewayId: string;
  /** Needed only to look up a card (UIDs are stored as HMACs); default: beside the database. */
  roomSecretPath: string;
  clock?: Clock;
}

export class LedgerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LedgerUnavailableError';
  }
}

function readRoomSecret(path: string): Buffer {
  try {
    return readSecretFile(path);
  } catch (e) {
    throw new LedgerUnavailableError(`${e instanceof Error ? e.message : String(e)}: card lookups need it; run as root or as the service user`);
  }
}

/** Hands -wal/-shm files this process created to the ledger's owner (only root can, and must). */
function giveBackSideFiles(path: string, existed: ReadonlySet<string>): void {
  if (process.getuid?.() !== 0) return;
  const owner = statSync(path);
  for (const f of [`${path}-wal`, `${path}-shm`]) {
    if (existed.has(f) || !existsSync(f)) continue;
    const st = statSync(f);
    if (st.uid !== owner.uid || st.gid !== owner.gid) chownSync(f, owner.uid, owner.gid);
  }
}

export function openLedgerReadOnly(o: OpenReadOnlyOptions): ReadOnlyLedger {
  if (!existsSync(o.path)) throw new LedgerUnavailableError(`no ledger at ${o.path}`);
  const existed = new Set([`${o.path}-wal`, `${o.path}-shm`].filter((f) => existsSync(f)));
  let db: Database.Database;
  try {
    db = new Database(o.path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new LedgerUnavailableError(`cannot open ${o.path} read-only: ${e instanceof Error ? e.message : String(e)}`);
  }
  let schemaVersion: number;
  try {
    db.pragma('busy_timeout = 5000');
    schemaVersion = Number(db.pragma('user_version', { simple: true }));
    giveBackSideFiles(o.path, existed);
  } catch (e) {
    db.close();
    throw new LedgerUnavailableError(`cannot read ${o.path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const latest = MIGRATIONS.reduce((m, x) => Math.max(m, x.version), 0);
  if (schemaVersion !== latest) {
    db.close();
    throw new LedgerUnavailableError(`${o.path} has schema version ${schemaVersion}, this build reads version ${latest}: start the daemon once to migrate it`);
  }
  let secret: Buffer | null = null;
  const ctx: LedgerContext = {
    db,
    clock: o.clock ?? { now: () => Date.now(), monotonic: () => performance.now() },
    logger: pino({ level: 'silent' }),
    gatewayId: o.gatewayId,
    bootId: 'cli-read-only',
    get roomSecret(): Buffer {
      secret ??= readRoomSecret(o.roomSecretPath);
      return secret;
    },
    clockTrusted: () => false,
  };
  return {
    path: o.path,
    schemaVersion,
    recentVends: (n) => recentVends(ctx, n),
    verifyAudit: (heads) => verifyLedger(db, o.gatewayId, heads),
    lookupCard: (uid) => lookupCard(ctx, uid),
    stats: () => ledgerStats(ctx),
    auditHead: () => auditHead(ctx),
    moneyHead: () => moneyHead(db, o.gatewayId),
    balance: (id) => accounts.balance(ctx, id),
    outbox: {
      stats: () => outboxStats(ctx),
      deadLetters: (n) => listDeadLetters(ctx, n),
    },
    integrityCheck: (opts) => integrityCheck(ctx, opts),
    backup: (to) => backup(ctx, to),
    close: () => {
      if (db.open) db.close();
      giveBackSideFiles(o.path, existed);
    },
  };
}
