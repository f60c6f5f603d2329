// Whether the ledger can write right now. Every money step is a ledger write; when one fails
// (SQLITE_FULL, SQLITE_IOERR, a read-only remount of a dying SD card) the room declines new vends
// with 'ledger_unavailable' rather than credit machines it cannot account for. It heals by itself:
// the engine probes with a small write on its retry timer, and any money write that goes through
// also clears it.
import type { Logger } from '../core/log.js';

export interface LedgerHealthStatus {
  writable: boolean;
  /** The SQLite code (or message) of the last failed write, while not writable. */
  lastError: string | null;
  /** Wall ms of the first failure of the current outage. */
  sinceMs: number | null;
  /** Failed ledger writes seen since start. */
  failures: number;
}

export class LedgerHealth {
  private status: LedgerHealthStatus = { writable: true, lastError: null, sinceMs: null, failures: 0 };
  private readonly listeners = new Set<(s: LedgerHealthStatus) => void>();
  /** The last outage, until it is filed as an alert (which needs a working ledger). */
  private outage: { sinceMs: number; lastError: string | null } | null = null;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  get writable(): boolean {
    return this.status.writable;
  }

  snapshot(): LedgerHealthStatus {
    return { ...this.status };
  }

  onChange(listener: (s: LedgerHealthStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A ledger write threw: the room stops taking vends until a write succeeds again. */
  failed(err: unknown, op: string): void {
    const code = errorCode(err);
    this.status.failures++;
    if (!this.status.writable) {
      this.status.lastError = code;
      return;
    }
    this.status = { ...this.status, writable: false, lastError: code, sinceMs: this.now() };
    this.outage ??= { sinceMs: this.status.sinceMs ?? this.now(), lastError: code };
    this.log.error({ op, err: code }, 'ledger cannot write: the room declines new vends until it can');
    this.emit();
  }

  /** A ledger write went through. */
  ok(): void {
    if (this.status.writable) return;
    this.log.warn({ downSinceMs: this.status.sinceMs, lastError: this.status.lastError }, 'ledger writes again: vends resume');
    this.status = { ...this.status, writable: true, lastError: null, sinceMs: null };
    this.emit();
  }

  /** Once writes succeed again, the outage is filed as an alert (it goes upstream with the outbox); append says whether it was stored. */
  fileOutage(append: (alert: { code: string; message: string; detail: Record<string, unknown> }) => boolean): void {
    const o = this.outage;
    if (o === null || !this.status.writable) return;
    const stored = append({
      code: 'ledger_unwritable',
      message: `the ledger could not write from ${new Date(o.sinceMs).toISOString()} (${o.lastError ?? 'unknown'}); vends were declined meanwhile`,
      detail: { sinceMs: o.sinceMs, lastError: o.lastError },
    });
    if (stored) this.outage = null;
  }

  private emit(): void {
    const s = this.snapshot();
    for (const l of this.listeners) l(s);
  }
}

/** A failure SQLite itself reported (better-sqlite3's SqliteError: code SQLITE_*). */
export function isSqliteError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && err.code.startsWith('SQLITE_');
}

/** SQLITE_IOERR_WRITE and the like by their code; anything else by its message. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}
