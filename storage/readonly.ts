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
import type { LedgerContext } from './context.js';
import type { Clock } from './deps.js';
import { accountsGroup, auditGroup, cardsGroup, maintenanceGroup, outboxGroup, vendsGroup } from './ledger-groups.js';
import type { AccountsLedger, AuditLedger, CardsLedger, LedgerOutbox, MaintenanceLedger, VendsLedger } from './ledger-types.js';
import { MIGRATIONS } from './migrations.js';
import { readRoomSecret as readSecretFile } from './room-secret.js';

/**
 * What reading needs of a ledger, the read side of the domain groups: met by the daemon's open
 * Ledger and by the read-only one.
 */
export interface LedgerReader
  extends Pick<MaintenanceLedger, 'path' | 'stats'>,
    Pick<VendsLedger, 'recentVends'>,
    Pick<AuditLedger, 'verifyAudit' | 'auditHead' | 'moneyHead'>,
    Pick<CardsLedger, 'lookupCard'>,
    Pick<AccountsLedger, 'balance'> {
  readonly outbox: Pick<LedgerOutbox, 'stats' | 'deadLetters'>;
}

export interface ReadOnlyLedger extends LedgerReader, Pick<MaintenanceLedger, 'integrityCheck' | 'backup' | 'close'> {
  readonly schemaVersion: number;
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
  // The groups' own read methods over the read-only connection: a write would fail in SQLite.
  const file = maintenanceGroup(ctx, o.path);
  const audit = auditGroup(ctx);
  const { outbox } = outboxGroup(ctx);
  return {
    path: o.path,
    schemaVersion,
    recentVends: vendsGroup(ctx).recentVends,
    verifyAudit: audit.verifyAudit,
    lookupCard: cardsGroup(ctx).lookupCard,
    stats: file.stats,
    auditHead: audit.auditHead,
    moneyHead: audit.moneyHead,
    balance: accountsGroup(ctx).balance,
    outbox: { stats: outbox.stats, deadLetters: outbox.deadLetters },
    integrityCheck: file.integrityCheck,
    backup: file.backup,
    close: () => {
      file.close();
      giveBackSideFiles(o.path, existed);
    },
  };
}
