// The state a refused request must leave as it was, read through a second, read-only connection
// to the ledger file: money (entries), vends, cards and local card overrides, and the outbox's
// money records and problem reports. Alerts are left out (refusals are audited as alerts on
// purpose) and so are machine-state events (the room goes on while requests are refused).
import Database from 'better-sqlite3';

export class LedgerState {
  private readonly db: Database.Database;
  private readonly stmt: Database.Statement;

  constructor(path: string) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
    this.stmt = this.db.prepare(`SELECT
      (SELECT COUNT(*) || ':' || IFNULL(SUM(amount_cents), 0) FROM entries) AS entries,
      (SELECT IFNULL(group_concat(vend_id || '=' || state, ','), '') FROM vends) AS vends,
      (SELECT IFNULL(group_concat(hex(uid_hash) || '=' || status, ','), '') FROM cards) AS cards,
      (SELECT IFNULL(group_concat(hex(uid_hash) || '=' || status, ','), '') FROM card_overrides) AS overrides,
      (SELECT COUNT(*) || ':' || IFNULL(MAX(seq), 0) FROM outbox WHERE money = 1 OR type = 'feedback') AS outbox`);
  }

  snapshot(): string {
    return JSON.stringify(this.stmt.get());
  }

  close(): void {
    this.db.close();
  }
}
