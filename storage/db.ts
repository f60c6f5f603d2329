// Opens the ledger file with the pragmas the money needs and brings its schema up to date.
import { closeSync, existsSync, fchmodSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from './deps.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  path: string;
  logger: Logger;
  busyTimeoutMs?: number;
  /** For tests of the migration runner only. */
  migrations?: readonly Migration[];
}

function pragmaValue(db: Db, name: string): unknown {
  return db.pragma(name, { simple: true });
}

/**
 * better-sqlite3 is built with DEFAULT_WAL_SYNCHRONOUS=1, so every reopen of a WAL file starts
 * at NORMAL and can lose the last commits on power loss: FULL is set, then read back, each open.
 */
export function applyPragmas(db: Db, busyTimeoutMs: number): void {
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new Error(`ledger: journal_mode is ${String(mode)}, not wal`);
  db.pragma('synchronous = FULL');
  if (pragmaValue(db, 'synchronous') !== 2) throw new Error('ledger: synchronous=FULL did not stick');
  db.pragma('foreign_keys = ON');
  if (pragmaValue(db, 'foreign_keys') !== 1) throw new Error('ledger: foreign_keys=ON did not stick');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
}

export function migrate(db: Db, logger: Logger, migrations: readonly Migration[] = MIGRATIONS): number {
  const current = Number(pragmaValue(db, 'user_version'));
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  if (current > latest) {
    // A newer daemon wrote this file; an older one must not guess at a schema it does not know.
    // Said so the operator knows what happened (a package downgrade) and what to do; nothing
    // has been written to the file.
    throw new Error(
      `ledger: schema version ${current} is newer than this build knows (${latest}): it was written by a newer laundry-gateway. ` +
        'Downgrading below the ledger\'s schema is not supported: reinstall the newer version (the ledger is left untouched).',
    );
  }
  const pending = [...migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    const step = db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    step.immediate();
    logger.info({ schemaVersion: m.version }, 'ledger schema migrated');
  }
  return Number(pragmaValue(db, 'user_version'));
}

/**
 * Page size of a NEW ledger file. Each commit appends every page it touched to the WAL and
 * fsyncs it; a vend's commits touch a few small rows in several tables and indexes, so with
 * SQLite's default 4 KiB most of each page written is unchanged bytes. 1 KiB pages cut the
 * bytes a vend writes to the SD card (test/bench/sd-writes.ts, docs/performance.md). An
 * existing file keeps the page size it was made with (changing it would need a VACUUM).
 */
export const NEW_LEDGER_PAGE_SIZE = 1024;

/**
 * Creates the ledger file 0600 before SQLite does, whatever the umask: SQLite gives its -wal and
 * -shm files the database file's mode, so none of the three is readable by other users.
 */
export function createPrivateFile(path: string): void {
  if (path === ':memory:' || path === '' || existsSync(path)) return;
  const fd = openSync(path, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // the umask can only take bits away; this is the mode we mean
  } finally {
    closeSync(fd);
  }
}

export function openDatabase(opts: OpenDatabaseOptions): Db {
  createPrivateFile(opts.path);
  const db = new Database(opts.path);
  try {
    // Only before the first table exists does page_size take effect.
    if (Number(pragmaValue(db, 'page_count')) === 0) db.pragma(`page_size = ${NEW_LEDGER_PAGE_SIZE}`);
    applyPragmas(db, opts.busyTimeoutMs ?? 5000);
    migrate(db, opts.logger, opts.migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Reads the pragmas back, for tests and the status page. */
export function readPragmas(db: Db): { journalMode: string; synchronous: number; foreignKeys: number; userVersion: number } {
  return {
    journalMode: String(pragmaValue(db, 'journal_mode')),
    synchronous: Number(pragmaValue(db, 'synchronous')),
    foreignKeys: Number(pragmaValue(db, 'foreign_keys')),
    userVersion: Number(pragmaValue(db, 'user_version')),
  };
}
