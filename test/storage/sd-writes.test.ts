// What the ledger writes to the SD card: a setting written again with the value it already has
// is not written (no commit, no WAL pages, no fsync: the risk state is saved after every swipe,
// mostly unchanged), a new ledger file uses 1 KiB pages while an existing file keeps its own, and
// the daemon's background checkpoints wait for 8 MiB of WAL, not SQLite's 1 000 frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { NEW_LEDGER_PAGE_SIZE } from '../../storage/db.js';
import { CHECKPOINT_WAL_BYTES, walFramesIn } from '../../storage/index.js';
import { openTestLedger, tempDir } from './helpers.js';

test('setSetting skips an unchanged value and writes a changed one', () => {
  const t = tempDir();
  try {
    const path = t.file('ledger.db');
    const ledger = openTestLedger(path);
    const wal = (): number => statSync(`${path}-wal`).size;
    ledger.setSetting('k', 'v1');
    const written = wal();
    for (let i = 0; i < 20; i++) ledger.setSetting('k', 'v1');
    assert.equal(wal(), written, 'the same value 20 times added nothing to the WAL');
    assert.equal(ledger.getSetting('k'), 'v1');
    ledger.setSetting('k', 'v2');
    assert.ok(wal() > written, 'a new value is written');
    assert.equal(ledger.getSetting('k'), 'v2');
    ledger.close();
  } finally {
    t.cleanup();
  }
});

test('a new ledger has 1 KiB pages; a file made with 4 KiB pages keeps them, and its data', () => {
  const t = tempDir();
  try {
    const fresh = t.file('new.db');
    openTestLedger(fresh).close();
    const pageSize = (p: string): number => {
      const db = new Database(p, { readonly: true });
      try {
        return Number(db.pragma('page_size', { simple: true }));
      } finally {
        db.close();
      }
    };
    assert.equal(pageSize(fresh), NEW_LEDGER_PAGE_SIZE);

    const old = t.file('old.db');
    const db = new Database(old);
    db.pragma('page_size = 4096');
    db.exec('CREATE TABLE before_ledger (x INTEGER)');
    db.close();
    const ledger = openTestLedger(old);
    ledger.setSetting('kept', 'yes');
    ledger.close();
    assert.equal(pageSize(old), 4096);
    const again = openTestLedger(old);
    assert.equal(again.getSetting('kept'), 'yes');
    again.close();
  } finally {
    t.cleanup();
  }
});

test('background checkpoints wait for 8 MiB of WAL: ~8 000 frames of 1 KiB pages, ~2 000 of 4 KiB', () => {
  assert.equal(walFramesIn(CHECKPOINT_WAL_BYTES, 1024), 8004);
  assert.equal(walFramesIn(CHECKPOINT_WAL_BYTES, 4096), 2036);
  const t = tempDir('ledger-', true);
  const l = openTestLedger(t.file('l.db'), { backgroundCheckpoints: {} });
  try {
    const cp = l.walCheckpoints;
    assert.ok(cp !== null);
    let n = 0;
    while (cp.pending() < 1500) l.applyTopUp({ cloudId: `t-${n}`, accountId: `acct-${n % 7}`, amountCents: 100, accountVersion: ++n });
    assert.equal(cp.tick(), null, `${cp.pending()} frames wait: below 8 MiB, no checkpoint (SQLite's own would have run at 1 000)`);
    assert.equal(cp.counts.background + cp.counts.onLoop, 0);
  } finally {
    l.close();
    t.cleanup();
  }
});
