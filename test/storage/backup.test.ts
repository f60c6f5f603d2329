import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { cardHold, manualClock, openTestLedger, tempDir } from './helpers.js';

test('an online backup is an openable, consistent copy', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 'x', accountId: 'a', amountCents: 900, accountVersion: 1 });
    const h = l.hold(cardHold('a', 300));
    assert.ok(h.ok);
    l.applyCardList({ kind: 'full', version: 3, cards: [{ uid: '04A2B9C1D25E80', accountId: 'a', status: 'active' }] });
    const r = await l.backup(t.file('copy.db'));
    assert.ok(r.totalPages > 0);
    // The original keeps working after the copy.
    l.appendAlert({ code: 'after_backup' });
    const copy = openTestLedger(t.file('copy.db'));
    try {
      assert.equal(copy.integrityCheck().ok, true);
      assert.equal(copy.verifyAudit().ok, true);
      assert.equal(copy.balance('a')?.balanceCents, 600);
      assert.equal(copy.lookupCard('04A2B9C1D25E80')?.accountId, 'a');
      assert.equal(copy.getVend(h.vendId)?.state, 'held');
      assert.equal(copy.auditHead().seq, l.auditHead().seq - 1);
    } finally {
      copy.close();
    }
  } finally {
    l.close();
    t.cleanup();
  }
});

test('integrity check and stats', () => {
  const t = tempDir();
  const path = t.file('l.db');
  const l = openTestLedger(path);
  try {
    assert.deepEqual(l.integrityCheck(), { ok: true, messages: ['ok'], foreignKeyViolations: 0 });
    assert.deepEqual(l.integrityCheck({ quick: true }), { ok: true, messages: ['ok'], foreignKeyViolations: 0 });
    l.hold(cardHold('a', 0));
    const s = l.stats();
    assert.equal(s.vends, 1);
    assert.equal(s.unfinishedVends, 1);
    assert.equal(s.auditRecords, 1);
    assert.ok(s.fileBytes > 0 && s.pageSize > 0 && s.pageCount > 0);
    assert.ok(existsSync(path));
  } finally {
    l.close();
    t.cleanup();
  }
});

test('settings: strings, numbers, counters and a time floor that never goes back', () => {
  const t = tempDir();
  const path = t.file('l.db');
  const clock = manualClock(1_000_000);
  let l = openTestLedger(path, { clock });
  try {
    assert.equal(l.getSetting('missing'), undefined);
    l.setSetting('room.name', 'Basement');
    l.setNumberSetting('price.factor', 1.5);
    assert.equal(l.incrementSetting('counter.swipes'), 1);
    assert.equal(l.incrementSetting('counter.swipes', 4), 5);
    assert.equal(l.timeFloorMs(), 0);
    assert.equal(l.raiseTimeFloor(2_000_000), 2_000_000);
    assert.equal(l.raiseTimeFloor(1_500_000), 2_000_000);
    // Behind the floor: records say the clock is not trusted.
    l.appendAlert({ code: 'clock_behind' });
    assert.equal(l.readAudit(1, 1)[0]?.clockTrusted, false);
    clock.set(3_000_000);
    l.appendAlert({ code: 'clock_ok' });
    assert.equal(l.readAudit(2, 1)[0]?.clockTrusted, true);
    l.close();
    l = openTestLedger(path, { clock });
    assert.equal(l.getSetting('room.name'), 'Basement');
    assert.equal(l.getNumberSetting('price.factor'), 1.5);
    assert.equal(l.getNumberSetting('counter.swipes'), 5);
    assert.equal(l.timeFloorMs(), 2_000_000);
    assert.throws(() => l.setNumberSetting('x', Number.NaN));
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a damaged file does not pass the integrity check', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    const l = openTestLedger(path);
    l.applyCardList({ kind: 'full', version: 1, cards: Array.from({ length: 2000 }, (_, n) => ({ uid: `DD${String(n).padStart(6, '0')}`, accountId: `a${n % 7}`, status: 'active' as const })) });
    const pageSize = l.stats().pageSize;
    const pages = l.stats().pageCount;
    l.close();
    const fd = openSync(path, 'r+');
    try {
      // Scribble over one of the last pages (the card list's), b-tree page header included.
      writeSync(fd, Buffer.alloc(pageSize / 2, 0xa5), 0, pageSize / 2, (pages - 3) * pageSize);
    } finally {
      closeSync(fd);
    }
    let verdict: boolean;
    try {
      const damaged = openTestLedger(path);
      try {
        verdict = damaged.integrityCheck().ok;
      } finally {
        damaged.close();
      }
    } catch {
      verdict = false; // refusing to open is also an acceptable way to say it
    }
    assert.equal(verdict, false);
  } finally {
    t.cleanup();
  }
});
