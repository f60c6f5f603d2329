// Migration 14: fewer index pages rewritten by each money step, for the SD card's write budget
// (docs/performance.md section 7). Every index below is one more 1 KiB page in the WAL, and later
// in the checkpoint, at each commit that changes its key.
//
// - vends_created (migration 1): no query reads vends by created_ms (usage reads created_ms
//   through vends_account_usage): it cost a page at every hold for nothing.
// - vends_last_outbox_seq (migration 2): last_outbox_seq changes at every step (hold, credit
//   evidence, capture or refund), so the index cost a page at each. The ack and the exposure
//   read account vends by last_outbox_seq through vends_unsynced_cost (migration 8), which stays;
//   the one other reader, retention's prune (daily), matched every acknowledged vend through
//   it (last_outbox_seq <= the ack watermark), a scan of the table in index order: it now scans
//   the table itself.
// - audit_outbox_seq (migration 3): no query reads it. Retention's search for the first record
//   not yet acknowledged (MIN(seq) … WHERE outbox_seq IS NULL OR outbox_seq > ?) walks the table
//   in seq order and stops at the first match, with or without it. A page at every audit record.
// - entries.cloud_id was UNIQUE, an index holding every entry, NULL for every hold and capture:
//   each vend inserted two keys into it. Only top-ups have a cloud id, and only they are looked
//   up by it: a partial unique index keeps them unique and indexed. SQLite cannot drop a UNIQUE
//   constraint, so the table is rebuilt (same columns, same rows and entry ids, the foreign keys,
//   indexes and the append-only triggers of migrations 1 and 3).
// - The unsynced-exposure tally's update triggers (migration 9) took a vend out at its old cost
//   and put it back at its new one at every step, rewriting the tally's page even when nothing
//   changed: the credit evidence (still the held amount) and a full capture (captured = held).
//   They now skip an update that leaves the vend counted, for the same account, at the same
//   cost; any other update is taken out and put in as before.
import type { Migration } from './migration.js';
import { add, cost, counts } from './migration-9-exposure-tally.js';

/** Counted before and after, for the same account, at the same cost: the tally does not move. */
const unchanged = `(${counts('OLD')}) AND (${counts('NEW')}) AND IFNULL(OLD.account_id, '') = IFNULL(NEW.account_id, '') AND (${cost('OLD')}) IS (${cost('NEW')})`;

export const migration14: Migration = {
  version: 14,
  sql: `
DROP INDEX vends_created;
DROP INDEX vends_last_outbox_seq;
DROP INDEX audit_outbox_seq;

CREATE TABLE entries_v14 (
  entry_id        INTEGER PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(account_id),
  kind            TEXT NOT NULL CHECK (kind IN ('hold', 'capture', 'refund', 'topup', 'points')),
  amount_cents    INTEGER NOT NULL,
  points          INTEGER NOT NULL DEFAULT 0,
  vend_id         TEXT REFERENCES vends(vend_id),
  cloud_id        TEXT,
  account_version INTEGER,
  outbox_seq      INTEGER NOT NULL,
  created_ms      INTEGER NOT NULL
) STRICT;
INSERT INTO entries_v14 (entry_id, account_id, kind, amount_cents, points, vend_id, cloud_id, account_version, outbox_seq, created_ms)
  SELECT entry_id, account_id, kind, amount_cents, points, vend_id, cloud_id, account_version, outbox_seq, created_ms FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v14 RENAME TO entries;
CREATE UNIQUE INDEX entries_cloud_id ON entries(cloud_id) WHERE cloud_id IS NOT NULL;
CREATE INDEX entries_account ON entries(account_id, outbox_seq);
CREATE INDEX entries_vend ON entries(vend_id);
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'pruning' AND value = '1')
  BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;

DROP TRIGGER vends_exposure_update_out;
DROP TRIGGER vends_exposure_update_in;
CREATE TRIGGER vends_exposure_update_out AFTER UPDATE ON vends WHEN (${counts('OLD')}) AND NOT (${unchanged})
  BEGIN ${add('OLD', '-')} END;
CREATE TRIGGER vends_exposure_update_in AFTER UPDATE ON vends WHEN (${counts('NEW')}) AND NOT (${unchanged})
  BEGIN ${add('NEW', '+')} END;
`,
};
