// Migration 13: the money chain (storage/money-chain.ts, docs/ledger.md "Tamper-evident money").
// Every transaction that moves money appends one link binding the rows it wrote (entries, the
// vend's money columns, a fault refund, an account snapshot) and the audit head at that moment,
// hash-chained like the audit trail. The money rows a ledger already holds are chained once, at
// the first open after this migration (SQL cannot hash): meta money_chain_pending says it is due.
import type { Migration } from './migration.js';

export const migration13: Migration = {
  version: 13,
  sql: `
CREATE TABLE money_chain (
  seq        INTEGER PRIMARY KEY,
  wall_ms    INTEGER NOT NULL,
  audit_seq  INTEGER NOT NULL,
  audit_hash TEXT NOT NULL,
  outbox_seq INTEGER NOT NULL,
  detail     TEXT NOT NULL,
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL
) STRICT;
CREATE TRIGGER money_chain_no_update BEFORE UPDATE ON money_chain
  BEGIN SELECT RAISE(ABORT, 'the money chain is append-only'); END;
-- Retention removes the acknowledged prefix (storage/money-prune.ts), at or below the anchor only.
CREATE TRIGGER money_chain_no_delete BEFORE DELETE ON money_chain
  WHEN OLD.seq > COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'money_anchor_seq'), 0)
  BEGIN SELECT RAISE(ABORT, 'the money chain is append-only'); END;
INSERT INTO meta (key, value) VALUES ('money_chain_pending', '1');
`,
};
