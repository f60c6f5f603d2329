// Numbered schema migrations. Each runs in its own transaction together with the bump of
// PRAGMA user_version, so a crash mid-migration leaves the previous schema whole.
// Never edit a migration that has shipped: add the next one.
import { migration7 } from './migration-7-outbox-id.js';
import { migration8 } from './migration-8-exposure-index.js';
import { migration9 } from './migration-9-exposure-tally.js';
import type { Migration } from './migration.js';
import { migration10 } from './migration-10-exposure-fault-refunds.js';
import { migration11 } from './migration-11-secure-cards.js';
import { migration12 } from './migration-12-refund-intents.js';
import { migration13 } from './migration-13-money-chain.js';
import { migration14 } from './migration-14-hot-path-indexes.js';

export type { Migration };

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
-- Small internal counters and anchors (outbox seq, audit head, card list version).
-- Kept apart from operator settings so a settings write can never move a counter.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;

-- The cloud's last snapshot of each account. version 0 = never seen a snapshot.
-- covered_seq: the highest outbox seq of this gateway the snapshot already includes.
CREATE TABLE accounts (
  account_id      TEXT PRIMARY KEY,
  version         INTEGER NOT NULL CHECK (version >= 0),
  balance_cents   INTEGER NOT NULL,
  points          INTEGER NOT NULL,
  tier            TEXT NOT NULL,
  covered_seq     INTEGER NOT NULL CHECK (covered_seq >= 0),
  snapshot_ms     INTEGER NOT NULL
) STRICT;

-- Append-only money and points movements. A balance is the snapshot plus the entries it
-- does not cover; nothing here is ever updated or deleted (triggers below).
CREATE TABLE entries (
  entry_id        INTEGER PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(account_id),
  kind            TEXT NOT NULL CHECK (kind IN ('hold', 'capture', 'refund', 'topup', 'points')),
  amount_cents    INTEGER NOT NULL,
  points          INTEGER NOT NULL DEFAULT 0,
  vend_id         TEXT REFERENCES vends(vend_id),
  cloud_id        TEXT UNIQUE,
  account_version INTEGER,
  outbox_seq      INTEGER NOT NULL,
  created_ms      INTEGER NOT NULL
) STRICT;
CREATE INDEX entries_account ON entries(account_id, outbox_seq);
CREATE INDEX entries_vend ON entries(vend_id);
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;

-- Card UIDs only as HMAC-SHA-256(roomSecret, uid): a copied file hands out no card numbers.
CREATE TABLE cards (
  uid_hash    BLOB PRIMARY KEY,
  account_id  TEXT NOT NULL REFERENCES accounts(account_id),
  status      TEXT NOT NULL CHECK (status IN ('active', 'lost', 'blocked')),
  version     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Operator's local status, kept apart so that a full list from the cloud does not undo it.
CREATE TABLE card_overrides (
  uid_hash    BLOB PRIMARY KEY,
  status      TEXT NOT NULL CHECK (status IN ('lost', 'blocked')),
  set_ms      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE vends (
  vend_id          TEXT PRIMARY KEY,
  created_ms       INTEGER NOT NULL,
  created_mono_ms  INTEGER NOT NULL,
  boot_id          TEXT NOT NULL,
  method           TEXT NOT NULL CHECK (method IN ('card', 'qr', 'remote', 'service')),
  funding          TEXT NOT NULL CHECK (funding IN ('account', 'token', 'none')),
  machine_id       TEXT NOT NULL,
  program          INTEGER,
  account_id       TEXT REFERENCES accounts(account_id),
  card_mask        TEXT,
  amount_cents     INTEGER NOT NULL CHECK (amount_cents >= 0),
  token_id         TEXT,
  token_amount_cents INTEGER,
  rule_set_version TEXT NOT NULL,
  rule_id          TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('held', 'credit_sent', 'captured', 'refunded')),
  credit_evidence  TEXT,
  credit_sent_ms   INTEGER,
  finished_ms      INTEGER,
  captured_cents   INTEGER,
  refunded_cents   INTEGER,
  finish_reason    TEXT,
  CHECK (funding != 'account' OR account_id IS NOT NULL),
  CHECK (captured_cents IS NULL OR refunded_cents IS NULL)
) STRICT;
CREATE INDEX vends_unfinished ON vends(state) WHERE state IN ('held', 'credit_sent');
CREATE INDEX vends_created ON vends(created_ms);
-- Defence in depth: a finished vend never changes again, whatever the code above does.
CREATE TRIGGER vends_finished_frozen BEFORE UPDATE ON vends
  WHEN OLD.state IN ('captured', 'refunded')
  BEGIN SELECT RAISE(ABORT, 'vend already finished'); END;
CREATE TRIGGER vends_no_delete BEFORE DELETE ON vends
  BEGIN SELECT RAISE(ABORT, 'vends are never deleted'); END;

CREATE TABLE used_tokens (
  token_id   TEXT PRIMARY KEY,
  exp_sec    INTEGER NOT NULL,
  vend_id    TEXT NOT NULL,
  used_ms    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX used_tokens_exp ON used_tokens(exp_sec);

-- Hash-chained audit trail; seq is 1, 2, 3, ... with no gaps.
CREATE TABLE audit (
  seq            INTEGER PRIMARY KEY,
  wall_ms        INTEGER NOT NULL,
  mono_ms        INTEGER NOT NULL,
  boot_id        TEXT NOT NULL,
  clock_trusted  INTEGER NOT NULL CHECK (clock_trusted IN (0, 1)),
  kind           TEXT NOT NULL,
  method         TEXT,
  amount_cents   INTEGER,
  account_id     TEXT,
  card_mask      TEXT,
  machine_id     TEXT,
  program        INTEGER,
  result         TEXT NOT NULL,
  reason         TEXT,
  vend_id        TEXT,
  detail         TEXT,
  prev_hash      TEXT NOT NULL,
  hash           TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

-- Transactional outbox: seq assigned from meta 'outbox_last_seq', gap-free per gateway.
CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  type       TEXT NOT NULL,
  money      INTEGER NOT NULL CHECK (money IN (0, 1)),
  created_ms INTEGER NOT NULL,
  payload    TEXT NOT NULL
) STRICT;

CREATE TABLE outbox_dead (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  type       TEXT NOT NULL,
  money      INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  payload    TEXT NOT NULL,
  dead_ms    INTEGER NOT NULL,
  reason     TEXT NOT NULL
) STRICT;
CREATE TRIGGER outbox_dead_no_delete BEFORE DELETE ON outbox_dead
  BEGIN SELECT RAISE(ABORT, 'dead letters are kept'); END;
`,
  },
  {
    version: 2,
    sql: `
-- The seq of the vend's latest outbox record: the vend is acknowledged by the cloud once the ack
-- watermark reaches it (offline exposure for the risk caps). Rows from before count as synced.
ALTER TABLE vends ADD COLUMN last_outbox_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX vends_last_outbox_seq ON vends(last_outbox_seq);
`,
  },
  {
    version: 3,
    sql: `
-- Retention (storage/retention.ts): the outbox record that carried each audit record, so the
-- acknowledged prefix of the trail is known; the trail is then verified from an anchor
-- (meta audit_anchor_seq / audit_anchor_hash) instead of the genesis. Not part of the hash.
ALTER TABLE audit ADD COLUMN outbox_seq INTEGER;
CREATE INDEX audit_vend ON audit(vend_id) WHERE vend_id IS NOT NULL;
CREATE INDEX audit_outbox_seq ON audit(outbox_seq);
-- Deletes stay impossible except below the anchor (audit) or inside pruneHistory (meta
-- 'pruning' is set only within its own transaction, never committed).
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  WHEN OLD.seq > COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'audit_anchor_seq'), 0)
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
DROP TRIGGER entries_no_delete;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'pruning' AND value = '1')
  BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
