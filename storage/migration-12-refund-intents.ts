// Migration 12: more than one refund of a captured vend, and refunds decided before the machine
// is told (docs/vend-engine.md "Refunds of captured vends").
//
// vend_adjustments gets a refund key: a vend may be refunded once per key (an operator refund,
// a fault refund, each app cancel by its command id), never above what was captured in total
// (refundCaptured checks the sum). SQLite cannot change a primary key, so the table is rebuilt
// and its two triggers (migration 4's no-update, migration 10's exposure) made again; old rows
// keep their reason as key, which is what refundCaptured's default key is. A refund may give
// points back (a vend paid with points): `points`, with cents, at least one of them above 0.
//
// refund_intents: a refund planned before its command goes to the machine (an app cancel of a
// paid credit), with the command's evidence (the LW-485 seq), written in one transaction before
// the frame leaves. The refund, the command's audit record and the intent's removal are one
// later transaction; an intent a crash or a failed write left behind is settled at the next
// start by asking the machine whether the command ran.
import type { Migration } from './migration.js';

const ACKED = `IFNULL((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'outbox_acked_seq'), 0)`;

export const migration12: Migration = {
  version: 12,
  sql: `
CREATE TABLE vend_adjustments_new (
  vend_id      TEXT NOT NULL,
  refund_key   TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
  points       INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
  reason       TEXT NOT NULL,
  created_ms   INTEGER NOT NULL,
  outbox_seq   INTEGER NOT NULL,
  PRIMARY KEY (vend_id, refund_key),
  CHECK (amount_cents > 0 OR points > 0)
) STRICT, WITHOUT ROWID;
INSERT INTO vend_adjustments_new (vend_id, refund_key, amount_cents, reason, created_ms, outbox_seq)
  SELECT vend_id, reason, amount_cents, reason, created_ms, outbox_seq FROM vend_adjustments;
DROP TABLE vend_adjustments;
ALTER TABLE vend_adjustments_new RENAME TO vend_adjustments;
CREATE TRIGGER vend_adjustments_no_update BEFORE UPDATE ON vend_adjustments
  BEGIN SELECT RAISE(ABORT, 'a refund of a captured vend is final'); END;
CREATE TRIGGER vend_adjustments_exposure AFTER INSERT ON vend_adjustments
  WHEN NEW.amount_cents > 0 AND EXISTS (SELECT 1 FROM vends v WHERE v.vend_id = NEW.vend_id AND v.funding = 'account' AND v.last_outbox_seq > ${ACKED})
  BEGIN
    INSERT INTO unsynced_exposure (account_id, cents)
      VALUES ((SELECT IFNULL(account_id, '') FROM vends WHERE vend_id = NEW.vend_id), -NEW.amount_cents)
      ON CONFLICT(account_id) DO UPDATE SET cents = cents + excluded.cents;
  END;

CREATE TABLE refund_intents (
  intent_id    TEXT PRIMARY KEY,
  vend_id      TEXT NOT NULL,
  machine_id   TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
  points       INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
  reason       TEXT NOT NULL,
  command      TEXT NOT NULL,
  evidence     TEXT NOT NULL,
  created_ms   INTEGER NOT NULL,
  CHECK (amount_cents > 0 OR points > 0)
) STRICT;
`,
};
