// The ledger opened read-only, for CLI commands while the daemon is down (and for `db backup`).
// The storage layer's own read functions run on a `readonly` connection, so no SQL lives here and
// nothing can be written: no migration, no pragma change, no second writer beside the daemon.
//
// One trap: opening a WAL database read-only creates its -wal and -shm files when they are
// missing and leaves them behind. Created by root, they would lock the service user out of its
// own ledger, so when running as root they are handed to the ledger file's owner.
import { chownSync, existsSync, readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import type { LedgerReader } from '../control/queries.js';
import * as accounts from '../../storage/accounts.js';
import { auditHead, verifyAudit } from '../../storage/audit.js';
import { backup, integrityCheck, ledgerStats, type IntegrityResult } from '../../storage/backup.js';
import { lookupCard } from '../../storage/cards.js';
import type { LedgerContext } from '../../storage/context.js';
import { MIGRATIONS } from '../../storage/migrations.js';
import { listDeadLetters, outboxStats } from '../../storage/outbox.js';
import { recentVends } from '../../storage/vends.js';

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
  let hex: string;
  try {
    hex = readFileSync(path, 'utf8').trim();
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : 'error';
    throw new LedgerUnavailableError(`cannot read the room secret ${path} (${code}): card lookups need it; run as root or as the service user`);
  }
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new LedgerUnavailableError(`${path}: room secret is not 64 hex digits`);
  return Buffer.from(hex, 'hex');
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
    clock: o.clock ?? systemClock,
    logger: silentLogger(),
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
    verifyAudit: () => verifyAudit(db, o.gatewayId),
    lookupCard: (uid) => lookupCard(ctx, uid),
    stats: () => ledgerStats(ctx),
    auditHead: () => auditHead(ctx),
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