DROP TRIGGER vends_no_delete;
CREATE TRIGGER vends_no_delete BEFORE DELETE ON vends
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'pruning' AND value = '1')
  BEGIN SELECT RAISE(ABORT, 'vends are never deleted'); END;
`,
  },
  {
    version: 4,
    sql: `
-- Part of a captured vend's price given back when a machine fault cut its cycle short
-- (refundCaptured). At most one per vend (the primary key); the vend row itself stays frozen.
-- No foreign key: retention may prune the vend, which leaves a row no query reads.
CREATE TABLE vend_adjustments (
  vend_id      TEXT PRIMARY KEY,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  reason       TEXT NOT NULL,
  created_ms   INTEGER NOT NULL,
  outbox_seq   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TRIGGER vend_adjustments_no_update BEFORE UPDATE ON vend_adjustments
  BEGIN SELECT RAISE(ABORT, 'a fault refund is final'); END;
`,
  },
  {
    version: 5,
    sql: `
-- Pricing reads an account's usage (accountUsage): when the tenant's lease began (from the
-- cloud's snapshot; NULL = not known), and the machine kind each vend was for, so washes can be
-- told from dryer vends. Rows from before this migration have no kind and count as neither.
ALTER TABLE accounts ADD COLUMN member_since_ms INTEGER;
ALTER TABLE vends ADD COLUMN machine_kind TEXT CHECK (machine_kind IS NULL OR machine_kind IN ('washer', 'dryer'));
-- A swipe counts the account's captured vends: this index covers that query (vend_id for the
-- fault-refund check), so it reads only that account's captured rows however long the history.
CREATE INDEX vends_account_usage ON vends(account_id, machine_kind, created_ms, vend_id) WHERE state = 'captured';
`,
  },
  {
    version: 6,
    sql: `
-- Retention deletes old vends, and accountUsage counts vends: what pruning removes that would
-- have counted is tallied here per account and kind ('' = no kind, rows from before migration
-- 5), so lifetime counts (every-Nth-free) survive pruning.
CREATE TABLE account_usage_pruned (
  account_id   TEXT NOT NULL,
  machine_kind TEXT NOT NULL CHECK (machine_kind IN ('washer', 'dryer', '')),
  vends        INTEGER NOT NULL CHECK (vends >= 0),
  PRIMARY KEY (account_id, machine_kind)
) STRICT, WITHOUT ROWID;
`,
  },
  migration7,
  migration8,
  migration9,
  migration10,
  migration11,
  migration12,
  migration13,
  migration14,
];
