// Migration 14 (storage/migration-14-hot-path-indexes.ts): the indexes a vend's money steps
// rewrite, cut for the SD card's write budget, while every query keeps the plan it had. The
// queries below are those of storage/ that read vends, entries and audit by an index (found by
// logging every statement of test/storage and asking SQLite for its plan); a change there must
// be reflected here. The tally's triggers skip an update that changes nothing; vend ids in time
// order. Also: a ledger of the schema before upgrades with its rows, chains and
// guarantees whole, and code that knows only the older schema refuses the upgraded file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { silentLogger } from '../../gateway/core/log.js';
import { applyTopUp } from '../../storage/accounts.js';
import type { LedgerContext } from '../../storage/context.js';
import type { Db } from '../../storage/db.js';
import { openDatabase } from '../../storage/db.js';
import { unsyncedExposureScan } from '../../storage/exposure.js';
import { MIGRATIONS } from '../../storage/migrations.js';
import { timeOrderedUuid } from '../../storage/vend-id.js';
import { capture, hold, markCreditSent, refund, unsyncedExposure } from '../../storage/vends.js';
import { GATEWAY_ID, manualClock, openTestLedger, ROOM_SECRET, tempDir } from './helpers.js';

function indexes(db: Db, table: string): string[] {
  const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name").all(table) as Array<{ name: string }>;
  return rows.map((r) => r.name);
}

function plan(db: Db, sql: string, ...args: unknown[]): string {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>;
  return rows.map((r) => r.detail).join(' | ');
}

test('the hot tables keep only the indexes a query reads', () => {
  const t = tempDir('ledger-', true);
  const db = openDatabase({ path: t.file('l.db'), logger: silentLogger() });
  try {
    assert.deepEqual(indexes(db, 'vends'), ['sqlite_autoindex_vends_1', 'vends_account_usage', 'vends_unfinished', 'vends_unsynced_cost']);
    assert.deepEqual(indexes(db, 'entries'), ['entries_account', 'entries_cloud_id', 'entries_vend']);
    assert.deepEqual(indexes(db, 'audit'), ['audit_vend']);
  } finally {
    db.close();
    t.cleanup();
  }
});

/** [query, the plan it must have] for each query that read an index before migration 14. */
const PLANS: Array<[string, unknown[], RegExp]> = [
  // By id: every step of a vend (getVend), retention's delete.
  ['SELECT * FROM vends WHERE vend_id = ?', ['v'], /SEARCH vends USING INDEX sqlite_autoindex_vends_1 \(vend_id=\?\)/],
  // Start-up reconciliation and the backup's count: the open vends only.
  ["SELECT * FROM vends WHERE state IN ('held', 'credit_sent') ORDER BY rowid", [], /vends_unfinished/],
  // The ack: vends its watermark passes (storage/exposure.ts exposureLeaving).
  [
    `SELECT IFNULL(account_id, '') AS account, SUM(CASE state WHEN 'captured' THEN captured_cents WHEN 'refunded' THEN amount_cents - refunded_cents ELSE amount_cents END) AS cents
       FROM vends WHERE funding = 'account' AND last_outbox_seq > ? AND last_outbox_seq <= ? GROUP BY 1`,
    [1, 2],
    /SEARCH vends USING COVERING INDEX vends_unsynced_cost \(last_outbox_seq>\? AND last_outbox_seq<\?\)/,
  ],
  // A swipe's usage count (storage/usage.ts).
  [
    "SELECT COUNT(*) FROM vends v WHERE v.account_id = ? AND v.state = 'captured' AND v.created_ms >= ?",
    ['a', 0],
    /SEARCH v USING COVERING INDEX vends_account_usage \(account_id=\?\)/,
  ],
  // A top-up delivered again is found by its cloud id (storage/accounts.ts applyTopUp).
  ['SELECT account_id FROM entries WHERE cloud_id = ?', ['t'], /SEARCH entries USING INDEX entries_cloud_id \(cloud_id=\?\)/],
  ['SELECT 1 FROM entries WHERE cloud_id = ?', ['t'], /SEARCH entries USING (COVERING )?INDEX entries_cloud_id \(cloud_id=\?\)/],
  // A balance: the snapshot plus the entries it does not cover.
  [
    'SELECT a.balance_cents + COALESCE(SUM(e.amount_cents), 0) FROM accounts a LEFT JOIN entries e ON e.account_id = a.account_id AND e.outbox_seq > a.covered_seq WHERE a.account_id = ?',
    ['a'],
    /SEARCH e USING INDEX entries_account \(account_id=\? AND outbox_seq>\?\)/,
  ],
  ["SELECT -SUM(points) AS p FROM entries WHERE vend_id = ? AND kind = 'hold'", ['v'], /SEARCH entries USING INDEX entries_vend \(vend_id=\?\)/],
  // Retention: a vend's entries, then the vend.
  ['DELETE FROM entries WHERE vend_id = ? RETURNING entry_id', ['v'], /SEARCH entries USING COVERING INDEX entries_vend \(vend_id=\?\)/],
  // The self-check's per-vend sums read audit by vend.
  ['SELECT vend_id, COUNT(*) FROM audit WHERE vend_id IS NOT NULL GROUP BY vend_id', [], /audit_vend/],
];

test('every query keeps its index after migration 14', () => {
  const t = tempDir('ledger-', true);
  const db = openDatabase({ path: t.file('l.db'), logger: silentLogger() });
  try {
    for (const [sql, args, want] of PLANS) {
      const p = plan(db, sql, ...args);
      assert.match(p, want, `${sql}\n  → ${p}`);
    }
    // Retention's prune (daily) matched every acknowledged vend through vends_last_outbox_seq
    // (last_outbox_seq <= the watermark: nearly all of them), a scan in index order plus a row
    // lookup each; it now scans the table, which it read whole before too.
    const prune = plan(
      db,
      `SELECT v.vend_id AS id FROM vends v LEFT JOIN accounts a ON a.account_id = v.account_id
        WHERE v.state IN ('captured', 'refunded') AND v.finished_ms < ? AND v.last_outbox_seq <= ?
          AND (NOT EXISTS (SELECT 1 FROM entries e WHERE e.vend_id = v.vend_id) OR v.last_outbox_seq <= a.covered_seq)`,
      0,
      0,
    );
    assert.match(prune, /SCAN v/, prune);
    assert.match(prune, /entries_vend/, prune);
    // Retention's first unacknowledged audit record: the table in seq order, stopping at the
    // first match, as before (audit_outbox_seq, dropped, was never in this plan).
    const firstUnacked = plan(db, 'SELECT MIN(seq) AS seq FROM audit WHERE outbox_seq IS NULL OR outbox_seq > ?', 0);
    assert.equal(firstUnacked, 'SEARCH audit');
  } finally {
    db.close();
    t.cleanup();
  }
});

test('a ledger of schema 13 upgrades with its entries, chains and guarantees; code of schema 13 refuses it after', () => {
  const t = tempDir();
  try {
    const before14 = MIGRATIONS.filter((m) => m.version < 14);
    // Money written by the ledger, then the file taken back to schema 13 as that code left it.
    const old = t.file('old.db');
    const l = openTestLedger(old);
    assert.equal(l.applyTopUp({ cloudId: 'top-1', accountId: 'acct-a', amountCents: 1000, accountVersion: 2 }).applied, true);
    const v = l.hold({ method: 'card', funding: 'account', machineId: 'W1', amountCents: 250, accountId: 'acct-a', ruleSetVersion: '1', ruleId: 'r' });
    assert.ok(v.ok && l.markCreditSent(v.vendId, { seq: 1 }).ok && l.capture(v.vendId, { amountCents: 200 }).ok);
    l.close();
    const db13 = openDatabase({ path: old, logger: silentLogger() });
    db13.exec(`
      CREATE INDEX vends_created ON vends(created_ms);
      CREATE INDEX vends_last_outbox_seq ON vends(last_outbox_seq);
      CREATE INDEX audit_outbox_seq ON audit(outbox_seq);
      CREATE TABLE entries_v13 (
        entry_id INTEGER PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(account_id),
        kind TEXT NOT NULL CHECK (kind IN ('hold', 'capture', 'refund', 'topup', 'points')), amount_cents INTEGER NOT NULL,
        points INTEGER NOT NULL DEFAULT 0, vend_id TEXT REFERENCES vends(vend_id), cloud_id TEXT UNIQUE, account_version INTEGER,
        outbox_seq INTEGER NOT NULL, created_ms INTEGER NOT NULL) STRICT;
      INSERT INTO entries_v13 SELECT * FROM entries;
      DROP TABLE entries;
      ALTER TABLE entries_v13 RENAME TO entries;
      CREATE INDEX entries_account ON entries(account_id, outbox_seq);
      CREATE INDEX entries_vend ON entries(vend_id);
      CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
      PRAGMA user_version = 13;
    `);
    const rowsOf = (d: Db): unknown[] => d.prepare('SELECT * FROM entries ORDER BY entry_id').all();
    const rows13 = rowsOf(db13);
    assert.equal(rows13.length, 3);
    assert.deepEqual(indexes(db13, 'entries'), ['entries_account', 'entries_vend', 'sqlite_autoindex_entries_1']);
    db13.close();

    const ledger = openTestLedger(old);
    try {
      assert.equal(ledger.balance('acct-a')?.balanceCents, 800);
      // The same top-up again is refused by its cloud id, as before.
      const again = ledger.applyTopUp({ cloudId: 'top-1', accountId: 'acct-a', amountCents: 1000, accountVersion: 2 });
      assert.equal(again.applied, false);
      // A new vend's money lands, and the chains and the self-check hold over old and new rows.
      const h = ledger.hold({ method: 'card', funding: 'account', machineId: 'W1', amountCents: 300, accountId: 'acct-a', ruleSetVersion: '1', ruleId: 'r' });
      assert.ok(h.ok);
      assert.equal(ledger.balance('acct-a')?.balanceCents, 500);
      assert.deepEqual(ledger.selfCheck().problems, []);
      assert.equal(ledger.verifyAudit().ok, true);
    } finally {
      ledger.close();
    }
    const raw = new Database(old);
    try {
      assert.equal(raw.pragma('user_version', { simple: true }), 14);
      assert.deepEqual(indexes(raw, 'entries'), ['entries_account', 'entries_cloud_id', 'entries_vend']);
      assert.deepEqual(indexes(raw, 'audit'), ['audit_vend']);
      assert.deepEqual(indexes(raw, 'vends'), ['sqlite_autoindex_vends_1', 'vends_account_usage', 'vends_unfinished', 'vends_unsynced_cost']);
      assert.deepEqual(rowsOf(raw).slice(0, 3), rows13, 'the rows of schema 13, ids and all');
      assert.throws(() => raw.prepare("INSERT INTO entries (account_id, kind, amount_cents, cloud_id, outbox_seq, created_ms) VALUES ('acct-a', 'topup', 1, 'top-1', 99, 9)").run(), /UNIQUE/);
      assert.throws(() => raw.prepare('UPDATE entries SET amount_cents = 0 WHERE entry_id = 1').run(), /append-only/);
      assert.throws(() => raw.prepare('DELETE FROM entries WHERE entry_id = 1').run(), /append-only/);
      assert.throws(() => raw.prepare("INSERT INTO entries (account_id, kind, amount_cents, vend_id, outbox_seq, created_ms) VALUES ('acct-a', 'hold', 1, 'nope', 9, 9)").run(), /FOREIGN KEY/);
    } finally {
      raw.close();
    }
    // The daemon of schema 13 (a downgrade) refuses the file rather than run on a schema it does not know.
    assert.throws(() => openDatabase({ path: old, logger: silentLogger(), migrations: before14 }), /schema|version|newer/i);
  } finally {
    t.cleanup();
  }
});

test("the exposure tally's page is written only when a vend's cost or count changes", () => {
  const t = tempDir('ledger-', true);
  const ctx: LedgerContext = { db: openDatabase({ path: t.file('l.db'), logger: silentLogger() }), clock: manualClock(), logger: silentLogger(), gatewayId: GATEWAY_ID, bootId: 'b', roomSecret: ROOM_SECRET, clockTrusted: () => true };
  try {
    applyTopUp(ctx, { cloudId: 't', accountId: 'acct-a', amountCents: 100_000, accountVersion: 1 });
    ctx.db.exec(`CREATE TEMP TABLE tally_writes (n INTEGER);
      CREATE TEMP TRIGGER tally_ins AFTER INSERT ON main.unsynced_exposure BEGIN INSERT INTO tally_writes VALUES (1); END;
      CREATE TEMP TRIGGER tally_upd AFTER UPDATE ON main.unsynced_exposure BEGIN INSERT INTO tally_writes VALUES (1); END;`);
    const writes = (fn: () => unknown): number => {
      ctx.db.exec('DELETE FROM tally_writes');
      fn();
      return (ctx.db.prepare('SELECT COUNT(*) AS n FROM tally_writes').get() as { n: number }).n;
    };
    const held = (cents: number): string => {
      const h = hold(ctx, { method: 'card', funding: 'account', machineId: 'W1', amountCents: cents, accountId: 'acct-a', ruleSetVersion: '1', ruleId: 'r' });
      assert.ok(h.ok);
      return h.vendId;
    };
    let v = '';
    assert.equal(writes(() => (v = held(300))), 1, 'the hold counts');
    assert.equal(writes(() => markCreditSent(ctx, v, { seq: 1 })), 0, 'the evidence changes no cost');
    assert.equal(writes(() => capture(ctx, v)), 0, 'a full capture changes no cost');
    const w = held(400);
    markCreditSent(ctx, w, { seq: 2 });
    assert.equal(writes(() => capture(ctx, w, { amountCents: 250 })), 2, 'a partial capture: out at 400, in at 250');
    assert.equal(writes(() => refund(ctx, held(100), { reason: 'machine_offline' })), 3, 'hold, then out at 100 and in at 0');
    assert.deepEqual(unsyncedExposure(ctx, 'acct-a'), { accountCents: 550, roomCents: 550 });
    assert.deepEqual(unsyncedExposureScan(ctx, 'acct-a'), { accountCents: 550, roomCents: 550 });
  } finally {
    ctx.db.close();
    t.cleanup();
  }
});

test('vend ids are UUIDs in time order, unique whatever the clock', () => {
  const ids = [0, 1, 1, 1, 2, 1_765_000_000_000, 1_765_000_000_001].map((ms) => timeOrderedUuid(ms));
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids[4] !== undefined && ids[5] !== undefined && ids[6] !== undefined && ids[4] < ids[5] && ids[5] < ids[6]);
  assert.equal(timeOrderedUuid(1_765_000_000_000).slice(0, 13), ids[5]?.slice(0, 13));
});
